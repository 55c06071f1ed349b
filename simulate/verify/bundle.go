package verify

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// BundleCheck is a check of the Sigstore bundles stored as OCI 1.1 referrers of an image
// (what cosign v3 writes by default), as Kyverno's `type: SigstoreBundle` makes it: by a
// public key, or by a certificate identity chaining to the run's trust root.
type BundleCheck struct {
	Image string
	// PublicKey (PEM or k8s://namespace/secret) and its HashAlgorithm, or an identity.
	PublicKey, HashAlgorithm                     string
	Subject, SubjectRegExp, Issuer, IssuerRegExp string
	// Tlog and SCT require a transparency-log entry and an observer timestamp.
	Tlog, SCT bool
	// PredicateType, when set, keeps only DSSE bundles of in-toto statements of that type.
	PredicateType string
	Auth          Auth
}

// BundleResult is a passed BundleCheck.
type BundleResult struct {
	// Digest is the image's manifest digest.
	Digest string
	// Statements are the verified in-toto statements (PredicateType set), as maps with
	// "type" = predicateType, the form engine conditions read.
	Statements []map[string]any
}

// Kyverno's bounds on what it reads from referrers.
const (
	maxBundles     = 50
	maxBundleBytes = int64(10 * 1000 * 1000)
)

// VerifyBundles checks c.Image's Sigstore bundles. Failures read as Kyverno's
// verifyBundleAndFetchAttestations words them ("<step>: <image>: <cause>").
func (v *Verifier) VerifyBundles(ctx context.Context, c BundleCheck) (BundleResult, error) {
	return v.bundles.Do(ctx, checkKey(c), func() (BundleResult, error) {
		if !c.diskCacheable() {
			return v.verifyBundles(ctx, c)
		}
		return diskCached(ctx, v, "bundle", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (BundleResult, error) { return v.verifyBundles(ctx, c) })
	})
}

func (v *Verifier) verifyBundles(ctx context.Context, c BundleCheck) (BundleResult, error) {
	ref, err := name.ParseReference(c.Image, v.reg.nameOptions(c.Image)...)
	if err != nil {
		return BundleResult{}, &FailedError{fmt.Errorf("failed to parse image reference: %v: %w", c.Image, err)}
	}
	ropts, unread := v.remoteFor(ctx, c.Auth)
	bundles, desc, err := fetchBundles(ref, c.PredicateType, ropts)
	if err != nil {
		return BundleResult{}, classify(refusedWithout(fmt.Errorf("failed to fetch bundles: %v: %w", c.Image, err), unread))
	}
	policy, err := bundlePolicy(desc, c)
	if err != nil {
		return BundleResult{}, &FailedError{fmt.Errorf("failed to build policy: %v: %w", c.Image, err)}
	}
	material, err := v.bundleMaterial(ctx, c)
	if err != nil {
		return BundleResult{}, err
	}
	var opts []sgverify.VerifierOption
	if c.Tlog {
		opts = append(opts, sgverify.WithTransparencyLog(1))
	}
	if c.SCT {
		opts = append(opts, sgverify.WithObserverTimestamps(1))
	}
	if len(opts) == 0 {
		if c.PublicKey != "" {
			opts = append(opts, sgverify.WithNoObserverTimestamps())
		} else {
			opts = append(opts, sgverify.WithCurrentTime())
		}
	}
	verifier, err := sgverify.NewVerifier(material, opts...)
	if err != nil {
		return BundleResult{}, &FailedError{fmt.Errorf("failed to get verify bundles: %v: %w", c.Image, err)}
	}
	res := BundleResult{Digest: desc.Digest.String()}
	verified := 0
	for _, b := range bundles {
		// One bundle that verifies is enough; the others' errors are not reported.
		if _, err := verifier.Verify(b.bundle, policy); err != nil {
			continue
		}
		verified++
		if b.statement != nil {
			res.Statements = append(res.Statements, b.statement)
		}
	}
	if verified == 0 {
		return BundleResult{}, &FailedError{fmt.Errorf("sigstore bundle verification failed: no matching signatures found")}
	}
	return res, nil
}

type fetchedBundle struct {
	bundle    *bundle.Bundle
	statement map[string]any
}

// fetchBundles reads the image's bundle referrers (through the referrers API, or its tag
// fallback), keeping DSSE statements of predicateType when one is asked for.
func fetchBundles(ref name.Reference, predicateType string, ropts []remote.Option) ([]fetchedBundle, *v1.Descriptor, error) {
	desc, err := remote.Head(ref, ropts...)
	if err != nil {
		return nil, nil, err
	}
	idx, err := remote.Referrers(ref.Context().Digest(desc.Digest.String()), ropts...)
	if err != nil {
		return nil, nil, err
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	if len(manifest.Manifests) > maxBundles {
		return nil, nil, fmt.Errorf("failed to fetch referrers: too many referrers found, max limit is %d", maxBundles)
	}
	var out []fetchedBundle
	for _, m := range manifest.Manifests {
		if !strings.HasPrefix(m.ArtifactType, "application/vnd.dev.sigstore.bundle") {
			continue
		}
		raw, err := bundleLayer(ref.Context().Digest(m.Digest.String()), ropts)
		if err != nil {
			return nil, nil, err
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON(raw); err != nil {
			return nil, nil, fmt.Errorf("failed to unmarshal bundle: %w", err)
		}
		fb := fetchedBundle{bundle: b}
		if predicateType != "" {
			env := b.GetDsseEnvelope()
			if env == nil || env.PayloadType != "application/vnd.in-toto+json" {
				continue
			}
			var st map[string]any
			if json.Unmarshal(env.Payload, &st) != nil || st["predicateType"] != predicateType {
				continue
			}
			st["type"] = st["predicateType"]
			fb.statement = st
		}
		out = append(out, fb)
	}
	return out, desc, nil
}

func bundleLayer(d name.Digest, ropts []remote.Option) ([]byte, error) {
	img, err := remote.Image(d, ropts...)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch referrer image: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("failed to fetch referrer layer: %w", err)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("layers not found")
	}
	size, err := layers[0].Size()
	if err != nil {
		return nil, err
	}
	if size > maxBundleBytes {
		return nil, fmt.Errorf("layer size %d exceeds %d", size, maxBundleBytes)
	}
	b, err := readLayer(layers[0], maxBundleBytes, "the bundle layer")
	if err != nil {
		return nil, fmt.Errorf("failed to fetch referrer layer: %w", err)
	}
	return b, nil
}

func bundlePolicy(desc *v1.Descriptor, c BundleCheck) (sgverify.PolicyBuilder, error) {
	digest, err := hex.DecodeString(desc.Digest.Hex)
	if err != nil {
		return sgverify.PolicyBuilder{}, err
	}
	artifact := sgverify.WithArtifactDigest(desc.Digest.Algorithm, digest)
	hasIssuer := c.Issuer != "" || c.IssuerRegExp != ""
	hasSubject := c.Subject != "" || c.SubjectRegExp != ""
	switch {
	case hasIssuer && hasSubject:
		if c.PublicKey != "" {
			return sgverify.PolicyBuilder{}, fmt.Errorf("static key and certificate identity are mutually exclusive")
		}
		id, err := sgverify.NewShortCertificateIdentity(c.Issuer, c.IssuerRegExp, c.Subject, c.SubjectRegExp)
		if err != nil {
			return sgverify.PolicyBuilder{}, err
		}
		return sgverify.NewPolicy(artifact, sgverify.WithCertificateIdentity(id)), nil
	case c.PublicKey != "":
		return sgverify.NewPolicy(artifact, sgverify.WithKey()), nil
	}
	return sgverify.NewPolicy(artifact), nil
}

// bundleMaterial is the key (plus the trust root when a log or timestamp is required), or
// the trust root alone for identities: what Kyverno takes from TUF comes from --trusted-root.
func (v *Verifier) bundleMaterial(ctx context.Context, c BundleCheck) (root.TrustedMaterial, error) {
	wrap := func(err error) error {
		return &FailedError{fmt.Errorf("failed to get trusted material: %v: %w", c.Image, err)}
	}
	if c.PublicKey == "" {
		if v.Trust == nil || v.Trust.material == nil {
			return nil, errNeedsPublicTrust("The Sigstore trusted root for bundle verification")
		}
		return v.Trust.material, nil
	}
	if c.Subject != "" || c.SubjectRegExp != "" || c.Issuer != "" || c.IssuerRegExp != "" {
		return nil, wrap(fmt.Errorf("static key and certificate identity are mutually exclusive"))
	}
	hash, ok := hashes[c.HashAlgorithm]
	if !ok {
		return nil, wrap(fmt.Errorf("unsupported signature algorithm %q", c.HashAlgorithm))
	}
	pemKey := []byte(c.PublicKey)
	if ref := strings.TrimSpace(c.PublicKey); strings.HasPrefix(ref, "k8s://") {
		raw, err := v.secretKey(ctx, ref)
		if err != nil {
			return nil, err
		}
		pemKey = raw
	}
	sv, err := loadVerifier(pemKey, hash)
	if err != nil {
		return nil, wrap(fmt.Errorf("failed to load public key: %w", err))
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	keyMaterial := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
	if !c.Tlog && !c.SCT {
		return keyMaterial, nil
	}
	if v.Trust == nil || v.Trust.material == nil {
		return nil, errNeedsPublicTrust("The Sigstore trusted root for bundle transparency checks")
	}
	return root.TrustedMaterialCollection{keyMaterial, v.Trust.material}, nil
}

func loadVerifier(pemKey []byte, hash crypto.Hash) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("pem to public key: %w", err)
	}
	return signature.LoadVerifier(pub, hash)
}

// HasBundles says whether cosign finds Sigstore bundles for image (cosign.GetBundles: the
// referrers API or its tag fallback, in repository when that is given), as Kyverno's
// ImageValidatingPolicy verifier asks before each attestor: with bundles it verifies those
// alone. A registry error reads as none, as it does there.
func (v *Verifier) HasBundles(ctx context.Context, image, repository string, a Auth) bool {
	found, _ := v.hasBundles.Do(ctx, authKey(image+"\x00"+repository, a), func() (bool, error) {
		ref, err := name.ParseReference(image, v.reg.nameOptions(image)...)
		if err != nil {
			return false, nil
		}
		ropts, _ := v.remoteFor(ctx, a)
		opts := []ociremote.Option{ociremote.WithRemoteOptions(ropts...)}
		if repository != "" {
			repo, err := name.NewRepository(repository, v.reg.nameOptions(repository)...)
			if err != nil {
				return false, nil
			}
			opts = append(opts, ociremote.WithTargetRepository(repo))
		}
		bundles, _, err := cosign.GetBundles(ctx, ref, opts)
		return err == nil && len(bundles) > 0, nil
	})
	return found
}
