package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestVerifyBundles covers Kyverno's `type: SigstoreBundle` path: the cosign v3 default
// format found through the referrers API or its tag fallback, checked by key.
func TestVerifyBundles(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			key := must(verifytest.NewKey())
			other := must(verifytest.NewKey())
			img := func(n string) string { return reg.Host + "/b/" + n + ":v1" }
			digests := map[string]string{}
			for _, n := range []string{"bundled", "other-key", "legacy-only", "unsigned", "attested"} {
				digests[n] = must(verifytest.Push(img(n)))
			}
			for n, sign := range map[string]func() error{
				"bundled":     func() error { return verifytest.SignBundle(img("bundled"), key) },
				"other-key":   func() error { return verifytest.SignBundle(img("other-key"), other) },
				"legacy-only": func() error { return verifytest.Sign(img("legacy-only"), key) },
			} {
				if err := sign(); err != nil {
					t.Fatalf("signing %s: %v", n, err)
				}
			}
			trust := must(verify.ParseTrustRoot(must(verifytest.TrustedRootJSON(must(verifytest.NewCA()), must(verifytest.NewRekor())))))
			byKey := func(n string) verify.BundleCheck { return verify.BundleCheck{Image: img(n), PublicKey: key.PublicPEM} }
			tests := []struct {
				name    string
				trust   *verify.TrustRoot
				check   verify.BundleCheck
				want    string
				wantMsg string
			}{
				{"bundle by the key", nil, byKey("bundled"), "verified", ""},
				{"bundle by the key, by digest", nil, verify.BundleCheck{Image: reg.Host + "/b/bundled@" + digests["bundled"], PublicKey: key.PublicPEM}, "verified", ""},
				{"bundle by another key", nil, byKey("other-key"), "failed", "sigstore bundle verification failed: no matching signatures found"},
				{"legacy signature only", nil, byKey("legacy-only"), "failed", "sigstore bundle verification failed: no matching signatures found"},
				{"unsigned", nil, byKey("unsigned"), "failed", "sigstore bundle verification failed: no matching signatures found"},
				{"predicate type filter keeps the signing statement", nil, func() verify.BundleCheck {
					c := byKey("bundled")
					c.PredicateType = verifytest.CosignSignPredicateType
					return c
				}(), "verified", ""},
				{"predicate type filter drops it", nil, func() verify.BundleCheck {
					c := byKey("bundled")
					c.PredicateType = "https://slsa.dev/provenance/v1"
					return c
				}(), "failed", "no matching signatures found"},
				{"key and identity together", nil, func() verify.BundleCheck {
					c := byKey("bundled")
					c.Subject, c.Issuer = subject, issuer
					return c
				}(), "failed", "failed to build policy: " + img("bundled") + ": static key and certificate identity are mutually exclusive"},
				{"identity needs the trusted root", nil, verify.BundleCheck{Image: img("bundled"), Subject: subject, Issuer: issuer}, "tool", "give --trusted-root"},
				{"identity against a trusted root with no such signer", trust, verify.BundleCheck{Image: img("bundled"), Subject: subject, Issuer: issuer}, "failed", "no matching signatures found"},
				{"log checked needs the trusted root", nil, func() verify.BundleCheck {
					c := byKey("bundled")
					c.Tlog = true
					return c
				}(), "tool", "give --trusted-root"},
				// Kyverno asks sigstore-go for a log entry but no time source: refused as built.
				{"log checked, SCT ignored", trust, func() verify.BundleCheck {
					c := byKey("bundled")
					c.Tlog = true
					return c
				}(), "failed", "failed to get verify bundles: " + img("bundled") + ": when initializing a new Verifier, you must specify at least one of"},
				{"log and SCT checked, bundle has no entry", trust, func() verify.BundleCheck {
					c := byKey("bundled")
					c.Tlog, c.SCT = true, true
					return c
				}(), "failed", "sigstore bundle verification failed: no matching signatures found"},
				{"missing image", nil, byKey("nope"), "could-not-verify", "failed to fetch bundles: " + img("nope")},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v := verify.New(must(verify.NewRegistry("", nil, "test")))
					v.Trust = tt.trust
					res, err := v.VerifyBundles(context.Background(), tt.check)
					if got := outcome(err); got != tt.want || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
						t.Fatalf("VerifyBundles = %s %v, want %s containing %q", got, err, tt.want, tt.wantMsg)
					}
					if err == nil && res.Digest != digests["bundled"] {
						t.Errorf("digest = %s, want %s", res.Digest, digests["bundled"])
					}
					if err == nil && tt.check.PredicateType != "" && (len(res.Statements) != 1 || res.Statements[0]["type"] != tt.check.PredicateType) {
						t.Errorf("statements = %v", res.Statements)
					}
				})
			}
		})
	}
}
