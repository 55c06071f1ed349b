package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

// TestKubewardenCertificate: a certificates entry's certificate, as Kubewarden's host checks
// each one: trusted by the chain, some signature verifying with its key, and with
// requireRekorBundle a bundle logged while the certificate was valid.
func TestKubewardenCertificate(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	defer reg.Close()
	ca, other := must(verifytest.NewCA()), must(verifytest.NewCA())
	rekor := must(verifytest.NewRekor())
	id := must(ca.Issue("https://github.com/acme/app/.github/workflows/release.yaml@refs/tags/v1", "https://token.actions.githubusercontent.com"))
	stranger := must(ca.Issue("mailto:someone@example.com", "https://accounts.example.com"))
	push := func(tag string) string {
		ref := reg.Host + "/kwc/app:" + tag
		must(verifytest.Push(ref))
		return ref
	}
	signed, logged, late, unsigned := push("signed"), push("logged"), push("late"), push("unsigned")
	if err := verifytest.SignWithCertificate(signed, id); err != nil {
		t.Fatal(err)
	}
	for ref, at := range map[string]time.Time{logged: time.Now(), late: time.Now().Add(48 * time.Hour)} {
		if err := verifytest.SignDetached(ref, verifytest.Detached{Key: id.Key, CertPEM: id.CertPEM, ChainPEM: id.ChainPEM, Log: rekor, LoggedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	v.Trust = must(verify.ParseTrustRoot(must(verifytest.TrustedRootJSON(ca, rekor))))
	const failed = "verification failed: Several Signature Layers failed verification"
	for _, tc := range []struct {
		name  string
		check verify.KubewardenCertificateCheck
		want  string
	}{
		{name: "signed with the certificate's key, chain given", check: verify.KubewardenCertificateCheck{Image: signed, Certificate: id.CertPEM, Chain: []string{id.ChainPEM}}},
		{name: "no chain", check: verify.KubewardenCertificateCheck{Image: signed, Certificate: id.CertPEM}},
		{name: "another certificate", check: verify.KubewardenCertificateCheck{Image: signed, Certificate: stranger.CertPEM}, want: failed},
		{name: "a chain that does not trust it", check: verify.KubewardenCertificateCheck{Image: signed, Certificate: id.CertPEM, Chain: []string{other.PEM}},
			want: "Certificate pool error: x509: certificate signed by unknown authority"},
		{name: "bundle required, none", check: verify.KubewardenCertificateCheck{Image: signed, Certificate: id.CertPEM, RequireRekorBundle: true}, want: failed},
		{name: "bundle required, logged in time", check: verify.KubewardenCertificateCheck{Image: logged, Certificate: id.CertPEM, RequireRekorBundle: true}},
		{name: "bundle required, logged after the certificate expired", check: verify.KubewardenCertificateCheck{Image: late, Certificate: id.CertPEM, RequireRekorBundle: true}, want: failed},
		{name: "unsigned", check: verify.KubewardenCertificateCheck{Image: unsigned, Certificate: id.CertPEM}, want: "no signatures found for image: " + unsigned + " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.VerifyKubewardenCertificate(context.Background(), tc.check)
			if tc.want == "" {
				if err != nil || !strings.HasPrefix(res.Digest, "sha256:") {
					t.Fatalf("%v, digest %q; want verified", err, res.Digest)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
