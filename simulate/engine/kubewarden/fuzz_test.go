package kubewarden

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/wildcard"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// FuzzSignatureImage: verify-image-signatures' selection, a signatures[].image raw-string
// glob against the image as written, never panics; an image the glob matches gets one check
// (here a pass) and is pinned unless it already names the digest; any other image is not
// selected and left alone.
func FuzzSignatureImage(f *testing.F) {
	images := fuzzseed.Strings(f, "resources.yaml", "image")
	for i, glob := range fuzzseed.Strings(f, "policies.yaml", "image") {
		f.Add(glob, images[i%len(images)])
	}
	for _, s := range []struct{ glob, image string }{
		{"reg/*", "reg/a:v1"}, {"reg/*", "reg/a:v1@" + d1}, {"*", ""}, {"reg/?", "reg/é"}, {"ghcr.io/acme/*", "ghcr.io/other/app"},
	} {
		f.Add(s.glob, s.image)
	}
	f.Fuzz(func(t *testing.T, glob, image string) {
		defer fuzzseed.Watchdog(glob, image)()
		if len(glob)+len(image) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		p := policy("p", func(p *kpol.Policy) { p.Settings.Signatures[0].Image = glob })
		e := &Engine{Policies: []*kpol.Policy{p}, Verifier: &fakeVerifier{digests: map[string]string{image: d1}}}
		obj := pod("default", nil, []string{image}, nil)
		d := e.decide(context.Background(), p, obj)
		if len(containers(obj)) == 0 {
			if len(d.checks)+len(d.notChecked)+len(d.patch) > 0 {
				t.Fatalf("no image, yet checks %v, not checked %v, patch %v", d.checks, d.notChecked, d.patch)
			}
			return
		}
		if !wildcard.Match(glob, image) {
			if len(d.checks) != 0 || len(d.patch) != 0 || len(d.notChecked) != 1 || d.notChecked[0].Reason != "image-not-selected" {
				t.Fatalf("glob %q misses %q, yet checks %v, not checked %v, patch %v", glob, image, d.checks, d.notChecked, d.patch)
			}
			return
		}
		if len(d.checks) != 1 || d.checks[0].Result != report.ResultPass || d.checks[0].Digest != d1 || d.rejected != "" {
			t.Fatalf("glob %q matches %q, yet checks %+v, rejected %q", glob, image, d.checks, d.rejected)
		}
		wantPatch := 1
		if strings.Contains(image, d1) {
			wantPatch = 0
		}
		if len(d.patch) != wantPatch || (wantPatch == 1 && d.patch[0].Value != image+"@"+d1) {
			t.Errorf("image %q: patch %+v", image, d.patch)
		}
	})
}
