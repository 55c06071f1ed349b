package verify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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

// TestCacheKeepsCredentialsApart: what one check read with a pull secret is not handed to a
// check without it, which the registry refuses.
func TestCacheKeepsCredentialsApart(t *testing.T) {
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
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
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
