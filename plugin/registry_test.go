package plugin_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// observed wraps an in-process registry and records what reaches it.
type observed struct {
	mu sync.Mutex
	// repos counts requests in flight per repository; maxRepos is the most repositories
	// seen in flight at once.
	repos       map[string]int
	maxRepos    int
	tagRequests map[string]int // manifest requests by tag (not digest, not signature tags)
	reads       map[string]int // GET/HEAD of manifests and blobs, by method and path
	auth        string         // when set, the Basic credentials every request must carry
	block       chan struct{}  // when set, manifest requests wait on it
}

func (o *observed) ServeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.auth != "" && r.Header.Get("Authorization") != "Basic "+o.auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		repo := repoOf(r.URL.Path)
		o.mu.Lock()
		if repo != "" {
			o.repos[repo]++
			if len(o.repos) > o.maxRepos {
				o.maxRepos = len(o.repos)
			}
		}
		if strings.Contains(r.URL.Path, "/manifests/") || strings.Contains(r.URL.Path, "/blobs/") {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				o.reads[r.Method+" "+r.URL.Path]++
			}
		}
		if i := strings.Index(r.URL.Path, "/manifests/"); i >= 0 {
			ref := r.URL.Path[i+len("/manifests/"):]
			if !strings.HasPrefix(ref, "sha256") {
				o.tagRequests[strings.TrimPrefix(r.URL.Path[:i], "/v2/")+":"+ref]++
			}
		}
		block := o.block
		o.mu.Unlock()
		if block != nil && strings.Contains(r.URL.Path, "/manifests/") {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
		// Leave the in-flight count when the answer starts, which happens before the client
		// can read it and send its next request.
		done := sync.OnceFunc(func() {
			o.mu.Lock()
			if repo != "" {
				if o.repos[repo]--; o.repos[repo] == 0 {
					delete(o.repos, repo)
				}
			}
			o.mu.Unlock()
		})
		next.ServeHTTP(&answering{ResponseWriter: w, start: done}, r)
		done()
	})
}

type answering struct {
	http.ResponseWriter
	start func()
}

func (a *answering) WriteHeader(code int) {
	a.start()
	a.ResponseWriter.WriteHeader(code)
}

func (a *answering) Write(b []byte) (int, error) {
	a.start()
	return a.ResponseWriter.Write(b)
}

// repoOf is the repository a /v2/<repo>/(manifests|blobs)/... request is about.
func repoOf(path string) string {
	path = strings.TrimPrefix(path, "/v2/")
	for _, sep := range []string{"/manifests/", "/blobs/"} {
		if i := strings.Index(path, sep); i >= 0 {
			return path[:i]
		}
	}
	return ""
}

func newObserved() (*observed, http.Handler) {
	o := &observed{tagRequests: map[string]int{}, repos: map[string]int{}, reads: map[string]int{}}
	return o, o.ServeHTTP(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
}

// keyPolicy writes a ClusterPolicy that enforces signatures by keys on host/*.
func keyPolicy(t *testing.T, dir, host string, keys ...*verifytest.Key) string {
	t.Helper()
	var pems []string
	for _, k := range keys {
		pems = append(pems, strings.TrimSpace(k.PublicPEM))
	}
	pem := strings.ReplaceAll(strings.Join(pems, "\n"), "\n", "\n              ")
	p := filepath.Join(dir, "policy.yaml")
	write(t, p, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: check-image}
spec:
  rules:
  - name: check-image
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - failureAction: Enforce
      imageReferences: ["`+host+`/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              `+pem+`
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`)
	return p
}

func pods(t *testing.T, dir string, images ...[]string) string {
	t.Helper()
	var docs []string
	for i, imgs := range images {
		var cs []string
		for j, im := range imgs {
			cs = append(cs, fmt.Sprintf("  - {name: c%d, image: %s}", j, im))
		}
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers:\n%s\n", i, strings.Join(cs, "\n")))
	}
	p := filepath.Join(dir, "pods.yaml")
	write(t, p, strings.Join(docs, "---\n"))
	return p
}

// signatureCheck is the verify-phase check of a result (not the digest-update error, which
// Kyverno always records as error).
func signatureCheck(t *testing.T, r report.Result) report.Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Message, "failed to verify image") || strings.HasPrefix(c.Message, "verified image signatures") {
			return c
		}
	}
	t.Fatalf("no signature check among %+v", r.Checks)
	return report.Check{}
}

func simulateJSON(t *testing.T, args ...string) (report.SimulationReport, int, string) {
	t.Helper()
	out, stderr, code := run(t, "", append([]string{"simulate", "-o", "json"}, args...)...)
	var rep report.SimulationReport
	if code != 2 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report does not parse: %v\n%s", err, out)
		}
	}
	return rep, code, stderr
}

// privateImage is a signed image in a registry that wants Basic alice:s3cret; creds is
// that pair base64-encoded, as docker config files hold it.
func privateImage(t *testing.T) (host, ref, creds string, key *verifytest.Key) {
	t.Helper()
	obs, h := newObserved()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	creds = base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	obs.auth = creds
	auth := remote.WithAuth(basicAuth{"alice", "s3cret"})
	key, _ = verifytest.NewKey()
	ref = host + "/private/app:v1"
	if _, err := verifytest.Push(ref, auth); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key, auth); err != nil {
		t.Fatal(err)
	}
	return host, ref, creds, key
}

func TestRegistryConfigCredentials(t *testing.T) {
	host, ref, creds, key := privateImage(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir) // the usual lookup finds no credentials
	policy, res := keyPolicy(t, dir, host, key), pods(t, dir, []string{ref})
	cfg := filepath.Join(dir, "registry.json")
	write(t, cfg, `{"auths":{"`+host+`":{"auth":"`+creds+`"}}}`)

	tests := []struct {
		name         string
		args         []string
		wantDecision string
		wantResult   string
	}{
		{"with --registry-config", []string{"--registry-config", cfg}, report.Allow, report.ResultPass},
		// 401 is an HTTP error: Kyverno records fail, not error (spec/kyverno.md §4.1).
		{"without credentials", nil, report.Deny, report.ResultFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, code, stderr := simulateJSON(t, append([]string{"--policy", policy, "-f", res}, tt.args...)...)
			if code == 2 {
				t.Fatalf("exit 2: %s", stderr)
			}
			r := rep.Results[0]
			if c := signatureCheck(t, r); r.Decision != tt.wantDecision || c.Result != tt.wantResult {
				t.Errorf("decision %s, signature check %s (%s); want %s, %s", r.Decision, c.Result, c.Message, tt.wantDecision, tt.wantResult)
			}
		})
	}
	if _, _, code := run(t, "", "simulate", "--policy", policy, "-f", res, "--registry-config", filepath.Join(dir, "missing.json")); code != 2 {
		t.Errorf("--registry-config on a missing file: exit %d, want 2", code)
	}
}

type basicAuth struct{ user, pass string }

func (b basicAuth) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.user, Password: b.pass}, nil
}

func TestInsecureRegistry(t *testing.T) {
	_, h := newObserved()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	trust := remote.WithTransport(srv.Client().Transport)
	key, _ := verifytest.NewKey()
	ref := host + "/tls/app:v1"
	if _, err := verifytest.Push(ref, trust); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key, trust); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policy, res := keyPolicy(t, dir, host, key), pods(t, dir, []string{ref})
	rep, code, stderr := simulateJSON(t, "--policy", policy, "-f", res, "--insecure-registry", host)
	if code != 0 || rep.Results[0].Decision != report.Allow {
		t.Errorf("--insecure-registry %s: exit %d, %+v (stderr %s), want an allowed, verified Pod", host, code, rep.Results, stderr)
	}
	rep, code, _ = simulateJSON(t, "--policy", policy, "-f", res)
	if code != 1 || rep.Results[0].Decision != report.Deny || signatureCheck(t, rep.Results[0]).Result == report.ResultPass {
		t.Errorf("self-signed registry without --insecure-registry: exit %d, %+v; want denied, never pass", code, rep.Results)
	}
}

func TestTimeoutBoundsTheRun(t *testing.T) {
	obs, h := newObserved()
	obs.block = make(chan struct{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer close(obs.block)
	host := strings.TrimPrefix(srv.URL, "http://")
	key, _ := verifytest.NewKey()
	dir := t.TempDir()
	policy, res := keyPolicy(t, dir, host, key), pods(t, dir, []string{host + "/slow/app:v1"})
	rep, code, stderr := simulateJSON(t, "--policy", policy, "-f", res, "--timeout", "300ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a registry that never answers is a failed check, not a tool error): %s", code, stderr)
	}
	c := signatureCheck(t, rep.Results[0])
	if c.Result != report.ResultFail || !strings.Contains(c.Message, "context deadline exceeded") {
		t.Errorf("check = %s %q, want fail with context deadline exceeded (Kyverno records timeouts as fail)", c.Result, c.Message)
	}
}

// pushSigned pushes n images under host/<prefix>N:v1, each signed by keys.
func pushSigned(t *testing.T, host, prefix string, n int, keys ...*verifytest.Key) []string {
	t.Helper()
	var refs []string
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("%s/%s%d:v1", host, prefix, i)
		if _, err := verifytest.Push(ref); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := verifytest.Sign(ref, k); err != nil {
				t.Fatal(err)
			}
		}
		refs = append(refs, ref)
	}
	return refs
}

// TestParallelBound: --parallel N bounds how many resources are evaluated at once. Each Pod
// has its own repository, so repositories in flight at once count resources in flight.
func TestParallelBound(t *testing.T) {
	obs, h := newObserved()
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	key, _ := verifytest.NewKey()
	refs := pushSigned(t, host, "bound/app", 8, key)
	dir := t.TempDir()
	policy := keyPolicy(t, dir, host, key)
	var podImages [][]string
	for _, r := range refs {
		podImages = append(podImages, []string{r})
	}
	res := pods(t, dir, podImages...)
	var reports []string
	for _, n := range []string{"1", "8"} {
		obs.mu.Lock()
		obs.maxRepos = 0
		obs.mu.Unlock()
		rep, code, stderr := simulateJSON(t, "--policy", policy, "-f", res, "--parallel", n)
		if code != 0 {
			t.Fatalf("--parallel %s: exit %d: %s", n, code, stderr)
		}
		obs.mu.Lock()
		if n == "1" && obs.maxRepos != 1 {
			t.Errorf("--parallel 1: %d resources evaluated at once, want 1", obs.maxRepos)
		}
		obs.mu.Unlock()
		b, _ := json.Marshal(rep)
		reports = append(reports, string(b))
	}
	if reports[0] != reports[1] {
		t.Error("--parallel 8 report differs from --parallel 1")
	}
}

// TestTagResolvedOnce: every Pod runs an image twice, every image is in two Pods, two keys
// are checked for each, and three pipelines (checks, admission, if-enforced) replay it: each
// tag is still resolved once per run.
func TestTagResolvedOnce(t *testing.T) {
	obs, h := newObserved()
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	k1, _ := verifytest.NewKey()
	k2, _ := verifytest.NewKey()
	refs := pushSigned(t, host, "once/app", 4, k1, k2)
	dir := t.TempDir()
	policy := keyPolicy(t, dir, host, k1, k2)
	var podImages [][]string
	for i := range refs {
		podImages = append(podImages, []string{refs[i], refs[i], refs[(i+1)%len(refs)]})
	}
	res := pods(t, dir, podImages...)
	obs.mu.Lock()
	obs.tagRequests, obs.reads = map[string]int{}, map[string]int{}
	obs.mu.Unlock()
	if _, code, stderr := simulateJSON(t, "--policy", policy, "-f", res); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// Two keys check the same signatures: the signature manifest and its layers are still
	// read once per run.
	for what, n := range obs.reads {
		if n != 1 {
			t.Errorf("%s read %d times, want once per run", what, n)
		}
	}
	if len(obs.reads) == 0 {
		t.Error("no registry reads observed: the check proves nothing")
	}
	for _, ref := range refs {
		tag := strings.TrimPrefix(ref, host+"/")
		if n := obs.tagRequests[tag]; n != 1 {
			t.Errorf("tag %s resolved %d times, want once per run", tag, n)
		}
	}
}

// TestFilesNeverContactTheCluster: policies and resources from files make no API request,
// even with a kubeconfig pointing at a server.
func TestFilesNeverContactTheCluster(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer api.Close()
	dir, _, _ := fixture(t)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	write(t, kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+api.URL+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team}}]
current-context: x
`)
	t.Setenv("KUBECONFIG", kubeconfig)
	rep, code, stderr := simulateJSON(t, "--policy", filepath.Join(dir, "policy.yaml"), "-f", filepath.Join(dir, "pod.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if ns := rep.Results[0].Resource.Namespace; ns != "team" {
		t.Errorf("namespace = %q, want the kubeconfig context's %q", ns, "team")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Errorf("files+files mode made API requests: %v", seen)
	}
}

// TestPullSecretsWithoutCluster: a Pod whose registry needs its imagePullSecrets, evaluated
// from files (no cluster, so the secrets cannot be read): the registry's refusal is not
// Kyverno's verdict but a kubectl-verify error, once on stderr.
func TestPullSecretsWithoutCluster(t *testing.T) {
	host, ref, _, key := privateImage(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	policy := keyPolicy(t, dir, host, key)
	pod := filepath.Join(dir, "pod.yaml")
	write(t, pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team}\nspec:\n  imagePullSecrets: [{name: regcred}]\n  containers:\n  - {name: a, image: "+ref+"}\n")
	rep, code, stderr := simulateJSON(t, "--policy", policy, "-f", pod)
	if code != 1 || rep.Summary.Incomplete != 1 {
		t.Fatalf("exit %d, summary %+v, want a fail-closed incomplete result", code, rep.Summary)
	}
	want := "the registry refused access and registry credentials team/regcred are Secrets in the cluster, and this run reads none"
	if c := signatureCheckOrTool(rep.Results[0]); c.Result != report.ResultError || c.Message != "kubectl-verify: "+want {
		t.Errorf("check = %s %q, want error %q", c.Result, c.Message, want)
	}
	if n := strings.Count(stderr, want); n != 1 {
		t.Errorf("stderr mentions it %d times, want once:\n%s", n, stderr)
	}
}

func signatureCheckOrTool(r report.Result) report.Check {
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Message, "kubectl-verify: ") {
			return c
		}
	}
	return report.Check{}
}
