package policyeval_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/policyeval"
)

// policyOutcome is "pass", or the kind and text of the error EvaluatePolicy returned.
func policyOutcome(err error) string {
	var f *verify.FailedError
	var c *policyeval.PolicyCompileError
	switch {
	case err == nil:
		return "pass"
	case errors.As(err, &c):
		return "compile: " + err.Error()
	case errors.As(err, &f):
		return "failed: " + err.Error()
	}
	return "untyped: " + err.Error()
}

const (
	attestation = `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cosign.sigstore.dev/attestation/v1","subject":[],"predicate":{"Data":"foobar"}}`
	jobResult   = `{"authorityMatches":{"authority-0":{"signatures":[{"subject":"a","issuer":"b"}]}},"typemeta":{"kind":"Job","apiVersion":"batch/v1"}}`
	regoQueryQ  = "'isCompliant = data.sigstore.isCompliant'"
)

func TestEvaluatePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, policyName, policyType, policy, doc string
		want                                      string
	}{
		{"cue pass", "custom-match-predicate", "cue", `predicate: Data: "foobar"`, attestation, "pass"},
		// Validate without Concrete: a field the document lacks is not a failure (a Pod has no typemeta).
		{"cue absent field passes", policyeval.CIPPolicyName, "cue", `typemeta: kind: "Pod"`, `{"authorityMatches":{}}`, "pass"},
		// e2e_test_cluster_image_policy_with_include_typemeta.sh.
		{
			"cue conflict", policyeval.CIPPolicyName, "cue", `typemeta: kind: "Pod"`, jobResult,
			`failed: failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: typemeta.kind: conflicting values "Job" and "Pod"`,
		},
		{
			"cue builtin constraint", policyeval.CIPPolicyName, "cue", "import \"list\"\nauthorityMatches: \"authority-0\": signatures: list.MinItems(2)", jobResult,
			`failed: failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: authorityMatches."authority-0".signatures: invalid value [{subject:"a",issuer:"b"}] (does not satisfy list.MinItems(2)): len(list) < MinItems(2) (1 < 2)`,
		},
		// validator_test.go "bad cip policy".
		{
			"cue does not compile", policyeval.CIPPolicyName, "cue", `{"wontgo`, jobResult,
			"compile: failed evaluating cue policy for ClusterImagePolicy: failed to compile the cue policy with error: string literal not terminated",
		},
		// CUE reports a conflict inside the policy itself while compiling it, and so does the engine.
		{
			"cue conflicts with itself", "a", "cue", "x: 1\nx: 2", attestation,
			"compile: failed evaluating cue policy for a: failed to compile the cue policy with error: x: conflicting values 2 and 1",
		},
		{
			"cue bad document", "a", "cue", `x: 1`, `{`,
			"failed: failed evaluating cue policy for a: failed to compile the attestation data with error: expected '}', found 'EOF'",
		},

		{"rego pass", "custom-match-predicate", "rego", "package sigstore\nisCompliant { input.predicate.Data == \"foobar\" }", attestation, "pass"},
		// e2e_test_cluster_image_policy_with_attestations_rego.sh.
		{
			"rego false", "custom-match-predicate", "rego", "package sigstore\nisCompliant { input.predicate.Data == \"other\" }", attestation,
			"failed: failed evaluating rego policy for type custom-match-predicate: policy is not compliant for query " + regoQueryQ,
		},
		{
			"rego default false", "custom-match-predicate", "rego", "package sigstore\ndefault isCompliant = false", attestation,
			"failed: failed evaluating rego policy for type custom-match-predicate: policy is not compliant for query " + regoQueryQ,
		},
		{
			"rego other package is undefined", "a", "rego", "package other\nisCompliant { true }", attestation,
			"failed: failed evaluating rego policy for type a: policy is not compliant for query " + regoQueryQ,
		},
		{
			"rego non-boolean value", "a", "rego", "package sigstore\nisCompliant = \"yes\"", attestation,
			"failed: failed evaluating rego policy for type a: policy is not compliant for query " + regoQueryQ,
		},
		{"rego result object passes", "a", "rego", "package sigstore\nisCompliant[r] { r := {\"result\": true, \"error\": \"\", \"warning\": \"\"} }", attestation, "pass"},
		{
			"rego result object fails with its error", "a", "rego", "package sigstore\nisCompliant[r] { r := {\"result\": false, \"error\": \"Not found expected list of attestations\"} }", attestation,
			"failed: failed evaluating rego policy for type a: policy is not compliant for query " + regoQueryQ + " with errors: Not found expected list of attestations",
		},
		// A warning on a passing result still fails: validator.go turns it into the error.
		{"rego warning fails", "a", "rego", "package sigstore\nisCompliant[r] { r := {\"result\": true, \"warning\": \"Throw warning error even if succeeded\"} }", attestation, "failed: warning: Throw warning error even if succeeded"},
		{
			"rego empty set quotes the query differently", "a", "rego", "package sigstore\nisCompliant[r] { false; r := 1 }", attestation,
			`failed: failed evaluating rego policy for type a: policy is not compliant for query "isCompliant = data.sigstore.isCompliant"`,
		},
		{
			"rego result of the wrong type", "a", "rego", "package sigstore\nisCompliant[r] { r := {\"result\": \"yes\"} }", attestation,
			"failed: failed evaluating rego policy for type a: policy is not compliant for query " + regoQueryQ + " due to parsing errors: json: cannot unmarshal string into Go struct field CosignRuleResult.result of type bool",
		},
		{
			"rego set of non-objects", "a", "rego", "package sigstore\nisCompliant[r] { r := \"x\" }", attestation,
			"failed: failed evaluating rego policy for type a: policy is not compliant for query " + regoQueryQ + ": unexpected result type string",
		},
		{
			"rego does not parse", "a", "rego", "package sigstore\nisCompliant {", attestation,
			"compile: failed evaluating rego policy for type a: 1 error occurred: sigstore.rego:2: rego_parse_error: unexpected eof token\n\tisCompliant {\n\t            ^",
		},
		// Rego v1 syntax is not accepted: the engine pins v0.
		{
			"rego v1 syntax", "a", "rego", "package sigstore\nisCompliant if { true }", attestation,
			"compile: failed evaluating rego policy for type a: 1 error occurred: sigstore.rego:2: rego_parse_error: var cannot be used for rule name",
		},
		{
			"rego undefined function", "a", "rego", "package sigstore\nisCompliant { nosuch(1) }", attestation,
			"compile: failed evaluating rego policy for type a: 1 error occurred: sigstore.rego:2: rego_type_error: undefined function nosuch",
		},

		{"other type", "a", "yaml", "x: 1", attestation, "failed: sorry Type yaml is not supported yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := policyOutcome(policyeval.EvaluatePolicy(context.Background(), tc.policyName, tc.policyType, tc.policy, []byte(tc.doc)))
			if got != tc.want {
				t.Errorf("EvaluatePolicy = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestEvaluatePolicyRegoWarningType(t *testing.T) {
	err := policyeval.EvaluatePolicy(context.Background(), "a", "rego", "package sigstore\nisCompliant[r] { r := {\"result\": true, \"warning\": \"w\"} }", []byte(attestation))
	var w *policyeval.RegoWarning
	if !errors.As(err, &w) || w.Msg != "w" {
		t.Errorf("EvaluatePolicy = %v, want a *RegoWarning with message w", err)
	}
}

func TestCompilePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, policyType, policy, want string
	}{
		{"cue", "cue", `predicate: Data: "foobar"`, "pass"},
		{"cue broken", "cue", `{"wontgo`, "compile: failed evaluating cue policy for p: failed to compile the cue policy with error: string literal not terminated"},
		{"rego", "rego", "package sigstore\nisCompliant { input.x == 1 }", "pass"},
		{"rego broken", "rego", "package sigstore\nisCompliant if { true }", "compile: failed evaluating rego policy for type p: 1 error occurred: sigstore.rego:2: rego_parse_error: var cannot be used for rule name"},
		{"other type", "json", "{}", "failed: sorry Type json is not supported yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := policyOutcome(policyeval.CompilePolicy(context.Background(), "p", tc.policyType, tc.policy)); got != tc.want {
				t.Errorf("CompilePolicy = %q, want %q", got, tc.want)
			}
		})
	}
}
