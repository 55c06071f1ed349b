package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/kubectl-verify/kubectl-verify/internal/wildcard"
)

// trust sets what a signature must verify against, as Kyverno's buildCosignOptions does,
// with its error texts.
func (v *Verifier) trust(ctx context.Context, c SignatureCheck, hash crypto.Hash, co *cosign.CheckOpts) error {
	if c.Roots != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.Roots)) {
			return &FailedError{fmt.Errorf("failed to load Root certificates: error creating root cert pool")}
		}
		co.RootCerts = pool
	}
	switch {
	case c.PublicKey != "":
		var pub crypto.PublicKey
		var err error
		if ref := strings.TrimSpace(c.PublicKey); strings.HasPrefix(ref, "k8s://") {
			raw, err := v.secretKey(ctx, ref)
			if err != nil {
				return err
			}
			if pub, err = cryptoutils.UnmarshalPEMToPublicKey(raw); err != nil {
				return &FailedError{fmt.Errorf("failed to load public key from %s: %w", ref, err)}
			}
		} else if pub, err = cryptoutils.UnmarshalPEMToPublicKey([]byte(c.PublicKey)); err != nil {
			return &FailedError{fmt.Errorf("failed to load public key from PEM: pem to public key: %w", err)}
		}
		sv, err := signature.LoadVerifier(pub, hash)
		if err != nil {
			return &FailedError{fmt.Errorf("failed to load public key from PEM: %w", err)}
		}
		co.SigVerifier = sv
	case c.Certificate != "":
		cert, err := loadCert(c.Certificate)
		if err != nil {
			return &FailedError{fmt.Errorf("failed to load certificate from %s: %w", c.Certificate, err)}
		}
		if c.CertificateChain == "" {
			sv, err := signature.LoadVerifier(cert.PublicKey, hash)
			if err != nil {
				return &FailedError{fmt.Errorf("failed to load signature from certificate: %w", err)}
			}
			co.SigVerifier = sv
			return nil
		}
		chain, err := cryptoutils.LoadCertificatesFromPEM(strings.NewReader(c.CertificateChain))
		if err != nil {
			return &FailedError{fmt.Errorf("failed to load certificate chain: %w", err)}
		}
		if co.SigVerifier, err = cosign.ValidateAndUnpackCertWithChain(cert, chain, co); err != nil {
			return &FailedError{fmt.Errorf("failed to load validate certificate chain: %w", err)}
		}
	case c.CertificateChain != "":
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.CertificateChain)) {
			return &FailedError{fmt.Errorf("failed to load certificates: error creating root cert pool")}
		}
		co.RootCerts = pool
	case c.Keyless && co.RootCerts == nil:
		if v.Trust == nil || v.Trust.FulcioPEM == "" {
			return errNeedsPublicTrust("Fulcio roots for keyless verification")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(v.Trust.FulcioPEM)) {
			return &FailedError{fmt.Errorf("failed to initialize roots")}
		}
		co.RootCerts = pool
	}
	return nil
}

// loadCert takes a PEM certificate, or the same base64-encoded.
func loadCert(s string) (*x509.Certificate, error) {
	raw := []byte(s)
	if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
		raw = dec
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal certificate from PEM format: %w", err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certs found in pem file")
	}
	return certs[0], nil
}

// matchSignatures is Kyverno's identity check after cosign: one signature whose certificate
// matches subject and issuer is enough.
func matchSignatures(sigs []oci.Signature, c SignatureCheck) error {
	if c.Subject == "" && c.SubjectRegExp == "" && c.Issuer == "" && c.IssuerRegExp == "" && len(c.Extensions) == 0 {
		return nil
	}
	var errs []string
	for _, sig := range sigs {
		cert, err := sig.Cert()
		if err != nil {
			return fmt.Errorf("failed to read certificate: %w", err)
		}
		if cert == nil {
			return fmt.Errorf("certificate not found")
		}
		if err := matchCertificate(cert, c); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return fmt.Errorf("invalid signature")
}

func matchCertificate(cert *x509.Certificate, c SignatureCheck) error {
	if c.Subject != "" || c.SubjectRegExp != "" {
		// Quirk kept: a certificate without SANs skips the subject check.
		if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
			matched := false
			for _, s := range sans {
				if c.Subject != "" && wildcard.Match(c.Subject, s) {
					matched = true
				}
			}
			if c.SubjectRegExp != "" {
				re, err := regexp.Compile(c.SubjectRegExp)
				if err != nil {
					return fmt.Errorf("invalid regexp for subject: %s : %w", c.SubjectRegExp, err)
				}
				for _, s := range sans {
					if re.MatchString(s) {
						matched = true
					}
				}
			}
			if !matched {
				want := c.Subject
				if want == "" {
					want = c.SubjectRegExp
				}
				return fmt.Errorf("subject mismatch: expected %s, received %s", want, strings.Join(sans, ", "))
			}
		}
	}
	ce := cosign.CertExtensions{Cert: cert}
	if c.Issuer != "" || c.IssuerRegExp != "" {
		got := ce.GetIssuer()
		if c.Issuer != "" && !wildcard.Match(c.Issuer, got) {
			return fmt.Errorf("issuer mismatch: expected %s, received %s", c.Issuer, got)
		}
		if c.IssuerRegExp != "" {
			re, err := regexp.Compile(c.IssuerRegExp)
			if err != nil {
				return fmt.Errorf("invalid regexp for issuer: %s : %w", c.IssuerRegExp, err)
			}
			if !re.MatchString(got) {
				return fmt.Errorf("issuer mismatch: expected %s, received %s", c.IssuerRegExp, got)
			}
		}
	}
	// Kyverno ranges over a Go map here: with two mismatches, which one is reported varies.
	for key, want := range c.Extensions {
		got, err := certExtension(key, ce)
		if err != nil {
			return err
		}
		if !wildcard.Match(want, got) {
			return fmt.Errorf("extension mismatch: expected %s for key %s, received %s", want, key, got)
		}
	}
	return nil
}

// certExtension reads the extensions Kyverno accepts in additionalExtensions, by cosign's
// name or OID.
func certExtension(key string, ce cosign.CertExtensions) (string, error) {
	readers := []struct {
		oid  string
		read func() string
	}{
		{cosign.CertExtensionOIDCIssuer, ce.GetIssuer},
		{cosign.CertExtensionGithubWorkflowTrigger, ce.GetCertExtensionGithubWorkflowTrigger},
		{cosign.CertExtensionGithubWorkflowSha, ce.GetExtensionGithubWorkflowSha},
		{cosign.CertExtensionGithubWorkflowName, ce.GetCertExtensionGithubWorkflowName},
		{cosign.CertExtensionGithubWorkflowRepository, ce.GetCertExtensionGithubWorkflowRepository},
		{cosign.CertExtensionGithubWorkflowRef, ce.GetCertExtensionGithubWorkflowRef},
	}
	for _, r := range readers {
		if key == r.oid || key == cosign.CertExtensionMap[r.oid] {
			return r.read(), nil
		}
	}
	return "", fmt.Errorf("invalid certificate extension %s", key)
}
