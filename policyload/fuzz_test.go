package policyload

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// FuzzFromObjects is loading a --policy file: manifest.Parse, then FromObjects. It never
// panics; an error is an *Error naming the file; every policy loaded names the object it came
// from; and settling public trust never panics either.
func FuzzFromObjects(f *testing.F) {
	for _, data := range fuzzseed.Files(f, "policies.yaml") {
		f.Add(data)
	}
	f.Add([]byte("apiVersion: policies.kyverno.io/v1alpha1\nkind: ImageValidatingPolicy\nmetadata:\n  name: ivp\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-a-policy\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzseed.Watchdog(data)()
		if len(data) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		objs, err := manifest.Parse(data, "policies.yaml")
		if err != nil {
			return
		}
		set, err := FromObjects(objs, "default")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Source, "policies.yaml:") || err.Error() == "" {
				t.Fatalf("FromObjects error %q (%T) does not name the file", err, err)
			}
			return
		}
		var sources []string
		for _, o := range objs {
			sources = append(sources, o.Source)
		}
		for _, p := range set.Kyverno {
			if !slices.Contains(sources, p.Source) {
				t.Errorf("Kyverno %s %s: Source %q is no object's", p.Kind, p.Key(), p.Source)
			}
		}
		for _, p := range set.Sigstore {
			if !slices.Contains(sources, p.Source) {
				t.Errorf("ClusterImagePolicy %s: Source %q is no object's", p.Name, p.Source)
			}
		}
		for _, p := range set.Kubewarden {
			if !slices.Contains(sources, p.Source) {
				t.Errorf("%s %s: Source %q is no object's", p.Kind, p.Key(), p.Source)
			}
		}
		for _, p := range set.ImageValidating {
			if !slices.Contains(sources, p.Source) {
				t.Errorf("%s %s: Source %q is no object's", p.Kind, p.Key(), p.Source)
			}
		}
		if n := len(set.Kyverno) + len(set.Sigstore) + len(set.Kubewarden) + len(set.SigstoreTrustRoots) + len(set.ImageValidating); n > len(objs) {
			t.Errorf("%d policies from %d objects", n, len(objs))
		}
		set.RequirePublicTrust(false)
	})
}
