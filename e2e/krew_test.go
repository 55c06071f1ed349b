//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/krew"
)

// goreleaserMetadata is the part of dist/metadata.json the test reads.
type goreleaserMetadata struct {
	Version string `json:"version"`
}

// TestKrewInstall is the release path on this machine: GoReleaser's archive (make dist), the
// manifest rendered from .krew.yaml for it as krew-release-bot renders one for a release,
// served from a loopback "release" server; validated by krew-index's own validator (which
// installs each platform through the real krew); then installed with the real krew into a
// temporary KREW_ROOT from --manifest and --archive, and run through kubectl.
func TestKrewInstall(t *testing.T) {
	dist := filepath.Join(s.root, "dist")
	hb := filepath.Join(s.root, "hack", "bin")
	for _, p := range []string{filepath.Join(dist, "metadata.json"), filepath.Join(hb, "kubectl-krew"), filepath.Join(hb, "validate-krew-manifest")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run `make dist tools` (make e2e does)", err)
		}
	}
	var meta goreleaserMetadata
	readJSON(t, filepath.Join(dist, "metadata.json"), &meta)
	sums := checksums(t, filepath.Join(dist, "checksums.txt"))

	// The release: dist/ over HTTP on loopback; the manifest points there.
	srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer srv.Close()
	tmpl, err := os.ReadFile(filepath.Join(s.root, ".krew.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tag := "v" + meta.Version
	manifest, missing, err := krew.Render(tmpl, tag, func(url string) (string, string, bool, error) {
		name := path.Base(url)
		if !strings.HasPrefix(url, "https://github.com/kubectl-verify/kubectl-verify/releases/download/"+tag+"/") {
			return "", "", false, fmt.Errorf("not an asset of release %s", tag)
		}
		if _, err := os.Stat(filepath.Join(dist, name)); err != nil {
			return "", "", false, nil // a platform make dist does not build
		}
		// As the bot does: the digest of what the release serves.
		uri := srv.URL + "/" + name
		sum, err := download(uri)
		if err != nil {
			return "", "", false, err
		}
		if sums[name] != sum {
			return "", "", false, fmt.Errorf("served sha256 %s, checksums.txt says %q", sum, sums[name])
		}
		return uri, sum, true, nil
	})
	if err != nil {
		t.Fatalf("rendering .krew.yaml: %v", err)
	}
	t.Logf("manifest rendered for %s; platforms without a local archive left out: %v", tag, missing)
	if !bytes.Contains(manifest, []byte("kubectl-verify_linux_amd64.tar.gz")) {
		t.Fatalf("the linux/amd64 archive is not in the manifest:\n%s", manifest)
	}
	dir := t.TempDir()
	// krew-index names a manifest after its plugin.
	manifestFile := filepath.Join(dir, "verify.yaml")
	if err := os.WriteFile(manifestFile, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	kubectlDir := filepath.Dir(s.kubectl)
	toolsPath := "PATH=" + hb + ":" + kubectlDir + ":/usr/bin:/bin"

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Run("validate as krew-index does", func(t *testing.T) {
		r := execEnv(ctx, dir, []string{toolsPath}, filepath.Join(hb, "validate-krew-manifest"), "-manifest", manifestFile)
		if r.exitCode != 0 || r.err != nil {
			t.Fatalf("%s: exit %d %v\n%s%s", r.cmdline, r.exitCode, r.err, r.stdout, r.stderr)
		}
		for _, want := range []string{"structural validation OK", "no overlapping spec.platform[].selector", "spec.platforms installed fine"} {
			if !bytes.Contains(append(r.stdout, r.stderr...), []byte(want)) {
				t.Errorf("validator output lacks %q:\n%s%s", want, r.stdout, r.stderr)
			}
		}
	})

	krewRoot := filepath.Join(dir, "krew")
	archive := filepath.Join(dist, "kubectl-verify_linux_amd64.tar.gz")
	install := execEnv(ctx, dir, []string{toolsPath, "KREW_ROOT=" + krewRoot}, s.kubectl, "krew", "install", "--manifest="+manifestFile, "--archive="+archive)
	if install.exitCode != 0 || install.err != nil {
		t.Fatalf("%s: exit %d %v\n%s%s", install.cmdline, install.exitCode, install.err, install.stdout, install.stderr)
	}
	if !bytes.Contains(install.stderr, []byte(`Installed plugin: verify`)) {
		t.Errorf("krew install said:\n%s%s", install.stdout, install.stderr)
	}

	// kubectl finds the plugin krew installed, and nothing else named kubectl-verify.
	installed := []string{"PATH=" + filepath.Join(krewRoot, "bin") + ":" + kubectlDir + ":/usr/bin:/bin", "KREW_ROOT=" + krewRoot}
	kubectl := func(args ...string) runResult {
		return execEnv(ctx, dir, installed, s.kubectl, args...)
	}
	if r := kubectl("plugin", "list", "--name-only"); !bytes.Contains(r.stdout, []byte("kubectl-verify")) {
		t.Errorf("kubectl plugin list:\n%s%s", r.stdout, r.stderr)
	}

	t.Run("version", func(t *testing.T) {
		head, err := exec.Command("git", "-C", s.root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		r := kubectl("verify", "version")
		want := fmt.Sprintf("kubectl-verify %s (commit %s)\n", meta.Version, strings.TrimSpace(string(head)))
		if r.exitCode != 0 || !strings.HasPrefix(string(r.stdout), want) || meta.Version == "" {
			t.Errorf("kubectl verify version = exit %d %q, want it to start %q (dist/ not from HEAD? make dist)\n%s", r.exitCode, r.stdout, want, r.stderr)
		}
	})

	t.Run("files-only simulate", func(t *testing.T) {
		p := scenarioNamed(t, "three-engines")
		args := append([]string{"verify", "simulate", "--policy", p.files.Policies, "-f", p.files.Resources, "-o", "json"}, p.files.Args...)
		r := execEnv(ctx, p.dir, installed, s.kubectl, args...)
		dev := execCmd(ctx, p.dir, s.kubectl, args...) // the binary built from this tree
		if r.err != nil || r.exitCode != 1 {
			t.Fatalf("%s: exit %d %v, want 1 (Pods denied)\n%s", r.cmdline, r.exitCode, r.err, r.stderr)
		}
		if !bytes.Equal(r.stdout, dev.stdout) || r.exitCode != dev.exitCode {
			t.Errorf("installed plugin's report differs from the tree's binary (exit %d, %d):\n%s\n---\n%s", r.exitCode, dev.exitCode, r.stdout, dev.stdout)
		}
	})

	t.Run("completion through kubectl", func(t *testing.T) {
		shims, err := filepath.Glob(filepath.Join(krewRoot, "store", "verify", "*", "kubectl_complete-verify"))
		if err != nil || len(shims) != 1 {
			t.Fatalf("kubectl_complete-verify in the krew store: %v %v", shims, err)
		}
		// What the caveats tell users to do.
		if err := os.Symlink(shims[0], filepath.Join(krewRoot, "bin", "kubectl_complete-verify")); err != nil {
			t.Fatal(err)
		}
		r := kubectl("__complete", "verify", "simulate", "--fail-on", "")
		if got := strings.Fields(string(r.stdout)); strings.Join(got, " ") != "deny warn never :4" {
			t.Errorf("kubectl __complete verify simulate --fail-on '' = %q (exit %d %s)", r.stdout, r.exitCode, r.stderr)
		}
		r = kubectl("__complete", "verify", "")
		for _, want := range []string{"simulate", "images", "policies", "pin", "version", "completion"} {
			if !bytes.Contains(r.stdout, []byte(want+"\t")) {
				t.Errorf("kubectl __complete verify '' lacks %s:\n%s", want, r.stdout)
			}
		}
	})
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// checksums reads GoReleaser's checksums.txt (sha256sum's format).
func checksums(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sum, name, ok := strings.Cut(sc.Text(), "  "); ok {
			out[name] = sum
		}
	}
	return out
}

func download(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
