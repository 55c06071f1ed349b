package kyverno

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

func TestAttestationConditions(t *testing.T) {
	const review, build = "https://example.com/CodeReview/v1", "https://example.com/Build/v1"
	st := func(typ string, predicate map[string]any) map[string]any {
		return map[string]any{"type": typ, "predicateType": typ, "predicate": predicate}
	}
	reviewed := func(branch, on string) map[string]any {
		return st(review, map[string]any{"repo": map[string]any{"branch": branch}, "reviewers": []any{"ann", "bob"}, "reviewedOn": on})
	}
	answer := func(sts ...map[string]any) attestationAnswer {
		return attestationAnswer{res: verify.AttestationResult{Digest: "sha256:d", Statements: sts}}
	}
	answers := map[string]attestationAnswer{
		"main":        answer(reviewed("main", "2026-01-02T10:00:00Z")),
		"dev":         answer(reviewed("dev", "2026-01-02T10:00:00Z")),
		"old":         answer(reviewed("main", "2025-12-31T10:00:00Z")),
		"two":         answer(reviewed("main", "2026-01-02T10:00:00Z"), reviewed("dev", "2026-01-02T10:00:00Z")),
		"build-first": answer(st(build, map[string]any{"finishedOn": "2026-01-02T09:00:00Z"}), reviewed("main", "2026-01-02T10:00:00Z")),
		"big":         answer(st(review, map[string]any{"sbom": strings.Repeat("a", 2*1024*1024)})),
	}
	keys := func(ks ...string) []kpol.Attestor {
		var out []kpol.Attestor
		for _, k := range ks {
			out = append(out, kpol.Attestor{Keys: &kpol.KeysAttestor{PublicKeys: k, Rekor: &kpol.Rekor{IgnoreTlog: true}, CTLog: &kpol.CTLog{IgnoreSCT: true}}})
		}
		return out
	}
	conds := func(s string) []kpol.AnyAllConditions {
		var out []kpol.AnyAllConditions
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	validation := func(message, denyConds string) kpol.ImageValidation {
		v := kpol.ImageValidation{Message: message, Deny: &kpol.Deny{}}
		if denyConds != "" {
			if err := json.Unmarshal([]byte(denyConds), &v.Deny.Conditions); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	one := 1
	onMain := conds(`[{"all":[{"key":"{{ repo.branch }}","operator":"Equals","value":"main","message":"branch {{ repo.branch }}"}]}]`)
	const failed = "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: "
	const recentOnMain = `{"any":[{"key":"{{ review.repo.branch }}","operator":"NotEquals","value":"main","message":"branch {{ review.repo.branch }}"},` +
		`{"key":"{{ time_before('{{ review.reviewedOn }}', '2026-01-01T00:00:00Z') }}","operator":"Equals","value":true,"message":"reviewed {{ review.reviewedOn }}"}]}`
	for _, tc := range []struct {
		name   string
		entry  kpol.ImageVerification
		more   []kpol.ImageVerification // the rule's other entries
		object map[string]any
		status string
		msg    string
	}{
		{name: "conditions hold", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Conditions: onMain, Attestors: []kpol.AttestorSet{{Entries: keys("main")}}}}},
			status: statusPass, msg: "verified image attestations for r/x:v1"},
		{name: "a condition fails: its message, the entry's path", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Conditions: onMain, Attestors: []kpol.AttestorSet{{Entries: keys("dev")}}}}},
			status: statusFail, msg: failed + ".attestations[0].attestors[0].entries[0].keys: attestation checks failed for r/x:v1 and predicate " + review + ": branch dev"},
		{name: "every statement of the type must hold", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Conditions: onMain, Attestors: []kpol.AttestorSet{{Entries: keys("two")}}}}},
			status: statusFail, msg: failed + ".attestations[0].attestors[0].entries[0].keys: attestation checks failed for r/x:v1 and predicate " + review + ": branch dev"},
		{name: "a missing variable is an error in the message", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review,
			Conditions: conds(`[{"all":[{"key":"{{ score }}","operator":"GreaterThan","value":1}]}]`), Attestors: []kpol.AttestorSet{{Entries: keys("main")}}}}},
			status: statusFail, msg: failed + `.attestations[0].attestors[0].entries[0].keys: failed to check attestations: failed to substitute variables in attestation conditions: failed to resolve score at path /0/all/0/key: JMESPath query failed: Unknown key "score" in path`},
		{name: "count 1: the failing entry's error is dropped once one holds", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Conditions: onMain,
			Attestors: []kpol.AttestorSet{{Count: &one, Entries: keys("dev", "main")}}}}},
			status: statusPass, msg: "verified image attestations for r/x:v1"},
		{name: "count 1, none holds: both errors, the index bug", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Conditions: onMain,
			Attestors: []kpol.AttestorSet{{Count: &one, Entries: keys("dev", "dev")}}}}},
			status: statusFail, msg: failed + ".attestations[0].attestors[0].entries[0].keys: attestation checks failed for r/x:v1 and predicate " + review + ": branch dev; " +
				".attestations[0].attestors[0].entries[0].keys: attestation checks failed for r/x:v1 and predicate " + review + ": branch dev"},
		{name: "the request object", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review,
			Conditions: conds(`[{"all":[{"key":"{{ request.object.metadata.labels.team }}/{{ request.namespace }}/{{ request.operation }}","operator":"Equals","value":"a/ns/CREATE","message":"{{ request.object.spec.containers[0].image }}"}]}]`),
			Attestors:  []kpol.AttestorSet{{Entries: keys("main")}}}}},
			object: map[string]any{"metadata": map[string]any{"namespace": "ns", "labels": map[string]any{"team": "b"}}, "spec": map[string]any{"containers": []any{map[string]any{"image": "r/x:v1"}}}},
			status: statusFail, msg: failed + ".attestations[0].attestors[0].entries[0].keys: attestation checks failed for r/x:v1 and predicate " + review + ": r/x:v1@sha256:earlier"},
		{name: "validate passes", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("main")}}}},
			Validation: validation("reviews must be recent and on main", recentOnMain)},
			status: statusPass, msg: "verifyImages validation is passed in r rule"},
		{name: "validate denies: message and the true condition's, resolved", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("old")}}}},
			Validation: validation("reviews must be recent and on main", recentOnMain)},
			status: statusFail, msg: "validation in verifyImages failed: reviews must be recent and on main; reviewed 2025-12-31T10:00:00Z"},
		{name: "the named predicate is the first statement's", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("build-first")}}}},
			Validation: validation("m", recentOnMain)},
			status: statusFail, msg: `validation in verifyImages failed: failed to check deny conditions: failed to substitute variables in condition key: failed to resolve review.repo.branch at path : JMESPath query failed: Unknown key "repo" in path`},
		{name: "deny without conditions denies, no message", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("main")}}}},
			Validation: validation("", "")},
			status: statusFail, msg: "validation in verifyImages failed: validation error: imageVerify  failed"},
		{name: "deny message that does not resolve: the conditions' messages", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("dev")}}}},
			Validation: validation("see {{ nothere }}", `{"any":[{"key":"{{ review.repo.branch }}","operator":"NotEquals","value":"main","message":"branch {{ review.repo.branch }}"}]}`)},
			status: statusFail, msg: "validation in verifyImages failed: branch {{ review.repo.branch }}"},
		{name: "another entry's deny counts", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("dev")}}}},
			Validation: validation("", `{"all":[{"key":"{{ review.repo.branch }}","operator":"Equals","value":"nothing"}]}`)},
			more:   []kpol.ImageVerification{{ImageReferences: []string{"other/*"}, Validation: validation("not main", `[{"key":"{{ review.repo.branch }}","operator":"NotEqual","value":"main"}]`)}},
			status: statusFail, msg: "validation in verifyImages failed: not main"},
		{name: "a predicate over the context size limit", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review, Attestors: []kpol.AttestorSet{{Entries: keys("big")}}}}},
			status: statusFail, msg: failed + "context size limit exceeded: 2097163 bytes exceeds limit of 2097152 bytes"},
		{name: "what Kyverno panics on is a tool error", entry: kpol.ImageVerification{Attestations: []kpol.Attestation{{Type: review,
			Conditions: conds(`[{"all":[{"key":["a",1],"operator":"In","value":["a"]}]}]`), Attestors: []kpol.AttestorSet{{Entries: keys("main")}}}}},
			status: statusError, msg: report.ToolErrorPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{Verifier: &fakeAttestations{byKey: answers}}
			iv := tc.entry
			iv.ImageReferences = []string{"r/*"}
			rule := &kpol.Rule{Name: "r", VerifyImages: append([]kpol.ImageVerification{iv}, tc.more...)}
			obj := tc.object
			if obj == nil {
				obj = map[string]any{}
			}
			// An earlier rule pinned the image: request.object shows it.
			ctx := e.withRule(context.Background(), &kpol.Policy{}, rule, Request{Operation: "CREATE"}, obj, map[string]string{"/spec/containers/0/image": "r/x:v1@sha256:earlier"})
			img := imageInfo{Registry: "r", Path: "x", Tag: "v1", Pointer: "/spec/containers/0/image"}
			mk := func(status, msg string, warn bool) *ruleResponse {
				return &ruleResponse{status: status, message: msg, emitWarning: warn}
			}
			r, _ := e.verifyChecks(ctx, &rule.VerifyImages[0], img, mk, verify.Auth{})
			// Tool errors are checked by their prefix only.
			sameMsg := r.message == tc.msg || (tc.status == statusError && strings.HasPrefix(r.message, tc.msg))
			if r.status != tc.status || !sameMsg {
				t.Errorf("got %s %q\nwant %s %q", r.status, r.message, tc.status, tc.msg)
			}
		})
	}
}

// TestNamedAttestationsAcrossImages: a named predicate stays in the rule's context for its
// later images, merged key by key with the next one under the same name (Kyverno restores
// the context only when the rule ends).
func TestNamedAttestationsAcrossImages(t *testing.T) {
	const review = "https://example.com/CodeReview/v1"
	answers := map[string]attestationAnswer{
		"k": {res: verify.AttestationResult{Statements: []map[string]any{{"type": review, "predicate": map[string]any{"first": "yes"}}}}},
	}
	second := map[string]attestationAnswer{
		"k": {res: verify.AttestationResult{Statements: []map[string]any{{"type": review, "predicate": map[string]any{"second": "yes"}}}}},
	}
	var deny *kpol.Conditions
	if err := json.Unmarshal([]byte(`{"all":[{"key":"{{ length(keys(review)) }}","operator":"Equals","value":2,"message":"both"}]}`), &deny); err != nil {
		t.Fatal(err)
	}
	iv := kpol.ImageVerification{ImageReferences: []string{"r/*"},
		Attestations: []kpol.Attestation{{Name: "review", Type: review, Attestors: []kpol.AttestorSet{{Entries: []kpol.Attestor{{Keys: &kpol.KeysAttestor{PublicKeys: "k"}}}}}}},
		Validation:   kpol.ImageValidation{Deny: &kpol.Deny{Conditions: deny}}}
	rule := &kpol.Rule{Name: "r", VerifyImages: []kpol.ImageVerification{iv}}
	mk := func(status, msg string, warn bool) *ruleResponse { return &ruleResponse{status: status, message: msg} }
	ctx := (&Engine{}).withRule(context.Background(), &kpol.Policy{}, rule, Request{Operation: "CREATE"}, map[string]any{}, nil)
	img := imageInfo{Registry: "r", Path: "x", Tag: "v1"}
	first, _ := (&Engine{Verifier: &fakeAttestations{byKey: answers}}).verifyChecks(ctx, &rule.VerifyImages[0], img, mk, verify.Auth{})
	if first.status != statusPass {
		t.Fatalf("first image: %s %q, want pass (review has one key)", first.status, first.message)
	}
	got, _ := (&Engine{Verifier: &fakeAttestations{byKey: second}}).verifyChecks(ctx, &rule.VerifyImages[0], img, mk, verify.Auth{})
	if want := "validation in verifyImages failed: both"; got.status != statusFail || got.message != want {
		t.Errorf("second image: %s %q, want fail %q", got.status, got.message, want)
	}
	fresh := (&Engine{}).withRule(context.Background(), &kpol.Policy{}, rule, Request{Operation: "CREATE"}, map[string]any{}, nil)
	if got, _ := (&Engine{Verifier: &fakeAttestations{byKey: second}}).verifyChecks(fresh, &rule.VerifyImages[0], img, mk, verify.Auth{}); got.status != statusPass {
		t.Errorf("second image in a new rule: %s %q, want pass", got.status, got.message)
	}
}
