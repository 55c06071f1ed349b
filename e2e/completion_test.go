//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClusterCompletion: `kubectl verify <TAB>` against a real API server, the way a shell
// asks kubectl, which runs kubectl_complete-verify, which asks the plugin.
func TestClusterCompletion(t *testing.T) {
	p := scenarioNamed(t, "three-engines")
	c := startCluster(t)
	c.apply(t, p.files.Resources, p.files.Policies)
	shims := t.TempDir()
	if err := os.Symlink(filepath.Join(s.root, "krew", "kubectl_complete-verify"), filepath.Join(shims, "kubectl_complete-verify")); err != nil {
		t.Fatal(err)
	}
	complete := func(t *testing.T, args ...string) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r := execEnv(ctx, c.dir, []string{"KUBECONFIG=" + c.admin, "PATH=" + shims + ":" + s.pathDir + ":/usr/local/bin:/usr/bin:/bin"},
			s.kubectl, append([]string{"__complete", "verify"}, args...)...)
		if r.err != nil || r.exitCode != 0 {
			t.Fatalf("%s: exit %d %v\n%s", r.cmdline, r.exitCode, r.err, r.stderr)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(r.stdout)), "\n") {
			name, _, _ := strings.Cut(l, "\t")
			got = append(got, name)
		}
		return got
	}
	tests := []struct {
		name    string
		args    []string
		want    []string // among the candidates
		exactly bool     // and nothing else (but the directive)
	}{
		{name: "resource types", args: []string{"simulate", ""}, want: []string{"pods", "deployments.apps", "cronjobs.batch", "clusterpolicies.kyverno.io"}},
		{name: "resource types by prefix", args: []string{"images", "dep"}, want: []string{"deployments.apps", ":4"}, exactly: true},
		{name: "names after TYPE/", args: []string{"simulate", "-n", "prod", "pods/"}, want: []string{"pods/all", "pods/kubewarden-only", "pods/no-kubewarden", ":4"}, exactly: true},
		{name: "names after TYPE", args: []string{"simulate", "-n", "prod", "pods", "no"}, want: []string{"no-kubewarden", ":4"}, exactly: true},
		{name: "namespaces", args: []string{"simulate", "-n", "pr"}, want: []string{"prod", ":4"}, exactly: true},
		{name: "policy names", args: []string{"policies", ""}, want: []string{"kyverno-keys", "sigstore-keys", "signed-by-kw", ":4"}, exactly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(t, tt.args...)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("kubectl __complete verify %v = %v, want %q among them", tt.args, got, w)
				}
			}
			if tt.exactly && len(got) != len(tt.want) {
				t.Errorf("kubectl __complete verify %v = %v, want exactly %v", tt.args, got, tt.want)
			}
		})
	}
}
