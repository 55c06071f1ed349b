package kyverno

import (
	"context"
	"errors"
	"net"
	"testing"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// fakeAttestations answers attestation checks by public key; it verifies no signature.
type fakeAttestations struct {
	byKey map[string]attestationAnswer
	asked []verify.AttestationCheck
}

type attestationAnswer struct {
	res verify.AttestationResult
	err error
}

func (f *fakeAttestations) VerifySignature(context.Context, verify.SignatureCheck) (verify.SignatureResult, error) {
	return verify.SignatureResult{}, errors.New("not asked")
}

func (f *fakeAttestations) VerifyAttestations(_ context.Context, c verify.AttestationCheck) (verify.AttestationResult, error) {
	f.asked = append(f.asked, c)
	a, ok := f.byKey[c.PublicKey]
	if !ok {
		return verify.AttestationResult{}, errors.New("unknown key " + c.PublicKey)
	}
	return a.res, a.err
}

func (f *fakeAttestations) VerifyBundles(context.Context, verify.BundleCheck) (verify.BundleResult, error) {
	return verify.BundleResult{}, errors.New("not used")
}

func (f *fakeAttestations) Digest(context.Context, string, verify.Auth) (string, error) {
	return "", errors.New("not asked")
}

func TestVerifyAttestations(t *testing.T) {
	const slsa, review = "https://slsa.dev/provenance/v0.2", "https://example.com/CodeReview/v1"
	statement := func(typ string) map[string]any {
		return map[string]any{"type": typ, "predicateType": typ, "predicate": map[string]any{}}
	}
	passed := func(types ...string) attestationAnswer {
		var sts []map[string]any
		for _, typ := range types {
			sts = append(sts, statement(typ))
		}
		return attestationAnswer{res: verify.AttestationResult{Digest: "sha256:d", Statements: sts}}
	}
	answers := map[string]attestationAnswer{
		"slsa":       passed(slsa),
		"review":     passed(review),
		"both":       passed(review, slsa),
		"other-key":  {err: &verify.FailedError{Err: errors.New("no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1")}},
		"no-tag":     {err: &verify.UnavailableError{Err: errors.New("GET https://r/v2/x/manifests/v1: MANIFEST_UNKNOWN: manifest unknown; unknown tag=v1")}},
		"refused":    {err: &verify.UnavailableError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}},
		"secret":     {err: &verify.ToolError{Err: errors.New("cannot read Secret ns/s")}},
		"string":     {res: verify.AttestationResult{Statements: []map[string]any{{"type": slsa, "predicate": "text"}}}},
		"payload-dg": {res: verify.AttestationResult{PayloadDigest: "sha256:p", Statements: []map[string]any{statement(slsa)}}},
	}
	keys := func(ks ...string) []kpol.Attestor {
		var out []kpol.Attestor
		for _, k := range ks {
			out = append(out, kpol.Attestor{Keys: &kpol.KeysAttestor{PublicKeys: k, Rekor: &kpol.Rekor{IgnoreTlog: true}, CTLog: &kpol.CTLog{IgnoreSCT: true}}})
		}
		return out
	}
	one := 1
	att := func(typ string, sets ...kpol.AttestorSet) kpol.Attestation {
		return kpol.Attestation{Type: typ, Attestors: sets}
	}
	const failed = "image attestations verification failed, verifiedCount: "
	for _, tc := range []struct {
		name         string
		attestations []kpol.Attestation
		status, msg  string
		digest       string
	}{
		{name: "type present", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("slsa")})},
			status: statusPass, msg: "verified image attestations for r/x:v1"},
		{name: "deprecated predicateType", attestations: []kpol.Attestation{{PredicateType: slsa, Attestors: []kpol.AttestorSet{{Entries: keys("both")}}}},
			status: statusPass, msg: "verified image attestations for r/x:v1"},
		{name: "missing type", attestations: []kpol.Attestation{att("", kpol.AttestorSet{Entries: keys("slsa")})},
			status: statusFail, msg: ".attestations[0]: missing type"},
		{name: "fetch errors carry no path", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("other-key")})},
			status: statusFail, msg: failed + "0, requiredCount: 1, error: no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1"},
		{name: "manifest unknown reads not found", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("no-tag")})},
			status: statusFail, msg: failed + "0, requiredCount: 1, error: not found"},
		{name: "a refused connection is a failure here", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("refused")})},
			status: statusFail, msg: failed + "0, requiredCount: 1, error: dial tcp: connect: connection refused"},
		{name: "tool error", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("secret")})},
			status: statusError, msg: report.ToolErrorPrefix + "cannot read Secret ns/s"},
		{name: "predicate not an object", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("string")})},
			status: statusFail, msg: failed + "0, requiredCount: 1, error: predicate not found in any statement"},
		{name: "entry index is the attestation's", attestations: []kpol.Attestation{
			att(slsa, kpol.AttestorSet{Entries: keys("slsa")}),
			att(review, kpol.AttestorSet{Entries: keys("slsa")}),
		}, status: statusFail, msg: failed + "0, requiredCount: 1, error: .attestations[1].attestors[0].entries[1].keys: attestions not found for predicate type " + review},
		{name: "count 1 stops at the first match", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Count: &one, Entries: keys("review", "slsa", "other-key")})},
			status: statusPass, msg: "verified image attestations for r/x:v1"},
		{name: "count unset needs every entry", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("slsa", "review")})},
			status: statusFail, msg: failed + "1, requiredCount: 2, error: .attestations[0].attestors[0].entries[0].keys: attestions not found for predicate type " + slsa},
		{name: "earlier sets' errors stay", attestations: []kpol.Attestation{att(slsa,
			kpol.AttestorSet{Count: &one, Entries: keys("other-key", "slsa")},
			kpol.AttestorSet{Entries: keys("review")},
		)}, status: statusFail, msg: failed + "0, requiredCount: 1, error: no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1; .attestations[0].attestors[1].entries[0].keys: attestions not found for predicate type " + slsa},
		{name: "a payload digest renames the image", attestations: []kpol.Attestation{att(slsa, kpol.AttestorSet{Entries: keys("payload-dg")})},
			status: statusPass, msg: "verified image attestations for r/x@sha256:p", digest: "sha256:p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAttestations{byKey: answers}
			e := &Engine{Verifier: f}
			iv := &kpol.ImageVerification{ImageReferences: []string{"r/*"}, Attestations: tc.attestations}
			img := imageInfo{Registry: "r", Path: "x", Tag: "v1", Pointer: "/spec/containers/0/image"}
			mk := func(status, msg string, warn bool) *ruleResponse {
				return &ruleResponse{status: status, message: msg, emitWarning: warn}
			}
			r, digest := e.verifyChecks(context.Background(), iv, img, mk, verify.Auth{})
			if r.status != tc.status || r.message != tc.msg {
				t.Errorf("got %s %q\nwant %s %q", r.status, r.message, tc.status, tc.msg)
			}
			if digest != tc.digest {
				t.Errorf("digest = %q, want %q", digest, tc.digest)
			}
			types := map[string]bool{}
			for _, a := range tc.attestations {
				types[a.EffectiveType()] = true
			}
			for _, c := range f.asked {
				if c.Type == "" || !types[c.Type] {
					t.Errorf("asked with type %q", c.Type)
				}
				if c.Tlog || c.SCT {
					t.Errorf("asked with Tlog=%v SCT=%v for entries that ignore both", c.Tlog, c.SCT)
				}
			}
		})
	}
}
