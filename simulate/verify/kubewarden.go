package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"

	"github.com/kubectl-verify/kubectl-verify/internal/kwcert"
)

// KubewardenKeyCheck is verify-image-signatures' pubKeys entry as Kubewarden's host runs it
// (policy-evaluator verify_public_key over policy-fetcher): every key must have made a valid
// signature of the image that carries every annotation.
type KubewardenKeyCheck struct {
	// Image is the container's image as written.
	Image   string
	PubKeys []string
	// Annotations, nil when the settings have none (Kubewarden's message tells nil from {}).
	Annotations map[string]string
	Auth        Auth
}

// KubewardenResult is a passed check: the digest the image's reference resolves to, which the
// policy pins a tag to.
type KubewardenResult struct{ Digest string }

// VerifyKubewardenKeys runs a pubKeys check, once per run for the same question. Errors are
// the host's texts: "no signatures found for image: <ref> " when the image has no signature
// manifest, "Image verification failed: missing signatures ..." listing the unsatisfied keys,
// "failed to get image trusted layers: ..." when the registry cannot be read (then
// *UnavailableError).
func (v *Verifier) VerifyKubewardenKeys(ctx context.Context, c KubewardenKeyCheck) (KubewardenResult, error) {
	return v.kubewarden.Do(ctx, checkKey(c), func() (KubewardenResult, error) {
		if !c.diskCacheable() {
			return v.verifyKubewardenKeys(ctx, c)
		}
		return diskCached(ctx, v, "kubewarden-keys", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (KubewardenResult, error) { return v.verifyKubewardenKeys(ctx, c) })
	})
}

func (v *Verifier) verifyKubewardenKeys(ctx context.Context, c KubewardenKeyCheck) (KubewardenResult, error) {
	if len(c.PubKeys) == 0 {
		return KubewardenResult{}, &FailedError{errors.New("Must provide at least one pub key")} //nolint:staticcheck // the host's text
	}
	whole, dref, err := v.kubewardenDigest(ctx, c.Image, c.Auth)
	if err != nil {
		return KubewardenResult{}, err
	}
	digest := dref.DigestStr()
	var unsatisfied []KubewardenConstraint
	for _, key := range c.PubKeys {
		co, regOpts, unread, err := v.checkOpts(ctx, SignatureCheck{Image: dref.String(), PublicKey: key, Auth: c.Auth}, cosign.SimpleClaimVerifier)
		if err != nil {
			// A key the host cannot make a verifier of counts as unsatisfied.
			unsatisfied = append(unsatisfied, PubKeyConstraint{Key: key, Annotations: c.Annotations})
			continue
		}
		for k, val := range c.Annotations {
			co.Annotations[k] = val
		}
		co.RegistryClientOpts = regOpts
		_, _, err = cosign.VerifyImageSignatures(ctx, dref, co)
		var none *cosign.ErrNoSignaturesFound
		switch {
		case err == nil:
		case errors.As(err, &none):
			return KubewardenResult{}, &FailedError{fmt.Errorf("no signatures found for image: %s ", whole)}
		default:
			var u *UnavailableError
			if classified := classify(refusedWithout(err, unread)); errors.As(classified, &u) {
				return KubewardenResult{}, trustedLayersError(classified)
			}
			unsatisfied = append(unsatisfied, PubKeyConstraint{Key: key, Annotations: c.Annotations})
		}
	}
	if len(unsatisfied) > 0 {
		return KubewardenResult{}, &FailedError{errors.New(KubewardenMissingSignatures(unsatisfied))}
	}
	return KubewardenResult{Digest: digest}, nil
}

// kubewardenDigest is the host's triangulation: the image's reference as policy-fetcher
// writes it, and the digest it resolves to.
func (v *Verifier) kubewardenDigest(ctx context.Context, image string, a Auth) (string, name.Digest, error) {
	whole, err := KubewardenReference(image)
	if err != nil {
		return "", name.Digest{}, &FailedError{err}
	}
	ref, err := name.ParseReference(image, v.reg.nameOptions(image)...)
	if err != nil {
		return "", name.Digest{}, &FailedError{fmt.Errorf("Verification only works with OCI images: Not a valid oci image: %v", err)} //nolint:staticcheck // the host's text
	}
	if d, ok := ref.(name.Digest); ok {
		return whole, d, nil
	}
	digest, err := v.resolve(ctx, ref, a)
	if err != nil {
		return "", name.Digest{}, trustedLayersError(classify(err))
	}
	return whole, ref.Context().Digest(digest), nil
}

// KubewardenKeylessCheck is a keyless, keylessPrefix or githubActions entry as Kubewarden's
// host runs it: every constraint must be satisfied by some signature whose certificate chains
// to the Fulcio roots and whose Rekor bundle verifies (sigstore-rs drops a certificate-bearing
// signature otherwise), each carrying every annotation.
type KubewardenKeylessCheck struct {
	Image       string
	Constraints []KubewardenConstraint
	Annotations map[string]string
	Auth        Auth
}

// VerifyKubewardenKeyless runs a keyless check, once per run for the same question; the
// Fulcio roots and Rekor keys are the run's trust root (--trusted-root), which stands in for
// the Sigstore TUF data Kubewarden's host reads. Errors read as VerifyKubewardenKeys's.
func (v *Verifier) VerifyKubewardenKeyless(ctx context.Context, c KubewardenKeylessCheck) (KubewardenResult, error) {
	return v.kubewarden.Do(ctx, checkKey(c), func() (KubewardenResult, error) {
		return diskCached(ctx, v, "kubewarden-keyless", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (KubewardenResult, error) { return v.verifyKubewardenKeyless(ctx, c) })
	})
}

func (v *Verifier) verifyKubewardenKeyless(ctx context.Context, c KubewardenKeylessCheck) (KubewardenResult, error) {
	whole, dref, err := v.kubewardenDigest(ctx, c.Image, c.Auth)
	if err != nil {
		return KubewardenResult{}, err
	}
	// No signature verified (sigs nil): nothing satisfies any constraint.
	sigs, err := v.kubewardenLayers(ctx, SignatureCheck{Image: dref.String(), Keyless: true, Tlog: true, Auth: c.Auth}, c.Annotations, dref, whole)
	if err != nil {
		return KubewardenResult{}, err
	}
	var unsatisfied []KubewardenConstraint
	for _, want := range c.Constraints {
		satisfied := false
		for _, sig := range sigs {
			if cert, err := sig.Cert(); err == nil && cert != nil && want.Match(cert) == nil {
				satisfied = true
				break
			}
		}
		if !satisfied {
			unsatisfied = append(unsatisfied, want)
		}
	}
	if len(unsatisfied) > 0 {
		return KubewardenResult{}, &FailedError{errors.New(KubewardenMissingSignatures(unsatisfied))}
	}
	return KubewardenResult{Digest: dref.DigestStr()}, nil
}

// kubewardenLayers are the image's signatures that verify against sc (with every annotation),
// as sigstore-rs' trusted layers are then matched against constraints: nil when none
// verifies. The host's errors: no signature manifest at all, or a registry failure. Bundles
// are checked offline; the log is never searched.
func (v *Verifier) kubewardenLayers(ctx context.Context, sc SignatureCheck, annotations map[string]string, dref name.Digest, whole string) ([]oci.Signature, error) {
	co, regOpts, unread, err := v.checkOpts(ctx, sc, cosign.SimpleClaimVerifier)
	if err != nil {
		return nil, err
	}
	for k, val := range annotations {
		co.Annotations[k] = val
	}
	co.RekorClient = nil
	co.RegistryClientOpts = regOpts
	sigs, _, err := cosign.VerifyImageSignatures(ctx, dref, co)
	var none *cosign.ErrNoSignaturesFound
	switch {
	case errors.As(err, &none):
		return nil, &FailedError{fmt.Errorf("no signatures found for image: %s ", whole)}
	case err != nil:
		var u *UnavailableError
		if classified := classify(refusedWithout(err, unread)); errors.As(classified, &u) {
			return nil, trustedLayersError(classified)
		}
		return nil, nil
	}
	return sigs, nil
}

// trustedLayersError is the host's wording of a registry failure, keeping err's kind.
func trustedLayersError(err error) error {
	var u *UnavailableError
	if errors.As(err, &u) {
		return &UnavailableError{fmt.Errorf("failed to get image trusted layers: %w", u.Err)}
	}
	return &FailedError{fmt.Errorf("failed to get image trusted layers: %w", err)}
}

// KubewardenReference is the image as policy-fetcher's build_fully_resolved_reference writes
// it: Docker Hub's registry and library/ made explicit, :latest when neither tag nor digest.
func KubewardenReference(image string) (string, error) {
	rest, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, tag = rest[:i], rest[i+1:]
	}
	if rest == "" {
		return "", fmt.Errorf("Verification only works with OCI images: Not a valid oci image: %s", image) //nolint:staticcheck // the host's text
	}
	registry, path, ok := strings.Cut(rest, "/")
	if !ok || (!strings.ContainsAny(registry, ".:") && registry != "localhost") {
		registry, path = "docker.io", rest
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
	}
	out := registry + "/" + path
	if tag == "" && digest == "" {
		tag = "latest"
	}
	if tag != "" {
		out += ":" + tag
	}
	if digest != "" {
		out += "@" + digest
	}
	return out, nil
}

// PubKeyConstraint is a pubKeys key as policy-fetcher lists it when unsatisfied.
type PubKeyConstraint struct {
	Key         string
	Annotations map[string]string
}

// Match implements KubewardenConstraint: a key constraint is about the signature, so no
// certificate satisfies it.
func (p PubKeyConstraint) Match(*x509.Certificate) error {
	return &FailedError{errors.New("a public key constraint is satisfied by a signature, not a certificate")}
}

// YAML implements KubewardenConstraint (serde_yaml of Signature::PubKey, owner unset).
func (p PubKeyConstraint) YAML() string {
	return "kind: pubKey\nowner: null\nkey: " + yamlBlock(p.Key) + yamlAnnotations(p.Annotations)
}

// yamlBlock is a string value as serde_yaml writes it: a multi-line one as a literal block,
// its chomping indicator kept from its trailing newlines, each line indented by two.
func yamlBlock(s string) string {
	if !strings.Contains(s, "\n") {
		return yamlScalar(s) + "\n"
	}
	body := strings.TrimRight(s, "\n")
	indicator := "|"
	switch trailing := len(s) - len(body); {
	case trailing == 0:
		indicator = "|-"
	case trailing > 1:
		indicator = "|+"
	}
	var b strings.Builder
	b.WriteString(indicator + "\n")
	for _, l := range strings.Split(body, "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("  " + l + "\n")
	}
	for i := 1; i < len(s)-len(body); i++ {
		b.WriteString("\n")
	}
	return b.String()
}

// KubewardenCertificateCheck is one certificate of a certificates entry as Kubewarden's host
// checks it (verify_certificate over sigstore-rs' CertificateVerifier): the certificate must
// be valid now and, with a chain, trusted by it; some signature must verify with its key and
// carry every annotation; with RequireRekorBundle that signature needs a Rekor bundle, checked
// offline, logged while the certificate was valid.
type KubewardenCertificateCheck struct {
	Image              string
	Certificate        string
	Chain              []string
	RequireRekorBundle bool
	Annotations        map[string]string
	Auth               Auth
}

// kwConstraintsFailed is sigstore-rs' SigstoreVerifyConstraintsError as the host wraps it.
const kwConstraintsFailed = "verification failed: Several Signature Layers failed verification"

// VerifyKubewardenCertificate runs one certificate check, once per run for the same question.
func (v *Verifier) VerifyKubewardenCertificate(ctx context.Context, c KubewardenCertificateCheck) (KubewardenResult, error) {
	// Not kept on disk: the certificate is judged valid or not at the current time.
	return v.kubewarden.Do(ctx, checkKey(c), func() (KubewardenResult, error) { return v.verifyKubewardenCertificate(ctx, c) })
}

func (v *Verifier) verifyKubewardenCertificate(ctx context.Context, c KubewardenCertificateCheck) (KubewardenResult, error) {
	whole, dref, err := v.kubewardenDigest(ctx, c.Image, c.Auth)
	if err != nil {
		return KubewardenResult{}, err
	}
	cert, err := kwcert.RequestTrusted(c.Certificate, c.Chain, time.Now())
	if err != nil {
		return KubewardenResult{}, &FailedError{err}
	}
	sigs, err := v.kubewardenLayers(ctx, SignatureCheck{Image: dref.String(), Certificate: c.Certificate, Tlog: c.RequireRekorBundle, Auth: c.Auth}, c.Annotations, dref, whole)
	if err != nil {
		return KubewardenResult{}, err
	}
	// A signature counts when its bundle, if it has one, was logged while the certificate was
	// valid; with requireRekorBundle it must have one.
	satisfied := false
	for _, sig := range sigs {
		b, err := sig.Bundle()
		if err != nil || b == nil {
			if !c.RequireRekorBundle {
				satisfied = true
				break
			}
			continue
		}
		at := time.Unix(b.Payload.IntegratedTime, 0)
		if !at.Before(cert.NotBefore) && !at.After(cert.NotAfter) {
			satisfied = true
			break
		}
	}
	if !satisfied {
		return KubewardenResult{}, &FailedError{errors.New(kwConstraintsFailed)}
	}
	return KubewardenResult{Digest: dref.DigestStr()}, nil
}
