// Package policyeval evaluates the CUE and Rego policies policy-controller runs against
// verified signatures and attestations, as it calls them. It lives apart from verify so that
// its engines are linked only into binaries whose engines use it.
package policyeval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cuelang.org/go/cue/cuecontext"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// CIPPolicyName is the name policy-controller evaluates a ClusterImagePolicy's own spec.policy
// under (validator.go: EvaluatePolicyAgainstJSON(ctx, "ClusterImagePolicy", ...)); an
// attestation's policy is evaluated under the attestation's name.
const CIPPolicyName = "ClusterImagePolicy"

// The Rego contract of cosign v3.0.x (pkg/cosign/rego, the version policy-controller pins):
// package sigstore, rule isCompliant, bound by this exact query, whose text the messages repeat.
const (
	regoModuleName = "sigstore.rego"
	regoRule       = "isCompliant"
	regoQuery      = "isCompliant = data.sigstore.isCompliant"
)

// PolicyCompileError means a CUE or Rego policy does not compile. policy-controller does not
// check this when a ClusterImagePolicy is created (its Policy.Validate leaves the body alone),
// so such a policy is admitted and then fails every image it is asked about with this text.
// Error() is that text, wrapping included.
type PolicyCompileError struct{ Err error }

func (e *PolicyCompileError) Error() string { return e.Err.Error() }
func (e *PolicyCompileError) Unwrap() error { return e.Err }

// RegoWarning is a Rego result {result: true, warning: <msg>}: the policy passed, yet
// policy-controller counts the warning as a failure (validator.go returns it as the CIP's or
// the attestation's error). Error() is "warning: <msg>".
type RegoWarning struct{ Msg string }

func (e *RegoWarning) Error() string { return "warning: " + e.Msg }

// EvaluatePolicy evaluates a cue or rego policy against a JSON document as policy-controller
// does (cosign v3.0.x pkg/policy EvaluatePolicyAgainstJSON, removed from cosign in v3.1.2, so
// replayed here on the same CUE and OPA calls). name is the attestation's name, or
// CIPPolicyName for spec.policy. It returns nil when the document satisfies the policy,
// *PolicyCompileError when the policy does not compile, and otherwise *FailedError with the
// engine's text (a passing Rego result with a warning included, as *RegoWarning).
func EvaluatePolicy(ctx context.Context, name, policyType, policy string, doc []byte) error {
	switch policyType {
	case "cue":
		return evaluateCUE(name, policy, doc)
	case "rego":
		return evaluateRego(ctx, name, policy, doc)
	}
	// Unreachable through the CIP webhook, which only admits cue and rego, but this is the
	// engine's answer to anything else.
	return &verify.FailedError{Err: fmt.Errorf("sorry Type %s is not supported yet", policyType)}
}

// CompilePolicy compiles a cue or rego policy without evaluating it: nil, or the
// *PolicyCompileError EvaluatePolicy would return for any document. It lets a loader flag a
// policy that will deny everything although policy-controller accepted it.
func CompilePolicy(ctx context.Context, name, policyType, policy string) error {
	switch policyType {
	case "cue":
		if err := cuecontext.New().CompileString(policy).Err(); err != nil {
			return cueCompileError(name, err)
		}
		return nil
	case "rego":
		_, err := prepareRego(ctx, policy)
		if err != nil {
			return regoCompileError(name, err)
		}
		return nil
	}
	return &verify.FailedError{Err: fmt.Errorf("sorry Type %s is not supported yet", policyType)}
}

func cueFailure(name string, err error) error {
	return fmt.Errorf("failed evaluating cue policy for %s: %w", name, err)
}

func cueCompileError(name string, err error) error {
	return &PolicyCompileError{cueFailure(name, fmt.Errorf("failed to compile the cue policy with error: %w", err))}
}

// regoFailure is the engine's wrapping; note "for type" where CUE says "for".
func regoFailure(name string, err error) error {
	return fmt.Errorf("failed evaluating rego policy for type %s: %w", name, err)
}

func regoCompileError(name string, err error) error {
	return &PolicyCompileError{regoFailure(name, err)}
}

// evaluateCUE unifies the policy with the document and validates without requiring concrete
// values, so a field the document lacks does not fail; only conflicts do.
func evaluateCUE(name, policy string, doc []byte) error {
	cctx := cuecontext.New()
	p := cctx.CompileString(policy)
	if err := p.Err(); err != nil {
		return cueCompileError(name, err)
	}
	d := cctx.CompileBytes(doc)
	if err := d.Err(); err != nil {
		return &verify.FailedError{Err: cueFailure(name, fmt.Errorf("failed to compile the attestation data with error: %w", err))}
	}
	if err := p.Unify(d).Validate(); err != nil {
		return &verify.FailedError{Err: cueFailure(name, fmt.Errorf("failed to evaluate the policy with error: %w", err))}
	}
	return nil
}

func prepareRego(ctx context.Context, policy string) (rego.PreparedEvalQuery, error) {
	return rego.New(
		rego.Query(regoQuery),
		rego.Module(regoModuleName, policy),
		// policy-controller's policies are written in Rego v0 (`isCompliant { ... }`).
		rego.SetRegoVersion(ast.RegoV0),
	).PrepareForEval(ctx)
}

func evaluateRego(ctx context.Context, name, policy string, doc []byte) error {
	q, err := prepareRego(ctx, policy)
	if err != nil {
		return regoCompileError(name, err)
	}
	var input any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&input); err != nil {
		return &verify.FailedError{Err: regoFailure(name, err)}
	}
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return &verify.FailedError{Err: regoFailure(name, err)}
	}
	for _, r := range rs {
		switch v := r.Bindings[regoRule].(type) {
		case []any:
			return regoResults(name, v)
		case bool:
			if v {
				return nil
			}
		}
	}
	return &verify.FailedError{Err: regoFailure(name, fmt.Errorf("policy is not compliant for query '%s'", regoQuery))}
}

// regoResult is one element of an isCompliant set or array. encoding/json matches the keys
// case-insensitively and ignores others, as the engine's own decoding does.
type regoResult struct {
	Warning string `json:"warning,omitempty"`
	Error   string `json:"error,omitempty"`
	Result  bool   `json:"result,omitempty"`
}

// regoResults reads isCompliant given as a set or array of {result, error, warning}: the first
// passing element decides; otherwise the last failing one's error is reported.
func regoResults(name string, results []any) error {
	// With no element at all the engine's text quotes the query with %q, not '...'.
	err := fmt.Errorf("policy is not compliant for query %q", regoQuery)
	for _, r := range results {
		m, ok := r.(map[string]any)
		if !ok {
			// cosign v3.0.5 (policy-controller's) panics here, failing the webhook call itself;
			// cosign v3.1.0 returns this text. Either way the image is not admitted.
			return &verify.FailedError{Err: regoFailure(name, fmt.Errorf("policy is not compliant for query '%s': unexpected result type %T", regoQuery, r))}
		}
		raw, merr := json.Marshal(m)
		if merr != nil {
			return &verify.FailedError{Err: regoFailure(name, fmt.Errorf("policy is not compliant for query '%s' due to parsing errors: %w", regoQuery, merr))}
		}
		var res regoResult
		if uerr := json.Unmarshal(raw, &res); uerr != nil {
			// encoding/json names the Go type in its text; the engine's type is CosignRuleResult.
			var ute *json.UnmarshalTypeError
			if errors.As(uerr, &ute) {
				ute.Struct = "CosignRuleResult"
			}
			return &verify.FailedError{Err: regoFailure(name, fmt.Errorf("policy is not compliant for query '%s' due to parsing errors: %w", regoQuery, uerr))}
		}
		if res.Result {
			if res.Warning == "" {
				return nil
			}
			return &verify.FailedError{Err: &RegoWarning{Msg: res.Warning}}
		}
		err = fmt.Errorf("policy is not compliant for query '%s' with errors: %s", regoQuery, res.Error)
	}
	return &verify.FailedError{Err: regoFailure(name, err)}
}
