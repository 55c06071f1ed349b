package verify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// secrets is a SecretReader over a fixed set of namespace/name Secrets.
type secrets map[string]map[string][]byte

func (s secrets) Secret(_ context.Context, namespace, name string) (map[string][]byte, error) {
	if d, ok := s[namespace+"/"+name]; ok {
		return d, nil
	}
	return nil, errors.New("not found")
}

func (s secrets) Forbidden(error) bool { return false }

// privateRegistry is a registry that answers only Basic alice:s3cret.
func privateRegistry(t *testing.T) string {
	t.Helper()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	inner := ocireg.New(false, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestCacheKeepsCredentialsApart: what one check read with a pull secret is not handed to a
// check without it, which the registry refuses.
func TestCacheKeepsCredentialsApart(t *testing.T) {
	host := privateRegistry(t)
	auth := remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
	key := must(verifytest.NewKey())
	ref := host + "/private/app:v1"
	if _, err := verifytest.Push(ref, auth); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key, auth); err != nil {
		t.Fatal(err)
	}
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	v.Secrets = secrets{"team/regcred": {".dockerconfigjson": []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))))}}
	steps := []struct {
		name string
		auth verify.Auth
		want string
	}{
		{"with the pull secret", verify.PullSecretAuth("team", []string{"regcred"}), "verified"},
		{"without it, after", verify.Auth{}, "could-not-verify"},
		{"with it again", verify.PullSecretAuth("team", []string{"regcred"}), "verified"},
	}
	for _, st := range steps {
		_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM, Auth: st.auth})
		if got := outcome(err); got != st.want {
			t.Errorf("%s: %s (%v), want %s", st.name, got, err, st.want)
		}
	}
}

// TestRequestsPerImage: a run pays one /v2/ ping per host and three requests per signed image
// (the tag, the signature manifest, its layer), however many checks, resources and digest
// lookups ask about the image.
func TestRequestsPerImage(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			inner := ocireg.New(referrers, nil)
			var mu sync.Mutex
			counting := false
			requests := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if counting {
					requests[r.Method+" "+r.URL.Path]++
				}
				mu.Unlock()
				inner.ServeHTTP(w, r)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			key := must(verifytest.NewKey())
			const images = 5
			var refs []string
			for i := 0; i < images; i++ {
				ref := fmt.Sprintf("%s/team%d/app:v1", host, i)
				if _, err := verifytest.Push(ref); err != nil {
					t.Fatal(err)
				}
				if err := verifytest.Sign(ref, key); err != nil {
					t.Fatal(err)
				}
				refs = append(refs, ref)
			}
			mu.Lock()
			counting = true
			mu.Unlock()
			v := verify.New(must(verify.NewRegistry("", nil, "test")))
			var g errgroup.Group
			for range 4 { // as many resources asking at once
				for _, ref := range refs {
					g.Go(func() error {
						if _, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM}); err != nil {
							return err
						}
						_, err := v.Digest(context.Background(), ref, verify.Auth{})
						return err
					})
				}
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			total := 0
			for path, n := range requests {
				total += n
				if n > 1 {
					t.Errorf("%s asked %d times, want once", path, n)
				}
			}
			if want := 1 + 3*images; total != want {
				t.Errorf("%d requests for %d images, want %d: %v", total, images, want, requests)
			}
		})
	}
}

// TestPullSecretContentNeverInErrors: a refused or unreadable pull secret's content appears in
// no error text.
func TestPullSecretContentNeverInErrors(t *testing.T) {
	host := privateRegistry(t)
	const planted = "PLANTED-p4ssw0rd-91ab"
	wrong := base64.StdEncoding.EncodeToString([]byte("mallory:" + planted))
	key := must(verifytest.NewKey())
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	v.Secrets = secrets{
		"team/wrong":   {".dockerconfigjson": []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, wrong))},
		"team/garbled": {".dockerconfigjson": []byte(`{"auths":` + planted)},
	}
	for _, name := range []string{"wrong", "garbled"} {
		_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: host + "/private/app:v1", PublicKey: key.PublicPEM, Auth: verify.PullSecretAuth("team", []string{name})})
		if err == nil {
			t.Fatalf("%s: verified against a registry that refuses the secret", name)
		}
		for _, s := range []string{planted, wrong} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error shows the secret's content %q: %v", name, s, err)
			}
		}
	}
}
