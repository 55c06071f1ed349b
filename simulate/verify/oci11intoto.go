package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
)

// unverifiedInTotoReferrers is the first half of policy-controller v0.15.1's validAttestations
// when enable-oci11 is on (discoverAttestationsOCI11): the in-toto attestations stored as OCI
// 1.1 referrers of the image, each DSSE signature turned into a signature over
// {"payload": <the envelope's payload>}, and NOT verified by anything. nil when the check does
// not ask for it, or when discovery finds none or fails in any way: the webhook then goes on to
// cosign's VerifyImageAttestations, and so does the caller.
func (v *Verifier) unverifiedInTotoReferrers(ctx context.Context, c SignatureCheck, ref name.Reference, regOpts []ociremote.Option) []oci.Signature {
	if !c.UnverifiedInTotoReferrers {
		return nil
	}
	atts, err := v.discoverInTotoReferrers(ctx, c, ref, regOpts)
	if err != nil {
		return nil
	}
	return atts
}

// discoverInTotoReferrers is discoverAttestationsOCI11: the image's digest (ociremote's
// ResolveDigest, through the run's cache), its referrers of any artifact type (ociremote's
// Referrers, with the authority's registry options, so a source.oci repository is where they
// are listed), and of those whose artifactType contains "in-toto" the attestations a
// processable one holds; one that cannot be read is skipped.
func (v *Verifier) discoverInTotoReferrers(ctx context.Context, c SignatureCheck, ref name.Reference, regOpts []ociremote.Option) ([]oci.Signature, error) {
	digest, ok := ref.(name.Digest)
	if !ok {
		d, err := v.resolve(ctx, ref, c.Auth)
		if err != nil {
			return nil, err
		}
		digest = ref.Context().Digest(d)
	}
	idx, err := ociremote.Referrers(digest, "", regOpts...)
	if err != nil {
		return nil, err
	}
	var all []oci.Signature
	for _, m := range idx.Manifests {
		if !strings.Contains(m.ArtifactType, "in-toto") {
			continue
		}
		sigs, err := inTotoReferrer(m, digest.Repository, regOpts)
		if err != nil {
			continue
		}
		all = append(all, sigs...)
	}
	if len(all) == 0 {
		return nil, errors.New("no attestations found")
	}
	return all, nil
}

// inTotoReferrer is processAttestationArtifact: the referrer manifest read from the image's
// own repository (whatever repository listed it), its first layer taken as a DSSE envelope,
// and one signature per envelope signature over {"payload": <payload>}. An envelope without
// signatures gives none.
func inTotoReferrer(desc v1.Descriptor, repo name.Repository, regOpts []ociremote.Option) ([]oci.Signature, error) {
	// The webhook re-parses "<repository>@<digest>" without name options; the repository's
	// own (the run's insecure registries) are kept here so that the registry is reached at all.
	img, err := ociremote.SignedImage(repo.Digest(desc.Digest.String()), regOpts...)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return nil, fmt.Errorf("no layers found")
	}
	raw, err := readLayer(layers[0], maxBlobBytes, "the attestation layer")
	if err != nil {
		return nil, err
	}
	var envelope struct {
		Payload    string `json:"payload"`
		Signatures []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return nil, err
	}
	var sigs []oci.Signature
	for _, s := range envelope.Signatures {
		// A map, as the webhook marshals it: {"payload":"..."} and nothing else.
		pl, _ := json.Marshal(map[string]any{"payload": envelope.Payload})
		if sig, err := static.NewSignature(pl, s.Sig); err == nil {
			sigs = append(sigs, sig)
		}
	}
	return sigs, nil
}
