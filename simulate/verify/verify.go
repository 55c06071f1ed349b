// Package verify is the only package that talks to cosign and to registries. It resolves each
// tag once, verifies each (image, check) once, and returns typed outcomes whose messages are
// the library's own text, so engines can replay the exact strings their real counterparts
// print.
package verify

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kubectl-verify/kubectl-verify/internal/memo"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// FailedError means the registry answered and the signatures do not satisfy the check
// ("verification failed"). Error() is the library's text, unchanged.
type FailedError struct{ Err error }

func (e *FailedError) Error() string { return e.Err.Error() }
func (e *FailedError) Unwrap() error { return e.Err }

// UnavailableError means the check could not be made: connection, DNS, TLS, HTTP status,
// timeout ("could not verify"). Error() is the library's text, unchanged.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// ToolError means the tool itself could not make the check (no cluster to read a key
// Secret from, no right to read it): not the engine's verdict. Error() is the reason.
type ToolError struct{ Err error }

func (e *ToolError) Error() string { return e.Err.Error() }
func (e *ToolError) Unwrap() error { return e.Err }

// SecretReader reads Secrets for k8s:// key references. Forbidden errors must satisfy
// apierrors.IsForbidden; not-found ones keep the API server's text.
type SecretReader interface {
	Secret(ctx context.Context, namespace, name string) (map[string][]byte, error)
	// Forbidden reports whether err means the user may not read the Secret.
	Forbidden(err error) bool
}

// IsConnectionError reports whether err carries a *net.OpError: what Kyverno alone counts as a
// registry error rather than a failure (spec/kyverno.md §4.1 step 6).
func IsConnectionError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// SignatureCheck is one signature check of one image, by exactly one of: a public key, a
// certificate (Kyverno `certificates`), or keyless (certificates chaining to Roots, with an
// identity); transparency-log, SCT and timestamp checks only when asked.
type SignatureCheck struct {
	// Image is the reference as the engine names it (tag or digest form).
	Image string
	// PublicKey is one PEM public key, or k8s://<namespace>/<secret> whose cosign.pub holds it.
	PublicKey string
	// HashAlgorithm is "", sha224, sha256, sha384 or sha512 ("" = sha256).
	HashAlgorithm string
	// Repository, when set, is where signatures are read from instead of the image's own.
	Repository string
	// TagPrefix is prepended to the signature and attestation tags (policy-controller's
	// source.tagPrefix, cosign's ociremote.WithPrefix).
	TagPrefix string
	// OCI11 also looks for signatures through the OCI 1.1 referrers API first.
	OCI11 bool
	// UnverifiedInTotoReferrers, for VerifyInToto, first takes the image's in-toto attestations
	// stored as OCI 1.1 referrers WITHOUT verifying their signatures, and only when there are
	// none verifies the usual way: policy-controller's enable-oci11 path
	// (discoverAttestationsOCI11 in v0.15.1's validAttestations).
	UnverifiedInTotoReferrers bool
	// Auth is the request's pull secrets.
	Auth Auth

	// Certificate (PEM or base64 PEM) must have made the signature, validated against
	// CertificateChain when that is given; CertificateChain alone is a root pool for the
	// signature's own certificate.
	Certificate, CertificateChain string
	// Keyless: the signature's certificate must chain to Roots (PEM) and match the identity
	// (wildcards for Subject and Issuer, unanchored regular expressions for the others).
	Keyless                                      bool
	Roots                                        string
	Subject, SubjectRegExp, Issuer, IssuerRegExp string
	// Extensions are further certificate extensions to match, by cosign's names or OIDs,
	// values as wildcards (Kyverno additionalExtensions).
	Extensions map[string]string
	// Identities, for keyless, are policy-controller's: any one must match, checked by cosign
	// itself on every signature (CheckOpts.Identities), so a mismatch reads as cosign's.
	Identities []Identity

	// Tlog requires proof of a transparency-log entry: the signature's Rekor bundle, checked
	// offline against RekorPubKey (PEM; empty = the run's trust root), else an online lookup
	// at RekorURL. Its integrated time is then the signing time certificates are checked at.
	Tlog                  bool
	RekorURL, RekorPubKey string
	// SCT requires a certificate's embedded SCT, checked against CTLogPubKey (PEM; empty = the
	// run's trust root).
	SCT         bool
	CTLogPubKey string
	// TSACertChain turns on RFC 3161 timestamps, checked against this chain.
	TSACertChain string
}

// SignatureResult is a passed SignatureCheck.
type SignatureResult struct {
	// Digest is the signed payload's docker-manifest-digest.
	Digest string
	// Signatures are the verified signatures as policy-controller records them.
	Signatures []PolicySignature
}

// Verifier verifies signatures and resolves tags. Safe for concurrent use; results are
// cached for its lifetime, so one Verifier serves one run.
type Verifier struct {
	reg *Registry
	// Secrets resolves k8s:// keys; nil when no cluster is read.
	Secrets SecretReader
	// Trust stands in for the public Sigstore material (--trusted-root); nil when not given.
	Trust *TrustRoot

	// Each question is answered once per run.
	signatures memo.Memo[SignatureResult]
	bundles    memo.Memo[BundleResult]
	hasBundles memo.Memo[bool]
	attested   memo.Memo[AttestationResult]
	intoto     memo.Memo[InTotoResult]
	configs    memo.Memo[ConfigFilesResult]
	resolved   memo.Memo[string] // tag -> digest (HEAD, as cosign resolves)
	fetched    memo.Memo[string] // image -> digest (GET, as Kyverno's digest mutation fetches)
	kubewarden memo.Memo[KubewardenResult]
	secrets    memo.Memo[map[string][]byte]
	keychains  memo.Memo[keychainOutcome]

	// disk keeps passes across runs; nil when there is none.
	disk *DiskCache
}

type keychainOutcome struct {
	kc     authn.Keychain
	unread string
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithDiskCache reuses passed verifications kept in c by earlier runs, and keeps this run's
// passes there (signatures, Sigstore bundles, attestations, in-toto attestations, Kubewarden
// key and keyless checks; see diskcache.go for what is left out). Default: no disk cache,
// every run verifies afresh; a nil c is the same.
func WithDiskCache(c *DiskCache) Option {
	return func(v *Verifier) { v.disk = c }
}

// New returns a Verifier that reaches registries as reg says.
func New(reg *Registry, opts ...Option) *Verifier {
	v := &Verifier{reg: reg}
	for _, o := range opts {
		o(v)
	}
	return v
}

// authKey names an image and the credentials it is asked with.
func authKey(image string, a Auth) string { return image + "\x00" + a.Secrets }

var hashes = map[string]crypto.Hash{
	"": crypto.SHA256, "sha224": crypto.SHA224, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512,
}

// VerifySignature checks the legacy (.sig tag) cosign signatures of c.Image by the key,
// certificate or keyless identity c names.
func (v *Verifier) VerifySignature(ctx context.Context, c SignatureCheck) (SignatureResult, error) {
	return v.signatures.Do(ctx, checkKey(c), func() (SignatureResult, error) {
		if !c.diskCacheable() {
			return v.verifySignature(ctx, c)
		}
		return diskCached(ctx, v, "signature", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (SignatureResult, error) { return v.verifySignature(ctx, c) })
	})
}

func (v *Verifier) verifySignature(ctx context.Context, c SignatureCheck) (SignatureResult, error) {
	ref, err := name.ParseReference(c.Image, v.reg.nameOptions(c.Image)...)
	if err != nil {
		return SignatureResult{}, &FailedError{fmt.Errorf("failed to parse image %s", c.Image)}
	}
	co, regOpts, unread, err := v.checkOpts(ctx, c, cosign.SimpleClaimVerifier)
	if err != nil {
		return SignatureResult{}, err
	}
	// Resolve the tag through our cache (one request per tag per run); cosign's own
	// resolution is then a no-op on the digest reference, and errors read as cosign's.
	if _, isTag := ref.(name.Tag); isTag {
		d, err := v.resolve(ctx, ref, c.Auth)
		if err != nil {
			return SignatureResult{}, classify(refusedWithout(err, unread))
		}
		ref = ref.Context().Digest(d)
	}
	co.RegistryClientOpts = regOpts
	sigs, _, err := cosign.VerifyImageSignatures(ctx, ref, co)
	if err != nil {
		return SignatureResult{}, classify(refusedWithout(err, unread))
	}
	if err := matchSignatures(sigs, c); err != nil {
		return SignatureResult{}, &FailedError{err}
	}
	// Kyverno reads the digest from the first verified signature's payload (extractDigest).
	if len(sigs) == 0 {
		return SignatureResult{}, &FailedError{fmt.Errorf("digest not found for %s", c.Image)}
	}
	pld, err := sigs[0].Payload()
	if err != nil {
		return SignatureResult{}, &FailedError{fmt.Errorf("failed to get payload: %w", err)}
	}
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(pld, &sci); err != nil {
		return SignatureResult{}, &FailedError{fmt.Errorf("error decoding the payload: %w", err)}
	}
	if d := sci.Critical.Image.DockerManifestDigest; d != "" {
		return SignatureResult{Digest: d, Signatures: policySignatures(sigs)}, nil
	}
	return SignatureResult{}, &FailedError{fmt.Errorf("failed to extract image digest from signature payload for %s", c.Image)}
}

// claimVerifier is cosign's CheckOpts.ClaimVerifier: what a signature's payload must claim.
type claimVerifier = func(sig oci.Signature, imageDigest v1.Hash, annotations map[string]any) error

// checkOpts is what every check asks of cosign: the hash algorithm, what signatures must
// verify against (key, certificate, roots, identities), the transparency-log and SCT
// settings, and where signatures are read (registry options, signature repository).
// unread names credentials that could not be read, for the error a refusal then gets.
func (v *Verifier) checkOpts(ctx context.Context, c SignatureCheck, claims claimVerifier) (*cosign.CheckOpts, []ociremote.Option, string, error) {
	hash, ok := hashes[c.HashAlgorithm]
	if !ok {
		return nil, nil, "", &FailedError{fmt.Errorf("invalid signature algorithm provided %s", c.HashAlgorithm)}
	}
	co := &cosign.CheckOpts{Annotations: map[string]any{}, ClaimVerifier: claims, ExperimentalOCI11: c.OCI11}
	for _, id := range c.Identities {
		co.Identities = append(co.Identities, cosign.Identity{Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
	}
	if err := v.trust(ctx, c, hash, co); err != nil {
		return nil, nil, "", err
	}
	if err := v.transparency(c, co); err != nil {
		return nil, nil, "", err
	}
	ropts, unread := v.remoteFor(ctx, c.Auth)
	regOpts := []ociremote.Option{ociremote.WithRemoteOptions(ropts...)}
	if c.Repository != "" {
		repo, err := name.NewRepository(c.Repository, v.reg.nameOptions(c.Repository)...)
		if err != nil {
			return nil, nil, "", &FailedError{fmt.Errorf("failed to parse signature repository %s: %w", c.Repository, err)}
		}
		regOpts = append(regOpts, ociremote.WithTargetRepository(repo))
	}
	if c.TagPrefix != "" {
		regOpts = append(regOpts, ociremote.WithPrefix(c.TagPrefix))
	}
	return co, regOpts, unread, nil
}

// secretData reads a Secret once per run.
func (v *Verifier) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	return v.secrets.Do(ctx, namespace+"/"+name, func() (map[string][]byte, error) { return v.Secrets.Secret(ctx, namespace, name) })
}

// secretKey reads cosign.pub from the Secret a k8s://<namespace>/<name> reference names,
// with the text cosign's PublicKeyFromKeyRef gives Kyverno.
func (v *Verifier) secretKey(ctx context.Context, ref string) ([]byte, error) {
	parts := strings.Split(strings.TrimPrefix(ref, "k8s://"), "/")
	if len(parts) != 2 {
		return nil, &FailedError{fmt.Errorf("failed to load public key from %s: kubernetes specification should be in the format k8s://<namespace>/<secret>", ref)}
	}
	if v.Secrets == nil {
		return nil, &ToolError{fmt.Errorf("%s: keys from Kubernetes Secrets are read from the cluster, and this run reads none (policies and resources both from files)", ref)}
	}
	data, err := v.secretData(ctx, parts[0], parts[1])
	switch {
	case err != nil && v.Secrets.Forbidden(err):
		return nil, &ToolError{fmt.Errorf("cannot read Secret %s/%s for %s: %w", parts[0], parts[1], ref, err)}
	case err != nil:
		return nil, &FailedError{fmt.Errorf("failed to load public key from %s: checking if secret exists: %w", ref, err)}
	}
	return data["cosign.pub"], nil
}

// resolve is cosign's ResolveDigest for a tag, cached per reference, with cosign's 404 text.
func (v *Verifier) resolve(ctx context.Context, ref name.Reference, a Auth) (string, error) {
	return v.resolved.Do(ctx, authKey(ref.String(), a), func() (string, error) {
		ropts, _ := v.remoteFor(ctx, a)
		d, err := ociremote.ResolveDigest(ref, ociremote.WithRemoteOptions(ropts...))
		if terr := (&transport.Error{}); errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return "", &UnavailableError{fmt.Errorf("image tag not found: %w", err)}
		}
		if err != nil {
			return "", err
		}
		return d.DigestStr(), nil
	})
}

// Digest fetches the manifest (or index) of image the way Kyverno's registry client does for
// digest mutation (remote.Get), cached per reference.
func (v *Verifier) Digest(ctx context.Context, image string, a Auth) (string, error) {
	return v.fetched.Do(ctx, authKey(image, a), func() (string, error) {
		ref, err := name.ParseReference(image, v.reg.nameOptions(image)...)
		if err != nil {
			return "", err
		}
		// A tag verification already resolved costs nothing more.
		if d, ok := v.resolved.Succeeded(authKey(ref.String(), a)); ok {
			return d, nil
		}
		ropts, unread := v.remoteFor(ctx, a)
		desc, err := remote.Get(ref, ropts...)
		if err != nil {
			return "", classify(refusedWithout(err, unread))
		}
		return desc.Digest.String(), nil
	})
}

// classify sorts an error into could-not-verify (the registry could not answer) or
// verification failed, keeping its text.
func classify(err error) error {
	var f *FailedError
	var u *UnavailableError
	var te *ToolError
	if errors.As(err, &f) || errors.As(err, &u) || errors.As(err, &te) {
		return err
	}
	var terr *transport.Error
	switch {
	case IsConnectionError(err), errors.As(err, &terr), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &UnavailableError{err}
	}
	// TLS failures reaching the registry arrive as *url.Error; certificate-chain failures of
	// a signature do not, and are verification failures.
	var uerr *url.Error
	if errors.As(err, &uerr) && (strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:")) {
		return &UnavailableError{err}
	}
	return &FailedError{err}
}
