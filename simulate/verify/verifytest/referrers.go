package verifytest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrstatic "github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// SigArtifactType is the artifactType (and config mediaType) of a legacy cosign signature
// stored as an OCI 1.1 referrer: what `cosign sign --registry-referrers-mode=oci-1-1` writes
// and what cosign's CheckOpts.ExperimentalOCI11 (Kyverno's cosignOCI11) asks the referrers
// API for.
const SigArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"

// SignReferrers attaches a legacy cosign signature (simple-signing payload, signature in the
// layer annotation, no transparency log) by key to the image at ref, stored the way
// `COSIGN_EXPERIMENTAL=1 cosign sign --registry-referrers-mode=oci-1-1` stores it: an OCI
// image manifest pushed by digest, whose subject is the image and whose artifactType is
// SigArtifactType, with no .sig tag. On a registry without the referrers API,
// go-containerregistry lists it in the sha256-<digest> fallback index instead, as it does for
// cosign.
func SignReferrers(ref string, key *Key, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	// The subject descriptor is the registry's (its media type and size), as cosign takes it.
	subject, err := remote.Head(digest, opts...)
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
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return err
	}
	// cosign builds the signature image on top of whatever the .sig tag already holds, so a
	// referrer written after a legacy signature carries both layers; do the same.
	se, err := ociremote.SignedEntity(digest, ociremote.WithRemoteOptions(opts...))
	if err != nil {
		return err
	}
	signed, err := mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		return err
	}
	sigs, err := signed.Signatures()
	if err != nil {
		return err
	}
	layers, err := sigs.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		if err := remote.WriteLayer(digest.Repository, l, opts...); err != nil {
			return fmt.Errorf("writing signature layer for %s: %w", ref, err)
		}
	}
	config, err := sigs.RawConfigFile()
	if err != nil {
		return err
	}
	if err := remote.WriteLayer(digest.Repository, ggcrstatic.NewLayer(config, types.OCIConfigJSON), opts...); err != nil {
		return fmt.Errorf("writing signature config for %s: %w", ref, err)
	}
	m, err := sigs.Manifest()
	if err != nil {
		return err
	}
	rm := *m
	rm.MediaType = types.OCIManifestSchema1
	rm.Config.MediaType = SigArtifactType
	rm.ArtifactType = SigArtifactType
	rm.Subject = subject
	body, err := json.Marshal(rm)
	if err != nil {
		return err
	}
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := remote.Put(digest.Context().Digest(h.String()), rawManifest{body: body, mediaType: rm.MediaType}, opts...); err != nil {
		return fmt.Errorf("writing referrer signature for %s: %w", ref, err)
	}
	return nil
}

// rawManifest is a manifest pushed byte for byte (remote.Put's Taggable).
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }
