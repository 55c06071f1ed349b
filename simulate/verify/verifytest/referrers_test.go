package verifytest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// TestSignReferrersShape checks the manifest against what the real cosign v3.1.3 pushed with
// --registry-referrers-mode=oci-1-1 (seen on hack/referrers-registry): OCI manifest, config
// and artifactType application/vnd.dev.cosign.artifact.sig.v1+json, one simple-signing layer
// with the signature annotation, subject = the image, no .sig tag.
func TestSignReferrersShape(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		for _, legacyFirst := range []bool{false, true} {
			label := map[bool]string{false: "fallback-tag", true: "referrers-api"}[referrers] + map[bool]string{false: "", true: "/after-legacy-signature"}[legacyFirst]
			t.Run(label, func(t *testing.T) {
				reg := NewRegistry(referrers)
				defer reg.Close()
				key, err := NewKey()
				if err != nil {
					t.Fatal(err)
				}
				ref := reg.Host + "/r/app:v1"
				d, err := Push(ref)
				if err != nil {
					t.Fatal(err)
				}
				wantLayers := 1
				if legacyFirst {
					if err := Sign(ref, key); err != nil {
						t.Fatal(err)
					}
					wantLayers = 2 // cosign stacks the new signature on the .sig tag's
				}
				if err := SignReferrers(ref, key); err != nil {
					t.Fatal(err)
				}
				digest, err := name.NewDigest(reg.Host + "/r/app@" + d)
				if err != nil {
					t.Fatal(err)
				}
				idx, err := remote.Referrers(digest, remote.WithFilter("artifactType", SigArtifactType))
				if err != nil {
					t.Fatal(err)
				}
				im, err := idx.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				if len(im.Manifests) != 1 || im.Manifests[0].ArtifactType != SigArtifactType {
					t.Fatalf("referrers of %s with artifactType %s = %+v, want one", digest, SigArtifactType, im.Manifests)
				}
				img, err := remote.Image(digest.Context().Digest(im.Manifests[0].Digest.String()))
				if err != nil {
					t.Fatal(err)
				}
				m, err := img.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config.MediaType != SigArtifactType || m.ArtifactType != SigArtifactType {
					t.Errorf("manifest mediaType %q, config %q, artifactType %q", m.MediaType, m.Config.MediaType, m.ArtifactType)
				}
				if m.Subject == nil || m.Subject.Digest.String() != d || m.Subject.Size == 0 || m.Subject.MediaType == "" {
					t.Errorf("subject = %+v, want the image %s with media type and size", m.Subject, d)
				}
				if len(m.Layers) != wantLayers {
					t.Fatalf("layers = %+v, want %d", m.Layers, wantLayers)
				}
				last := m.Layers[len(m.Layers)-1]
				if last.MediaType != "application/vnd.dev.cosign.simplesigning.v1+json" || last.Annotations["dev.cosignproject.cosign/signature"] == "" {
					t.Errorf("signature layer = %+v, want simple signing with the signature annotation", last)
				}
				_, err = remote.Head(digest.Context().Tag("sha256-" + strings.TrimPrefix(d, "sha256:")))
				if gotFallback := err == nil; gotFallback == referrers {
					t.Errorf("sha256-<digest> fallback tag present = %v on a registry with referrers API = %v", gotFallback, referrers)
				}
				if !legacyFirst {
					if _, err := remote.Head(digest.Context().Tag("sha256-" + strings.TrimPrefix(d, "sha256:") + ".sig")); err == nil {
						t.Errorf("a referrer signature must not create the legacy .sig tag")
					}
				}
			})
		}
	}
}

// TestSignReferrersFoundOnlyWithOCI11 shows what the fixture is for: cosign's verifier finds
// it when asked to look through referrers (Kyverno's cosignOCI11), and not otherwise.
func TestSignReferrersFoundOnlyWithOCI11(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		reg := NewRegistry(referrers)
		key, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		other, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		ref := reg.Host + "/r/app:v1"
		if _, err := Push(ref); err != nil {
			t.Fatal(err)
		}
		if err := SignReferrers(ref, key); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			key     *Key
			oci11   bool
			wantErr string // "" = verified
		}{
			{name: "oci11", key: key, oci11: true},
			{name: "legacy lookup", key: key, oci11: false, wantErr: "no signatures found"},
			// With OCI 1.1 failing, cosign falls back to the .sig tag and reports that error.
			{name: "oci11 wrong key", key: other, oci11: true, wantErr: "no signatures found"},
		}
		for _, tc := range tests {
			t.Run(map[bool]string{false: "fallback-tag", true: "referrers-api"}[referrers]+"/"+tc.name, func(t *testing.T) {
				pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(tc.key.PublicPEM))
				if err != nil {
					t.Fatal(err)
				}
				v, err := signature.LoadDefaultVerifier(pub)
				if err != nil {
					t.Fatal(err)
				}
				r, err := name.ParseReference(ref)
				if err != nil {
					t.Fatal(err)
				}
				co := &cosign.CheckOpts{SigVerifier: v, IgnoreTlog: true, IgnoreSCT: true, ClaimVerifier: cosign.SimpleClaimVerifier, ExperimentalOCI11: tc.oci11}
				sigs, _, err := cosign.VerifyImageSignatures(context.Background(), r, co)
				switch {
				case tc.wantErr == "" && (err != nil || len(sigs) != 1):
					t.Fatalf("VerifyImageSignatures = %d signatures, %v; want 1, nil", len(sigs), err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("VerifyImageSignatures error = %v, want one containing %q", err, tc.wantErr)
				}
			})
		}
		reg.Close()
	}
}
