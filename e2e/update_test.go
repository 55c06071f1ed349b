//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// TestClusterUpdate: --operation=UPDATE and the CREATE replay of live objects against a real
// API server, with the objects of scenario update-unchanged (Pods carrying Kyverno's evidence)
// created as they are. The next update of what runs (old object = new object = the live one),
// and the update of the manifests with the live objects as old objects, answer as the
// scenario's files do (itself checked against expected.yaml and the real Kyverno CLI). A
// CREATE replay of the live objects drops Kyverno's annotations first, so it answers as the
// manifests without them. A manifest with no live object is exit 2, named.
func TestClusterUpdate(t *testing.T) {
	p := scenarioNamed(t, "update-unchanged")
	files := p.simulate()
	want := comparable(parseReport(t, files))
	c := startCluster(t)
	c.apply(t, p.files.Resources)

	stripped := withoutVerifyAnnotations(t, p.files.Resources, filepath.Join(c.dir, "stripped.yaml"))
	createFresh := c.verify(t, c.admin, "simulate", "--policy", p.files.Policies, "-f", stripped, "-o", "json")
	wantCreate := comparable(parseReport(t, createFresh))
	if cmp.Equal(want, wantCreate) {
		t.Fatalf("the scenario's UPDATE and the CREATE of its stripped manifests agree: this test would prove nothing")
	}

	tests := []struct {
		name     string
		args     []string
		wantExit int
	}{
		{name: "next update of the live objects", args: []string{"--policy", p.files.Policies, "-A", "--operation=UPDATE"}, wantExit: files.exitCode},
		{name: "update of the manifests, old objects read live", args: []string{"--policy", p.files.Policies, "-f", p.files.Resources, "--operation=UPDATE"}, wantExit: files.exitCode},
		{name: "update of the live objects, old objects from the manifests", args: []string{"--policy", p.files.Policies, "-A", "--operation=UPDATE", "--old-filename", p.files.Resources}, wantExit: files.exitCode},
		{name: "create replay of the live objects", args: []string{"--policy", p.files.Policies, "-A"}, wantExit: createFresh.exitCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.verify(t, c.admin, append([]string{"simulate", "-o", "json"}, tc.args...)...)
			got := comparable(parseReport(t, r))
			w := want
			if !strings.Contains(strings.Join(tc.args, " "), "UPDATE") {
				w = wantCreate
			}
			if d := cmp.Diff(w, got); d != "" {
				t.Errorf("%s: results differ (-want +got):\n%s\nstderr:\n%s", r.cmdline, d, r.stderr)
			}
			if r.exitCode != tc.wantExit {
				t.Errorf("%s: exit %d, want %d", r.cmdline, r.exitCode, tc.wantExit)
			}
		})
	}

	t.Run("manifest with no live object", func(t *testing.T) {
		absent := filepath.Join(c.dir, "absent.yaml")
		if err := os.WriteFile(absent, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: absent, namespace: default}\nspec:\n  containers:\n  - {name: app, image: nginx}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := c.verify(t, c.admin, "simulate", "--policy", p.files.Policies, "-f", absent, "--operation=UPDATE", "-o", "json")
		if r.exitCode != 2 {
			t.Fatalf("%s: exit %d, want 2\nstdout:\n%s", r.cmdline, r.exitCode, r.stdout)
		}
		if w := "Pod default/absent (" + absent + ":1) does not exist in the cluster"; !strings.Contains(string(r.stderr), w) {
			t.Errorf("%s: stderr should say %q:\n%s", r.cmdline, w, r.stderr)
		}
	})
}

// withoutVerifyAnnotations writes the manifests of path to out without Kyverno's two verify
// annotations (the annotations map stays, possibly empty, as Kyverno's background scan leaves
// it).
func withoutVerifyAnnotations(t testing.TB, path, out string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, o := range objs {
		meta, _ := o.Obj["metadata"].(map[string]any)
		if ann, ok := meta["annotations"].(map[string]any); ok {
			delete(ann, "kyverno.io/verify-images")
			delete(ann, "kyverno.io/verify-images-scoped")
		}
		b, err := yaml.Marshal(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if err := os.WriteFile(out, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
