// Package verifytest makes registry fixtures for tests and the demo: an in-process registry,
// images with distinct content, key pairs, and legacy (.sig tag) cosign signatures made with
// cosign's own library, as `cosign sign --key --tlog-upload=false` writes them.
package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
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
	opts := []registry.Option{registry.Logger(log.New(io.Discard, "", 0))}
	if referrers {
		opts = append(opts, registry.WithReferrersSupport(true))
	}
	s := httptest.NewServer(registry.New(opts...))
	return &Registry{Server: s, Host: strings.TrimPrefix(s.URL, "http://")}
}

// Close stops the registry.
func (r *Registry) Close() { r.Server.Close() }

// Key is an ECDSA P-256 key pair, as cosign generate-key-pair makes.
type Key struct {
	Private   *ecdsa.PrivateKey
	PublicPEM string
}

// NewKey makes a key pair.
func NewKey() (*Key, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{Private: k, PublicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
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
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	pl, err := (&payload.Cosign{Image: digest}).MarshalJSON()
	if err != nil {
		return err
	}
	h := sha256.Sum256(pl)
	raw, err := ecdsa.SignASN1(rand.Reader, key.Private, h[:])
	if err != nil {
		return err
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return err
	}
	ro := ociremote.WithRemoteOptions(opts...)
	se, err := ociremote.SignedEntity(digest, ro)
	if err != nil {
		return err
	}
	signed, err := mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		return err
	}
	if err := ociremote.WriteSignatures(digest.Repository, signed, ro); err != nil {
		return fmt.Errorf("writing signature for %s: %w", ref, err)
	}
	return nil
}

// SignBundle attaches a Sigstore bundle (v0.3, message signature over the manifest digest,
// public-key hint) the way cosign v3 stores one by default: an OCI 1.1 referrer of the image,
// which go-containerregistry files under the sha256-<digest> fallback tag when the registry
// has no referrers API. Tests use it to show where engines do and do not look; the bundle's
// cryptography is well-formed but not claimed to satisfy `cosign verify`.
func SignBundle(ref string, key *Key, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	sum, err := hex.DecodeString(strings.TrimPrefix(digest.DigestStr(), "sha256:"))
	if err != nil {
		return err
	}
	raw, err := ecdsa.SignASN1(rand.Reader, key.Private, sum)
	if err != nil {
		return err
	}
	bundle, err := json.Marshal(map[string]any{
		"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{
			"publicKey": map[string]any{"hint": base64.StdEncoding.EncodeToString(sum[:8])},
		},
		"messageSignature": map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(sum)},
			"signature":     base64.StdEncoding.EncodeToString(raw),
		},
	})
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(digest, bundle, "", ociremote.WithRemoteOptions(opts...))
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
