package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestVerifySignatureOCI11 pins SignatureCheck.OCI11 (Kyverno cosignOCI11) to what Kyverno
// 1.19.1 reported on hack/referrers-registry (testdata/scenarios/referrers): a legacy
// signature stored as a referrer is found only through the referrers lookup, a failed
// referrers lookup reports the .sig tag's error, and bundle-format signatures are never found
// by a key check. Run with and without the registry's referrers API: go-containerregistry's
// fallback tag must give the same answers.
func TestVerifySignatureOCI11(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "fallback-tag", true: "referrers-api"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			key, err := verifytest.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			other, err := verifytest.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			img := func(n string) string { return reg.Host + "/oci11/" + n + ":v1" }
			signers := map[string]func(ref string) error{
				"referrer":  func(ref string) error { return verifytest.SignReferrers(ref, key) },
				"other-key": func(ref string) error { return verifytest.SignReferrers(ref, other) },
				"sig-tag":   func(ref string) error { return verifytest.Sign(ref, key) },
				"bundle":    func(ref string) error { return verifytest.SignBundle(ref, key) },
			}
			digests := map[string]string{}
			for n, sign := range signers {
				if digests[n], err = verifytest.Push(img(n)); err != nil {
					t.Fatal(err)
				}
				if err := sign(img(n)); err != nil {
					t.Fatalf("signing %s: %v", n, err)
				}
			}
			tests := []struct {
				name    string
				image   string
				oci11   bool
				wantErr string // "" = verified; else a FailedError with exactly this message
			}{
				{name: "referrer, cosignOCI11", image: "referrer", oci11: true},
				{name: "referrer, legacy lookup", image: "referrer", wantErr: "no signatures found"},
				{name: "referrer by another key, cosignOCI11", image: "other-key", oci11: true, wantErr: "no signatures found"},
				{name: "sig tag, cosignOCI11", image: "sig-tag", oci11: true},
				{name: "bundle, cosignOCI11", image: "bundle", oci11: true, wantErr: "no signatures found"},
				{name: "bundle, legacy lookup", image: "bundle", wantErr: "no signatures found"},
			}
			v := verify.New(mustRegistry(t))
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					res, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: img(tc.image), PublicKey: key.PublicPEM, OCI11: tc.oci11})
					if tc.wantErr == "" {
						if err != nil {
							t.Fatalf("VerifySignature = %v, want verified", err)
						}
						if res.Digest != digests[tc.image] {
							t.Errorf("digest = %s, want %s", res.Digest, digests[tc.image])
						}
						return
					}
					var f *verify.FailedError
					if !errors.As(err, &f) || !strings.HasSuffix(err.Error(), tc.wantErr) {
						t.Fatalf("VerifySignature = %v, want a failure ending in %q", err, tc.wantErr)
					}
				})
			}
		})
	}
}

func mustRegistry(t *testing.T) *verify.Registry {
	t.Helper()
	r, err := verify.NewRegistry("", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
