package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestKubewardenKeys: verify-image-signatures' pubKeys as Kubewarden's host checks them:
// every key must have signed, each signature carrying every annotation; the texts are
// policy-fetcher's.
func TestKubewardenKeys(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		reg := verifytest.NewRegistry(referrers)
		defer reg.Close()
		k1, k2 := must(verifytest.NewKey()), must(verifytest.NewKey())
		signed, unsigned := reg.Host+"/kw/app:v1", reg.Host+"/kw/app:unsigned"
		digest := must(verifytest.Push(signed))
		must(verifytest.Push(unsigned))
		if err := verifytest.Sign(signed, k1); err != nil {
			t.Fatal(err)
		}
		indent := func(pem string) string {
			return "  " + strings.ReplaceAll(strings.TrimRight(pem, "\n"), "\n", "\n  ") + "\n"
		}
		missing := func(keys ...string) string {
			out := "Image verification failed: missing signatures\nThe following constraints were not satisfied:\n"
			for _, k := range keys {
				out += k
			}
			return out
		}
		k2YAML := "kind: pubKey\nowner: null\nkey: |\n" + indent(k2.PublicPEM) + "annotations: null\n"
		v := verify.New(must(verify.NewRegistry("", nil, "test")))
		for _, tc := range []struct {
			name        string
			image       string
			keys        []string
			annotations map[string]string
			want        string // "" = passes with the image's digest
		}{
			{name: "signed by the key", image: signed, keys: []string{k1.PublicPEM}},
			{name: "by digest", image: reg.Host + "/kw/app@" + digest, keys: []string{k1.PublicPEM}},
			{name: "every key must have signed", image: signed, keys: []string{k1.PublicPEM, k2.PublicPEM}, want: missing(k2YAML)},
			{name: "another key", image: signed, keys: []string{k2.PublicPEM}, want: missing(k2YAML)},
			{name: "annotations the signature lacks", image: signed, keys: []string{k1.PublicPEM}, annotations: map[string]string{"env": "prod"},
				want: missing("kind: pubKey\nowner: null\nkey: |\n" + indent(k1.PublicPEM) + "annotations:\n  env: prod\n")},
			{name: "no signature at all", image: unsigned, keys: []string{k1.PublicPEM}, want: "no signatures found for image: " + unsigned + " "},
			{name: "no key", image: signed, want: "Must provide at least one pub key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, err := v.VerifyKubewardenKeys(context.Background(), verify.KubewardenKeyCheck{Image: tc.image, PubKeys: tc.keys, Annotations: tc.annotations})
				if tc.want == "" {
					if err != nil || res.Digest != digest {
						t.Fatalf("referrers %v: %v, digest %q; want %s", referrers, err, res.Digest, digest)
					}
					return
				}
				var failed *verify.FailedError
				if !errors.As(err, &failed) || err.Error() != tc.want {
					t.Fatalf("referrers %v: err %T %v\nwant FailedError %q", referrers, err, err, tc.want)
				}
			})
		}
	}
}

// TestKubewardenKeysUnreachable: a registry that cannot be read is not a verdict.
func TestKubewardenKeysUnreachable(t *testing.T) {
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	_, err := v.VerifyKubewardenKeys(context.Background(), verify.KubewardenKeyCheck{Image: "127.0.0.1:1/kw/app:v1", PubKeys: []string{"k"}})
	var u *verify.UnavailableError
	if !errors.As(err, &u) || !strings.HasPrefix(err.Error(), "failed to get image trusted layers: ") {
		t.Fatalf("err %T %v, want UnavailableError from the trusted-layers fetch", err, err)
	}
}

func TestKubewardenReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.27", "docker.io/library/nginx:1.27"},
		{"acme/app", "docker.io/acme/app:latest"},
		{"ghcr.io/acme/app", "ghcr.io/acme/app:latest"},
		{"localhost/app:v1", "localhost/app:v1"},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"},
		{"ghcr.io/acme/app@sha256:abc", "ghcr.io/acme/app@sha256:abc"},
		{"ghcr.io/acme/app:v1@sha256:abc", "ghcr.io/acme/app:v1@sha256:abc"},
	} {
		got, err := verify.KubewardenReference(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("KubewardenReference(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
