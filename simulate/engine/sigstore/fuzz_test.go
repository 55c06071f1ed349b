package sigstore

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// FuzzGlobMatch: globMatch (policy-controller's glob on the image's normalised name) never
// panics; it fails exactly when the glob does not compile or the image does not parse; `**`
// matches every image that parses; and an image's normalised name, taken as a glob, matches
// the image.
func FuzzGlobMatch(f *testing.F) {
	images := fuzzseed.Strings(f, "resources.yaml", "image")
	for i, glob := range fuzzseed.Strings(f, "policies.yaml", "glob") {
		f.Add(glob, images[i%len(images)])
	}
	const d = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for _, s := range []struct{ glob, image string }{
		{"*", "foo"}, {"*/*", "myuser/myapp"}, {"ghcr.io/*/*", "ghcr.io/foo/bar"}, {"**", "invalid&name"}, {"[a-z]*", "foo"},
		{"ghcr.io/org/app@*", "ghcr.io/org/app" + d}, {"index.docker.io/library/*", "nginx" + d}, {"localhost:5000/**", "localhost:5000/a/b:c"},
	} {
		f.Add(s.glob, s.image)
	}
	f.Fuzz(func(t *testing.T, glob, image string) {
		defer fuzzseed.Watchdog(glob, image)()
		if len(glob)+len(image) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		// The cache keeps every glob compiled; a fuzzer would fill it.
		defer compiled.Delete(glob)
		_, globErr := spol.CompileGlob(glob)
		ref, refErr := name.ParseReference(image, name.WeakValidation)
		_, err := globMatch(glob, image)
		if (err != nil) != (globErr != nil || refErr != nil) {
			t.Fatalf("globMatch(%q, %q) error %v; glob error %v, reference error %v", glob, image, err, globErr, refErr)
		}
		if refErr != nil {
			return
		}
		if ok, err := globMatch("**", image); !ok || err != nil {
			t.Errorf("globMatch(**, %q) = %v, %v", image, ok, err)
		}
		if _, err := spol.CompileGlob(ref.Name()); err == nil {
			defer compiled.Delete(ref.Name())
			if ok, err := globMatch(ref.Name(), image); !ok || err != nil {
				t.Errorf("globMatch(%q, %q) = %v, %v; the image's own name", ref.Name(), image, ok, err)
			}
		}
	})
}
