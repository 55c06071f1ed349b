package plugin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// fault is what a misbehaving registry does to a request.
type fault func(w http.ResponseWriter, r *http.Request, next http.Handler)

func status(code int, retryAfter string) fault {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, http.StatusText(code), code)
	}
}

// recorded is the registry's own answer to r: its headers already on w, its status and body
// returned for the fault to deliver.
func recorded(next http.Handler, w http.ResponseWriter, r *http.Request) (int, []byte) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	return rec.Code, rec.Body.Bytes()
}

// TestRegistryFaults: for every fault a registry can commit and every engine, the image's
// check is error or fail (never pass), admission denies as each engine's failure policy says
// (all three fail closed by default), the run ends within --timeout, and the message names the
// registry.
func TestRegistryFaults(t *testing.T) {
	const timeout = 2 * time.Second
	faults := []struct {
		name string
		do   fault
	}{
		{"500", status(http.StatusInternalServerError, "")},
		{"502", status(http.StatusBadGateway, "")},
		{"503", status(http.StatusServiceUnavailable, "")},
		{"429 with Retry-After", status(http.StatusTooManyRequests, "1")},
		{"401", status(http.StatusUnauthorized, "")},
		{"403", status(http.StatusForbidden, "")},
		{"connection reset", func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() //nolint:errcheck // the fault
			}
		}},
		{"stalls past the timeout", func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * timeout):
			}
		}},
		{"truncated body", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			code, body := recorded(next, w, r)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(code)
			w.Write(body[:len(body)/2]) //nolint:errcheck // the fault
		}},
		{"content not matching its digest", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			code, body := recorded(next, w, r)
			if strings.Contains(r.URL.Path, "/blobs/") && len(body) > 0 {
				body = append([]byte{}, body...)
				body[len(body)/2] ^= 0x20
			}
			w.WriteHeader(code)
			w.Write(body) //nolint:errcheck // test server
		}},
	}

	for _, engine := range []string{"kyverno", "sigstore", "kubewarden"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // a registry each
			inner := ocireg.New(false, nil)
			var current atomic.Pointer[fault]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if f := current.Load(); f != nil && strings.HasPrefix(r.URL.Path, "/v2/faulty/") {
					(*f)(w, r, inner)
					return
				}
				inner.ServeHTTP(w, r)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			key, _ := verifytest.NewKey()
			ref := host + "/faulty/app:v1"
			if _, err := verifytest.Push(ref); err != nil {
				t.Fatal(err)
			}
			if err := verifytest.Sign(ref, key); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pem := strings.ReplaceAll(strings.TrimSpace(key.PublicPEM), "\n", "\n        ")
			policies := map[string]string{
				"kyverno": keyPolicy(t, dir, host, key),
				"sigstore": writeFile(t, dir, "cip.yaml", `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: faulty}
spec:
  images:
  - glob: "`+host+`/faulty/**"
  authorities:
  - key:
      data: |
        `+pem+`
`),
				"kubewarden": writeFile(t, dir, "cap.yaml", `apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: faulty}
spec:
  module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
  mutating: true
  rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    operations: [CREATE]
  settings:
    signatures:
    - image: "`+host+`/faulty/*"
      pubKeys:
      - |
        `+pem+`
`),
			}
			res := writeFile(t, dir, "pod.yaml", `apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {policy.sigstore.dev/include: "true"}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: prod}
spec:
  containers:
  - {name: app, image: `+ref+`}
`)
			// The image's checks: each engine's, about the Pod's one image.
			imageChecks := func(r report.Result, engine string) []report.Check {
				var cs []report.Check
				for _, c := range r.Checks {
					if c.Engine == engine && c.Path == "/spec/containers/0/image" {
						cs = append(cs, c)
					}
				}
				return cs
			}
			args := []string{"--policy", policies[engine], "-f", res, "--timeout", timeout.String()}
			current.Store(nil)
			rep, code, stderr := simulateJSON(t, args...)
			if code != 0 || len(rep.Results) != 1 || rep.Results[0].Decision != report.Allow {
				t.Fatalf("without a fault: exit %d, %+v (%s); want the Pod allowed, else the faults prove nothing", code, rep.Results, stderr)
			}
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					current.Store(&f.do)
					defer current.Store(nil)
					start := time.Now()
					rep, code, stderr := simulateJSON(t, args...)
					if took := time.Since(start); took > timeout+2*time.Second {
						t.Errorf("the run took %s, past --timeout %s", took, timeout)
					}
					if code != 1 {
						t.Fatalf("exit %d, want 1 (a fault is never a tool error, and never allows): %s", code, stderr)
					}
					var pod report.Result
					for _, r := range rep.Results {
						if r.Resource.Kind == "Pod" {
							pod = r
						}
					}
					if pod.Decision != report.Deny {
						t.Errorf("decision %s, want deny", pod.Decision)
					}
					checks := imageChecks(pod, engine)
					if len(checks) == 0 {
						t.Fatalf("no %s check of the image: %+v", engine, pod.Checks)
					}
					named := false
					for _, c := range checks {
						if c.Result == report.ResultPass {
							t.Errorf("a pass through the fault: %+v", c)
						}
						named = named || strings.Contains(c.Message, host)
					}
					if !named && !strings.Contains(pod.Message, host) {
						t.Errorf("neither the checks nor the denial name the registry %s: %+v / %q", host, checks, pod.Message)
					}
				})
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	write(t, p, content)
	return p
}
