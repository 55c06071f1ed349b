package verify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

const (
	slsa02     = "https://slsa.dev/provenance/v0.2"
	codeReview = "https://example.com/CodeReview/v1"
)

func TestVerifyAttestations(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			key := must(verifytest.NewKey())
			other := must(verifytest.NewKey())
			ca := must(verifytest.NewCA())
			good := must(ca.Issue(subject, issuer))

			img := func(n string) string { return reg.Host + "/a/" + n + ":v1" }
			digests := map[string]string{}
			for _, n := range []string{"attested", "two-types", "wrong-key", "unattested", "signed-only", "other-type", "other-digest", "custom", "custom-statement", "keyless"} {
				digests[n] = must(verifytest.Push(img(n)))
			}
			provenance := []byte(`{"builder":{"id":"https://example.com/builder"},"buildType":"https://example.com/type"}`)
			review := []byte(`{"repo":{"uri":"https://example.com/repo","branch":"main"},"reviewers":["ann"]}`)
			fixtures := []error{
				verifytest.Attest(img("attested"), key, "slsaprovenance", provenance),
				verifytest.Attest(img("two-types"), key, "slsaprovenance", provenance),
				verifytest.Attest(img("two-types"), key, codeReview, review),
				verifytest.Attest(img("wrong-key"), other, "slsaprovenance", provenance),
				verifytest.Sign(img("signed-only"), key),
				verifytest.Attest(img("other-type"), key, codeReview, review),
				verifytest.Attest(img("custom"), key, "custom", review),
				verifytest.AttestWithCertificate(img("keyless"), good, "slsaprovenance", provenance),
			}
			// A statement about image "attested", stored as image other-digest's attestation.
			forAttested := must(verifytest.Statement(must(name.NewDigest(reg.Host+"/a/attested@"+digests["attested"])), "slsaprovenance", provenance))
			fixtures = append(fixtures, verifytest.AttestStatement(img("other-digest"), key, forAttested, "", ""))
			// A statement whose _type (not predicateType) is cosign's custom URI: the one shape
			// whose Data Kyverno turns into an object.
			customDigest := must(name.NewDigest(reg.Host + "/a/custom-statement@" + digests["custom-statement"]))
			customSt, _ := json.Marshal(map[string]any{
				"_type": "https://cosign.sigstore.dev/attestation/v1", "predicateType": "https://example.com/wrapped",
				"subject":   []any{map[string]any{"name": customDigest.Repository.String(), "digest": map[string]string{"sha256": strings.TrimPrefix(digests["custom-statement"], "sha256:")}}},
				"predicate": map[string]any{"Data": `{"a":1}`, "Timestamp": "2026-01-01T00:00:00Z"},
			})
			fixtures = append(fixtures, verifytest.AttestStatement(img("custom-statement"), key, customSt, "", ""))
			for i, err := range fixtures {
				if err != nil {
					t.Fatalf("fixture %d: %v", i, err)
				}
			}

			v := verify.New(must(verify.NewRegistry("", nil, "test")))
			byKey := func(image, typ string) verify.AttestationCheck {
				return verify.AttestationCheck{SignatureCheck: verify.SignatureCheck{Image: image, PublicKey: key.PublicPEM}, Type: typ}
			}
			keyless := func(image, typ, subj string) verify.AttestationCheck {
				return verify.AttestationCheck{SignatureCheck: verify.SignatureCheck{Image: image, Keyless: true, Roots: ca.PEM, Subject: subj, Issuer: issuer}, Type: typ}
			}
			for _, tc := range []struct {
				name    string
				check   verify.AttestationCheck
				outcome string
				msg     string   // exact error text when not verified
				types   []string // predicate types of the statements returned, in order
				digest  string   // image whose digest the result names
			}{
				{name: "attested by the key", check: byKey(img("attested"), slsa02), outcome: "verified", types: []string{slsa02}, digest: "attested"},
				{name: "by digest", check: byKey(reg.Host+"/a/attested@"+digests["attested"], slsa02), outcome: "verified", types: []string{slsa02}, digest: "attested"},
				{name: "every type is returned", check: byKey(img("two-types"), slsa02), outcome: "verified", types: []string{slsa02, codeReview}, digest: "two-types"},
				{name: "only another type", check: byKey(img("other-type"), slsa02), outcome: "verified", types: []string{codeReview}, digest: "other-type"},
				{name: "another key", check: byKey(img("wrong-key"), slsa02), outcome: "failed",
					msg: "no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1"},
				{name: "no attestation", check: byKey(img("unattested"), slsa02), outcome: "failed", msg: "no matching attestations: "},
				{name: "signed, not attested", check: byKey(img("signed-only"), slsa02), outcome: "failed", msg: "no matching attestations: "},
				{name: "statement about another digest", check: byKey(img("other-digest"), slsa02), outcome: "failed",
					msg: "no matching attestations: no matching subject digest found"},
				{name: "identity matches", check: keyless(img("keyless"), slsa02, subject), outcome: "verified", types: []string{slsa02}, digest: "keyless"},
				{name: "identity mismatch on the asked type", check: keyless(img("keyless"), slsa02, "https://example.com/other"), outcome: "failed",
					msg: "subject mismatch: expected https://example.com/other, received " + subject},
				{name: "identity not checked on other types", check: keyless(img("keyless"), codeReview, "https://example.com/other"), outcome: "verified", types: []string{slsa02}, digest: "keyless"},
				{name: "no such tag", check: byKey(reg.Host+"/a/missing:v1", slsa02), outcome: "could-not-verify"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res, err := v.VerifyAttestations(context.Background(), tc.check)
					if got := outcome(err); got != tc.outcome {
						t.Fatalf("outcome = %s (%v), want %s", got, err, tc.outcome)
					}
					if err != nil {
						if tc.msg != "" && err.Error() != tc.msg {
							t.Errorf("error = %q, want %q", err, tc.msg)
						}
						return
					}
					if res.Digest != digests[tc.digest] {
						t.Errorf("digest = %s, want %s", res.Digest, digests[tc.digest])
					}
					if res.PayloadDigest != "" {
						t.Errorf("payload digest = %q, want none (a DSSE envelope has no signature payload)", res.PayloadDigest)
					}
					var types []string
					for _, st := range res.Statements {
						if st["type"] != st["predicateType"] {
							t.Errorf("type %v != predicateType %v", st["type"], st["predicateType"])
						}
						types = append(types, st["type"].(string))
					}
					if strings.Join(types, " ") != strings.Join(tc.types, " ") {
						t.Errorf("statement types = %v, want %v", types, tc.types)
					}
				})
			}

			t.Run("missing tag reads as the registry's error", func(t *testing.T) {
				// The repository exists, the tag does not: the registry says MANIFEST_UNKNOWN, which
				// Kyverno looks for in this text.
				_, err := v.VerifyAttestations(context.Background(), byKey(reg.Host+"/a/attested:nope", slsa02))
				if err == nil || !strings.HasPrefix(err.Error(), "GET ") || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
					t.Errorf("error = %v, want the registry's GET error as cosign's attestation path returns it", err)
				}
			})

			t.Run("statement decoded as Kyverno decodes it", func(t *testing.T) {
				res, err := v.VerifyAttestations(context.Background(), byKey(img("attested"), slsa02))
				if err != nil {
					t.Fatal(err)
				}
				st := res.Statements[0]
				want := map[string]any{
					"_type": "https://in-toto.io/Statement/v0.1", "predicateType": slsa02, "type": slsa02,
					"subject":   []any{map[string]any{"name": reg.Host + "/a/attested", "digest": map[string]any{"sha256": strings.TrimPrefix(digests["attested"], "sha256:")}}},
					"predicate": map[string]any{"builder": map[string]any{"id": "https://example.com/builder"}, "buildType": "https://example.com/type"},
				}
				if g, w := string(must(json.Marshal(st))), string(must(json.Marshal(want))); g != w {
					t.Errorf("statement =\n%s\nwant\n%s", g, w)
				}
			})

			t.Run("custom predicate", func(t *testing.T) {
				for _, c := range []struct {
					image string
					data  any
				}{
					// cosign writes the custom URI as predicateType, where Kyverno does not look.
					{img("custom"), string(review)},
					{img("custom-statement"), map[string]any{"a": float64(1)}},
				} {
					res, err := v.VerifyAttestations(context.Background(), byKey(c.image, ""))
					if err != nil {
						t.Fatal(err)
					}
					pred, _ := res.Statements[0]["predicate"].(map[string]any)
					if g, w := string(must(json.Marshal(pred["Data"]))), string(must(json.Marshal(c.data))); g != w {
						t.Errorf("%s: Data = %s, want %s", c.image, g, w)
					}
				}
			})
		})
	}
}
