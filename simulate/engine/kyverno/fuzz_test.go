package kyverno

import (
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
)

// FuzzParseImage: parseImage (Kyverno's GetImageInfo) never panics; an image it reads keeps
// the string as written, has a path and a tag or digest, and its canonical form matches itself
// as an imageReferences pattern. With docker.io as the default registry (every Kyverno
// install's default), the canonical form reads back to itself.
func FuzzParseImage(f *testing.F) {
	for _, image := range fuzzseed.Strings(f, "resources.yaml", "image") {
		f.Add(image, "docker.io", true)
	}
	for _, s := range []string{"nginx", "test/nginx", "localhost:4443/test/nginx", "ghcr.io/x/y:v1@sha256:" + sixtyFour, "Reg/app:v1",
		"my_reg/app", "bad image::", "", "a@sha256:" + sixtyFour} {
		f.Add(s, "docker.io", false)
		f.Add(s, "my.registry:5000", true)
	}
	f.Fuzz(func(t *testing.T, image, defaultRegistry string, mutation bool) {
		defer fuzzseed.Watchdog(image, defaultRegistry, mutation)()
		if len(image)+len(defaultRegistry) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		cfg := DefaultConfig()
		cfg.DefaultRegistry, cfg.EnableDefaultRegistryMutation = defaultRegistry, mutation
		info, err := parseImage(image, cfg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad image: ") {
				t.Fatalf("parseImage(%q) error %q", image, err)
			}
			return
		}
		if info.Raw != image || info.Path == "" || (info.Tag == "" && info.Digest == "") {
			t.Fatalf("parseImage(%q) = %+v", image, info)
		}
		canonical := info.String()
		if !match(canonical, canonical) {
			t.Errorf("%q does not match itself", canonical)
		}
		if defaultRegistry != "docker.io" {
			return
		}
		again, err := parseImage(canonical, cfg)
		if err != nil {
			t.Fatalf("parseImage(%q) = %q, which does not parse: %v", image, canonical, err)
		}
		if again.String() != canonical {
			t.Errorf("parseImage(%q) = %q, which reads as %q", image, canonical, again.String())
		}
	})
}
