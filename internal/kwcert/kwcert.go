// Package kwcert is Kubewarden's checks of a verify-image-signatures certificate: the host's
// is_certificate_trusted when settings are validated, and sigstore-rs' CertificateVerifier
// when a request is verified. They differ: see each.
package kwcert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

func parse(certPEM string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	return x509.ParseCertificate(block.Bytes)
}

func chainCerts(chain []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range chain {
		rest := []byte(p)
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 && len(chain) > 0 {
		return nil, errors.New("the certificate chain is not PEM")
	}
	return out, nil
}

// SettingsTrusted is the host's is_certificate_trusted (policy-evaluator callback_handler
// crypto.rs), which settings validation calls for each certificate: valid now, and trusted
// by the chain (its last certificate the anchor, the others intermediates) or, without a
// chain, by the system's (Mozilla's) roots. The errors are the host's reasons.
func SettingsTrusted(certPEM string, chain []string, now time.Time) error {
	cert, err := parse(certPEM)
	if err != nil {
		return fmt.Errorf("Certificate PEM data is not valid: %v", err) //nolint:staticcheck // the host's text
	}
	switch {
	case now.After(cert.NotAfter):
		return errors.New("Certificate is being used after its expiration date") //nolint:staticcheck // the host's text
	case now.Before(cert.NotBefore):
		return errors.New("Certificate is being used before its validity date") //nolint:staticcheck // the host's text
	}
	opts := x509.VerifyOptions{CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if len(chain) == 0 {
		if opts.Roots, err = x509.SystemCertPool(); err != nil {
			return fmt.Errorf("Certificate not trusted: %v", err) //nolint:staticcheck // the host's text
		}
	} else {
		certs, err := chainCerts(chain)
		if err != nil {
			return fmt.Errorf("Certificate not trusted: %v", err) //nolint:staticcheck // the host's text
		}
		opts.Roots, opts.Intermediates = x509.NewCertPool(), x509.NewCertPool()
		opts.Roots.AddCert(certs[len(certs)-1])
		for _, c := range certs[:len(certs)-1] {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := cert.Verify(opts); err != nil {
		return errors.New("Certificate is not trusted by the provided cert chain") //nolint:staticcheck // the host's text
	}
	return nil
}

// RequestTrusted is sigstore-rs' CertificateVerifier::from_der, which every request's
// verification builds: digital-signature key usage and code-signing extended key usage, a
// subject alternative name, not before its validity (an expired certificate is fine: the
// signatures must have been logged while it was valid), and with a chain, trusted by it (every
// chain certificate an anchor) for code signing now. The errors are sigstore-rs' texts.
func RequestTrusted(certPEM string, chain []string, now time.Time) (*x509.Certificate, error) {
	cert, err := parse(certPEM)
	if err != nil {
		return nil, fmt.Errorf("X.509 error: %v", err)
	}
	codeSigning := false
	for _, u := range cert.ExtKeyUsage {
		codeSigning = codeSigning || u == x509.ExtKeyUsageCodeSigning
	}
	switch {
	case cert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return nil, errors.New("Bundled certificate does not have digital signature key usage") //nolint:staticcheck // sigstore-rs' text
	case !codeSigning:
		return nil, errors.New("Bundled certificate does not have code signing extended key usage") //nolint:staticcheck // sigstore-rs' text
	case len(cert.DNSNames)+len(cert.EmailAddresses)+len(cert.IPAddresses)+len(cert.URIs) == 0:
		return nil, errors.New("Certificate without Subject Alternative Name") //nolint:staticcheck // sigstore-rs' text
	case now.Before(cert.NotBefore):
		return nil, fmt.Errorf("Certificate validity check failed: cannot be used before %s", cert.NotBefore.UTC().Format(time.RFC3339)) //nolint:staticcheck // sigstore-rs' text
	}
	if len(chain) == 0 {
		return cert, nil
	}
	certs, err := chainCerts(chain)
	if err != nil {
		return nil, fmt.Errorf("Certificate pool error: %v", err) //nolint:staticcheck // sigstore-rs' text
	}
	roots := x509.NewCertPool()
	for _, c := range certs {
		roots.AddCert(c)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		return nil, fmt.Errorf("Certificate pool error: %v", err) //nolint:staticcheck // sigstore-rs' text
	}
	return cert, nil
}
