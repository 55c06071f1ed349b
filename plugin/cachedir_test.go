package plugin_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestCacheDirFlags: a --cache-dir that can never be a directory, or a TTL that keeps nothing,
// is a usage error naming it; a directory that cannot be made only costs the cache, with one
// warning.
func TestCacheDirFlags(t *testing.T) {
	dir, _, _ := fixture(t)
	kubeCache := filepath.Join(dir, "kube-cache")
	t.Setenv("KUBECACHEDIR", kubeCache)
	p, f := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "pod.yaml")
	file := filepath.Join(dir, "not-a-dir")
	write(t, file, "")
	tests := []struct {
		name    string
		args    []string
		code    int
		errText string // part of the error, for exit 2
		warning string // a stderr line, for a run that goes on
		kept    string // a directory that must hold the run's verification
		notKept string // a path that must not exist after the run
	}{
		{name: "a regular file", args: []string{"--cache-dir", file}, code: 2, errText: "--cache-dir " + file + ": exists and is not a directory"},
		{name: "TTL zero", args: []string{"--cache-dir", filepath.Join(dir, "c"), "--cache-ttl", "0s"}, code: 2, errText: "--cache-ttl 0s: must be positive"},
		{name: "negative TTL", args: []string{"--cache-ttl", "-1m"}, code: 2, errText: "--cache-ttl -1m0s: must be positive"},
		{name: "under a regular file: warned, run goes on", args: []string{"--cache-dir", filepath.Join(file, "cache")}, code: 0,
			warning: "Warning: --cache-dir: " + filepath.Join(file, "cache", "kubectl-verify") + " cannot keep verifications, verifying without it: "},
		{name: "a new directory", args: []string{"--cache-dir", filepath.Join(dir, "new", "cache"), "--cache-ttl", "10m"}, code: 0,
			kept: filepath.Join(dir, "new", "cache", "kubectl-verify")},
		// cli-runtime's default cache directory is kubectl's: verifications are kept only
		// where the user says.
		{name: "no --cache-dir", code: 0, notKept: filepath.Join(kubeCache, "kubectl-verify")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"simulate", "--policy", p, "-f", f}, tt.args...)
			if tt.code == 2 {
				code, msg := errorOf(t, "", args...)
				if code != 2 || !strings.Contains(msg, tt.errText) {
					t.Fatalf("simulate %v = exit %d %q, want exit 2 with %q", tt.args, code, msg, tt.errText)
				}
				return
			}
			_, stderr, code := run(t, "", args...)
			if code != tt.code {
				t.Fatalf("simulate %v = exit %d, want %d: %s", tt.args, code, tt.code, stderr)
			}
			if n := strings.Count(stderr, "--cache-dir"); tt.warning != "" && (n != 1 || !strings.Contains(stderr, tt.warning)) {
				t.Errorf("stderr %q: want one line starting %q", stderr, tt.warning)
			}
			if tt.warning == "" && strings.Contains(stderr, "Warning") {
				t.Errorf("stderr %q: want no warning", stderr)
			}
			if files, err := os.ReadDir(tt.kept); tt.kept != "" && (err != nil || len(files) != 1) {
				t.Errorf("%s: %d files (%v), want the one verification", tt.kept, len(files), err)
			}
			if _, err := os.Stat(tt.notKept); tt.notKept != "" && !os.IsNotExist(err) {
				t.Errorf("%s exists (%v), want no verification cache without --cache-dir", tt.notKept, err)
			}
		})
	}
}

// TestCacheDirSecondRun: the second run with the same --cache-dir reads no signature from the
// registry (tags are still resolved) and prints the same report.
func TestCacheDirSecondRun(t *testing.T) {
	obs, h := newObserved()
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	k1, _ := verifytest.NewKey()
	refs := pushSigned(t, host, "cached/app", 2, k1)
	dir := t.TempDir()
	policy := keyPolicy(t, dir, host, k1)
	res := pods(t, dir, refs)
	cache := filepath.Join(dir, "cache")
	var outputs []string
	var reads []map[string]int
	for range 2 {
		obs.mu.Lock()
		obs.reads, obs.tagRequests = map[string]int{}, map[string]int{}
		obs.mu.Unlock()
		out, stderr, code := run(t, "", "simulate", "-o", "json", "--policy", policy, "-f", res, "--cache-dir", cache)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		outputs = append(outputs, out)
		obs.mu.Lock()
		reads = append(reads, obs.reads)
		if len(obs.tagRequests) != len(refs) {
			t.Errorf("tags resolved: %v, want each of %v once per run", obs.tagRequests, refs)
		}
		obs.mu.Unlock()
	}
	if diff := cmp.Diff(outputs[0], outputs[1]); diff != "" {
		t.Errorf("second run's report differs (-first +second):\n%s", diff)
	}
	signatureReads := func(m map[string]int) (n int) {
		for what, c := range m {
			if strings.Contains(what, "/blobs/") || strings.Contains(what, ".sig") {
				n += c
			}
		}
		return n
	}
	if signatureReads(reads[0]) == 0 {
		t.Fatalf("first run read no signature: %v", reads[0])
	}
	if n := signatureReads(reads[1]); n != 0 {
		t.Errorf("second run read %d signature manifests or blobs, want none: %v", n, reads[1])
	}
	if files, _ := os.ReadDir(filepath.Join(cache, "kubectl-verify")); len(files) != len(refs) {
		t.Errorf("%d cache entries, want one per image (%d)", len(files), len(refs))
	}
}
