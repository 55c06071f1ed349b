package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestListenAddress(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "loopback IPv4", args: []string{"--address", "127.0.0.1:0"}},
		{name: "localhost", args: []string{"--address", "localhost:0"}},
		{name: "default is loopback", args: nil},
		{name: "all interfaces", args: []string{"--address", "0.0.0.0:0"}, wantErr: "only loopback"},
		{name: "empty host", args: []string{"--address", ":0"}, wantErr: "only loopback"},
		{name: "other host", args: []string{"--address", "example.com:5000"}, wantErr: "only loopback"},
		{name: "no port", args: []string{"--address", "127.0.0.1"}, wantErr: "missing port"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _, err := listen(tc.args, io.Discard)
			if l != nil {
				defer l.Close() //nolint:errcheck // test cleanup
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("listen(%q) = %v, want a listener", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("listen(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// TestRunServesReferrers is the reason the program exists: a manifest with a subject is
// listed by GET /v2/<repo>/referrers/<digest>, which `crane registry serve` answers with 404.
func TestRunServesReferrers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--address", "127.0.0.1:0"}, pw)
		pw.Close() //nolint:errcheck // ends the reader below
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no start line; run returned %v", <-done)
	}
	addr := lines.Text()[strings.LastIndex(lines.Text(), " ")+1:]

	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(addr + "/test/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	const artifactType = "application/vnd.example.test+json"
	ref := mutate.Subject(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), artifactType), *desc).(v1.Image)
	refDigest, err := ref.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag.Context().Digest(refDigest.String()), ref); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + addr + "/v2/test/app/referrers/" + desc.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test cleanup
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET referrers: %s", resp.Status)
	}
	var idx v1.IndexManifest
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != refDigest || idx.Manifests[0].ArtifactType != artifactType {
		t.Fatalf("referrers = %+v, want one %s of type %s", idx.Manifests, refDigest, artifactType)
	}
	// The fallback tag is what a client writes when the API is missing; this registry must
	// not need it.
	if _, err := remote.Head(tag.Context().Tag(strings.Replace(desc.Digest.String(), ":", "-", 1))); err == nil {
		t.Errorf("a sha256-<digest> fallback tag exists: the client did not see the referrers API")
	}

	cancel()
	if !lines.Scan() || lines.Text() != "stopped" {
		t.Errorf("after cancel: line %q, want \"stopped\"", lines.Text())
	}
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

// TestSIGTERM runs the built program, since the harness stops it with a signal.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), "referrers-registry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--address", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() {
		_ = cmd.Process.Kill()
		t.Fatalf("no start line: %v", cmd.Wait())
	}
	addr := lines.Text()[strings.LastIndex(lines.Text(), " ")+1:]
	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	resp.Body.Close() //nolint:errcheck // only the status matters
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/: %s", resp.Status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v (output %q)", err, rest)
	}
	if len(rest) != 1 || rest[0] != "stopped" {
		t.Errorf("output after SIGTERM = %q, want [stopped]", rest)
	}
}
