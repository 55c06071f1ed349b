package verifytest

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestSignBundleStored proves the bundle fixture is present where cosign v3 puts it: as a
// referrer (served by the referrers API, or through the sha256-<digest> fallback tag).
func TestSignBundleStored(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "fallback-tag", true: "referrers-api"}[referrers], func(t *testing.T) {
			reg := NewRegistry(referrers)
			defer reg.Close()
			key, err := NewKey()
			if err != nil {
				t.Fatal(err)
			}
			ref := reg.Host + "/b/app:v1"
			d, err := Push(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := SignBundle(ref, key); err != nil {
				t.Fatal(err)
			}
			digest, err := name.NewDigest(reg.Host + "/b/app@" + d)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := remote.Referrers(digest)
			if err != nil {
				t.Fatal(err)
			}
			m, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Manifests) != 1 {
				t.Fatalf("referrers of %s = %+v, want one", digest, m.Manifests)
			}
			img, err := remote.Image(digest.Context().Digest(m.Manifests[0].Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			rm, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(rm.Layers) != 1 || !strings.Contains(string(rm.Layers[0].MediaType), "sigstore.bundle") {
				t.Fatalf("referrer layers = %+v, want one sigstore bundle layer", rm.Layers)
			}
			if _, err := remote.Head(digest.Context().Tag("sha256-" + strings.TrimPrefix(d, "sha256:") + ".sig")); err == nil {
				t.Errorf("a bundle must not create the legacy .sig tag")
			}
		})
	}
}
