package verify_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

const (
	subject = "https://github.com/acme/app/.github/workflows/release.yaml@refs/tags/v1"
	issuer  = "https://token.actions.githubusercontent.com"
)

// must is for fixture setup: a failure there panics, which fails the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// outcome names what VerifySignature returned.
func outcome(err error) string {
	var f *verify.FailedError
	var u *verify.UnavailableError
	var tool *verify.ToolError
	switch {
	case err == nil:
		return "verified"
	case errors.As(err, &tool):
		return "tool"
	case errors.As(err, &f):
		return "failed"
	case errors.As(err, &u):
		return "could-not-verify"
	}
	return "untyped: " + err.Error()
}

func TestVerifySignature(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			key := must(verifytest.NewKey())
			other := must(verifytest.NewKey())
			// Valid for three days back, so that a leaf issued in the past chains to it.
			ca := must(verifytest.NewCAValid(time.Now().Add(-72*time.Hour), time.Now().Add(24*time.Hour)))
			otherCA := must(verifytest.NewCA())
			past := time.Now().Add(-48 * time.Hour)
			expiredCA := must(verifytest.NewCAValid(past, past.Add(24*time.Hour)))
			good := must(ca.Issue(subject, issuer))
			expiredLeaf := must(ca.IssueValid(subject, issuer, past, past.Add(time.Hour)))
			underExpiredCA := must(expiredCA.IssueValid(subject, issuer, past, past.Add(time.Hour)))

			img := func(n string) string { return reg.Host + "/v/" + n + ":v1" }
			digests := map[string]string{}
			for _, n := range []string{"signed", "other-digest", "tampered", "wrong-key", "keyless", "expired-leaf", "expired-root", "unsigned"} {
				digests[n] = must(verifytest.Push(img(n)))
			}
			if err := verifytest.Sign(img("signed"), key); err != nil {
				t.Fatal(err)
			}
			// A payload signed for image "signed" (its digest), stored as image other-digest's signature.
			forSigned, _ := (&payload.Cosign{Image: must(name.NewDigest(reg.Host + "/v/signed@" + digests["signed"]))}).MarshalJSON()
			if err := verifytest.Attach(img("other-digest"), forSigned, must(key.SignMessage(forSigned)), "", ""); err != nil {
				t.Fatal(err)
			}
			// A correct payload whose bytes changed after signing.
			tampered, _ := (&payload.Cosign{Image: must(name.NewDigest(reg.Host + "/v/tampered@" + digests["tampered"])), Annotations: map[string]any{"a": "b"}}).MarshalJSON()
			sig := must(key.SignMessage(tampered))
			if err := verifytest.Attach(img("tampered"), []byte(strings.Replace(string(tampered), `"b"`, `"c"`, 1)), sig, "", ""); err != nil {
				t.Fatal(err)
			}
			for ref, signer := range map[string]func() error{
				"wrong-key":    func() error { return verifytest.Sign(img("wrong-key"), other) },
				"keyless":      func() error { return verifytest.SignWithCertificate(img("keyless"), good) },
				"expired-leaf": func() error { return verifytest.SignWithCertificate(img("expired-leaf"), expiredLeaf) },
				"expired-root": func() error { return verifytest.SignWithCertificate(img("expired-root"), underExpiredCA) },
			} {
				if err := signer(); err != nil {
					t.Fatalf("signing %s: %v", ref, err)
				}
			}
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			dead := l.Addr().String()
			l.Close() //nolint:errcheck // freeing the port is the point

			keyless := func(image, roots, subj string) verify.SignatureCheck {
				return verify.SignatureCheck{Image: image, Keyless: true, Roots: roots, Subject: subj, Issuer: issuer}
			}
			tests := []struct {
				name    string
				check   verify.SignatureCheck
				want    string // outcome
				wantMsg string // substring of the error
				digest  string // on success
			}{
				{"key verifies", verify.SignatureCheck{Image: img("signed"), PublicKey: key.PublicPEM}, "verified", "", digests["signed"]},
				{"payload for another digest", verify.SignatureCheck{Image: img("other-digest"), PublicKey: key.PublicPEM}, "failed", "no matching signatures", ""},
				{"tampered payload", verify.SignatureCheck{Image: img("tampered"), PublicKey: key.PublicPEM}, "failed", "no matching signatures", ""},
				{"wrong key", verify.SignatureCheck{Image: img("wrong-key"), PublicKey: key.PublicPEM}, "failed", "invalid signature when validating ASN.1 encoded signature", ""},
				{"unsigned", verify.SignatureCheck{Image: img("unsigned"), PublicKey: key.PublicPEM}, "failed", "no signatures found", ""},
				{"keyless verifies", keyless(img("keyless"), ca.PEM, "https://github.com/acme/*"), "verified", "", digests["keyless"]},
				{"keyless subject mismatch", keyless(img("keyless"), ca.PEM, "https://github.com/other/*"), "failed", "subject mismatch: expected https://github.com/other/*, received " + subject, ""},
				{"keyless wrong root", keyless(img("keyless"), otherCA.PEM, ""), "failed", "certificate signed by unknown authority", ""},
				{"keyless leaf outside validity", keyless(img("expired-leaf"), ca.PEM, ""), "failed", "expired", ""},
				{"keyless expired root", keyless(img("expired-root"), expiredCA.PEM, ""), "failed", "expired", ""},
				{"keyless without roots", keyless(img("keyless"), "", ""), "tool", "Fulcio", ""},
				{"registry refuses connections", verify.SignatureCheck{Image: dead + "/v/x:v1", PublicKey: key.PublicPEM}, "could-not-verify", "connection refused", ""},
			}
			v := verify.New(must(verify.NewRegistry("", nil, "test")))
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := v.VerifySignature(context.Background(), tt.check)
					if got := outcome(err); got != tt.want || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
						t.Fatalf("VerifySignature(%s) = %s %v, want %s containing %q", tt.name, got, err, tt.want, tt.wantMsg)
					}
					if tt.digest != "" && res.Digest != tt.digest {
						t.Errorf("digest = %s, want %s", res.Digest, tt.digest)
					}
					if tt.want == "could-not-verify" && !verify.IsConnectionError(err) {
						t.Errorf("a refused connection must be a connection error (Kyverno's `error`): %v", err)
					}
				})
			}
		})
	}
}
