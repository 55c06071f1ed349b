// Package verifytest makes registry fixtures for tests and the demo: an in-process registry,
// images with distinct content, key pairs, and legacy (.sig tag) cosign signatures made with
// cosign's own library, as `cosign sign --key --tlog-upload=false` writes them.
package verifytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Registry is an in-process OCI registry on loopback.
type Registry struct {
	Server *httptest.Server
	// Host is host:port, usable in image references.
	Host string
}

// NewRegistry starts a registry; referrers enables the OCI 1.1 referrers API.
func NewRegistry(referrers bool) *Registry {
	s := httptest.NewServer(ocireg.New(referrers, nil))
	return &Registry{Server: s, Host: strings.TrimPrefix(s.URL, "http://")}
}

// Close stops the registry.
func (r *Registry) Close() { r.Server.Close() }

// Key is a signing key pair.
type Key struct {
	Private   crypto.Signer
	PublicPEM string
	// PrivatePEM is the PKCS#8 private key, for `cosign import-key-pair`.
	PrivatePEM string
}

// Key types NewKeyOfType makes.
const (
	ECDSAP256 = "ecdsa-p256" // what cosign generate-key-pair makes
	ECDSAP384 = "ecdsa-p384"
	RSA2048   = "rsa-2048"
	Ed25519   = "ed25519"
)

// NewKey makes an ECDSA P-256 key pair, as cosign generate-key-pair does.
func NewKey() (*Key, error) { return NewKeyOfType(ECDSAP256) }

// NewKeyOfType makes a key pair of the given type.
func NewKeyOfType(kind string) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch kind {
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("unknown key type %q", kind)
	}
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &Key{
		Private:    priv,
		PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
	}, nil
}

// SignMessage signs msg as the cosign CLI does; see signMessage.
func (k *Key) SignMessage(msg []byte) ([]byte, error) { return k.signMessage(msg) }

// signMessage signs as the cosign CLI does: LoadDefaultSignerVerifier (the curve's hash for
// ECDSA, SHA-256 PKCS#1 v1.5 for RSA) with Ed25519ph for Ed25519 keys.
func (k *Key) signMessage(msg []byte) ([]byte, error) {
	sv, err := signature.LoadDefaultSignerVerifier(k.Private, options.WithED25519ph())
	if err != nil {
		return nil, err
	}
	return sv.SignMessage(bytes.NewReader(msg))
}

// Push pushes a small random image to ref (host/repo:tag) and returns its digest; opts
// reach registries that need a transport or credentials.
func Push(ref string, opts ...remote.Option) (string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	img, err := random.Image(256, 1)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Sign attaches a legacy cosign signature by key to the image at ref (resolved to its
// digest), stored under the sha256-<digest>.sig tag.
func Sign(ref string, key *Key, opts ...remote.Option) error {
	return SignInto(ref, "", key, opts...)
}

// SignInto is Sign with the signature stored in repo (host/path) instead of the image's own
// repository, as `COSIGN_REPOSITORY=repo cosign sign` does. repo "" is the image's.
func SignInto(ref, repo string, key *Key, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	pl, err := (&payload.Cosign{Image: digest}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, err := key.signMessage(pl)
	if err != nil {
		return err
	}
	if err := attach(digest, repo, pl, raw, "", "", opts...); err != nil {
		return fmt.Errorf("writing signature for %s: %w", ref, err)
	}
	return nil
}

// attach writes a signature (payload, raw signature, optional certificate and chain) for
// digest into repo ("" is the image's own repository).
func attach(digest name.Digest, repo string, payloadJSON, rawSig []byte, certPEM, chainPEM string, opts ...remote.Option) error {
	var sopts []static.Option
	if certPEM != "" {
		sopts = append(sopts, static.WithCertChain([]byte(certPEM), []byte(chainPEM)))
	}
	return attachWith(digest, repo, payloadJSON, rawSig, sopts, opts...)
}

// attachWith is attach with the signature layer's options (bundle, timestamp, chain) given.
func attachWith(digest name.Digest, repo string, payloadJSON, rawSig []byte, sopts []static.Option, opts ...remote.Option) error {
	sig, err := static.NewSignature(payloadJSON, base64.StdEncoding.EncodeToString(rawSig), sopts...)
	if err != nil {
		return err
	}
	ro := []ociremote.Option{ociremote.WithRemoteOptions(opts...)}
	target := digest.Repository
	if repo != "" {
		r, err := name.NewRepository(repo)
		if err != nil {
			return err
		}
		ro = append(ro, ociremote.WithTargetRepository(r))
		target = r
	}
	se, err := ociremote.SignedEntity(digest, ro...)
	if err != nil {
		return err
	}
	signed, err := mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		return err
	}
	return ociremote.WriteSignatures(target, signed, ro...)
}

// CosignSignPredicateType is the predicate type of the in-toto statement cosign v3 signs an
// image with in its default bundle format.
const CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// SignBundle attaches a signature the way cosign v3 stores one by default: a Sigstore bundle
// (v0.3, public-key hint, no log entry) holding a DSSE envelope of an in-toto statement about
// the image digest, predicate type CosignSignPredicateType, as an OCI 1.1 referrer of the
// image (go-containerregistry files it under the sha256-<digest> fallback tag when the
// registry has no referrers API).
func SignBundle(ref string, key *Key, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"predicateType": CosignSignPredicateType,
		"subject": []any{map[string]any{
			"name":   digest.Repository.String(),
			"digest": map[string]string{"sha256": strings.TrimPrefix(digest.DigestStr(), "sha256:")},
		}},
		"predicate": map[string]any{},
	})
	if err != nil {
		return err
	}
	env, err := SignEnvelope(key, InTotoPayloadType, statement)
	if err != nil {
		return err
	}
	der, _ := pem.Decode([]byte(key.PublicPEM))
	hint := sha256.Sum256(der.Bytes)
	bundle, err := json.Marshal(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"publicKey": map[string]any{"hint": base64.StdEncoding.EncodeToString(hint[:])},
		},
		"dsseEnvelope": json.RawMessage(env),
	})
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(digest, bundle, CosignSignPredicateType, ociremote.WithRemoteOptions(opts...))
}

// resolve is ref's manifest digest, as cosign signs it.
func resolve(ref string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(desc.Digest.String()), nil
}
