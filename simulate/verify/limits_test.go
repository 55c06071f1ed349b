package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestOversizedAnswersRefused: a registry answer over its limit, announced or streamed, fails
// the check with an error naming the URL and the limit; nothing over the limit is read, and
// nothing passes.
func TestOversizedAnswersRefused(t *testing.T) {
	const huge = 17 << 20 // over the 16 MiB limit on manifests
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter)
	}{
		{"announced", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", fmt.Sprint(huge))
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.WriteHeader(http.StatusOK)
		}},
		{"streamed", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.WriteHeader(http.StatusOK)
			chunk := bytes.Repeat([]byte(" "), 1<<20)
			for i := 0; i < huge>>20; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}},
	}
	for _, referrers := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/referrers=%v", tt.name, referrers), func(t *testing.T) {
				host, ref, key := faultyRegistry(t, referrers, "big/app", func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
					if !strings.HasSuffix(r.URL.Path, ".sig") {
						return false
					}
					tt.serve(w)
					return true
				})
				v := verify.New(must(verify.NewRegistry("", nil, "test")))
				_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM})
				if err == nil {
					t.Fatal("verified through an oversized signature manifest")
				}
				if !strings.Contains(err.Error(), "larger than 16 MiB") || !strings.Contains(err.Error(), host) {
					t.Errorf("error %q should name the registry and the limit", err)
				}
			})
		}
	}
}

// TestHugeSignatureLayerRefused: a signature layer announcing more than cosign's 128 MiB is
// refused before it is read.
func TestHugeSignatureLayerRefused(t *testing.T) {
	_, ref, key := faultyRegistry(t, false, "huge/app", func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
		if strings.HasSuffix(r.URL.Path, ".sig") && r.Method == http.MethodGet {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			// The same manifest, its layer now announcing 200 MiB.
			body := rec.Body.Bytes()
			i := bytes.LastIndex(body, []byte(`"size":`)) // the layer's, after the config's
			body = append(append(append([]byte{}, body[:i]...), `"size":209715200,"x":`...), body[i+len(`"size":`):]...)
			w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
			w.Write(body) //nolint:errcheck // test server
			return true
		}
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
			t.Errorf("a blob was read: %s", r.URL.Path)
		}
		return false
	})
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM})
	if err == nil {
		t.Fatal("verified through a signature layer announcing 200 MiB")
	}
	if !strings.Contains(err.Error(), "exceeded the limit") {
		t.Errorf("error %q should say the layer is over the limit", err)
	}
}

// faultyRegistry starts a registry (with the referrers API or not), pushes host/<repo>:v1
// signed by a new key, and from then on lets fault answer any request first: it returns true
// when it answered.
func faultyRegistry(t *testing.T, referrers bool, repo string, fault func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool) (host, ref string, key *verifytest.Key) {
	t.Helper()
	inner := ocireg.New(referrers, nil)
	var on atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if on.Load() && fault(w, r, inner) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	key = must(verifytest.NewKey())
	ref = host + "/" + repo + ":v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key); err != nil {
		t.Fatal(err)
	}
	on.Store(true)
	return host, ref, key
}
