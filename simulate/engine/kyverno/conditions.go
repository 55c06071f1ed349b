package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

type ruleStateKey struct{}

// ruleState is what one rule's image checks share, as Kyverno's policy context does between
// them: the rule (validate.deny looks at all its entries) and the JSON context, which the
// predicates of named attestations join for the rule's later images and entries. The
// context is built on first use: most rules never read it.
type ruleState struct {
	rule  *kpol.Rule
	build func() *kyvernocond.Context
	vars  *kyvernocond.Context
}

// withRule gives the image checks of rule their shared state. request.object is the object
// with the image patches of earlier rules, as Kyverno updates its context after each rule.
func (e *Engine) withRule(ctx context.Context, p *kpol.Policy, rule *kpol.Rule, req Request, obj map[string]any, patched map[string]string) context.Context {
	ops := make([]report.PatchOp, 0, len(patched))
	for path, v := range patched {
		ops = append(ops, report.PatchOp{Op: "replace", Path: path, Value: v})
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return context.WithValue(ctx, ruleStateKey{}, &ruleState{rule: rule, build: func() *kyvernocond.Context {
		object, err := admission.Apply(obj, ops)
		if err != nil {
			object = obj
		}
		ns := ""
		if meta, ok := object["metadata"].(map[string]any); ok {
			ns, _ = meta["namespace"].(string)
		}
		vars := kyvernocond.NewContext(map[string]any{"request": map[string]any{
			"object": object, "namespace": ns, "operation": req.Operation,
		}})
		// The rule's context entries load lazily, when a query first names them.
		for _, c := range rule.Context {
			switch {
			case c.Variable != nil:
				_ = vars.AddDeferred(c.Name, kyvernocond.Variable{Name: c.Name, Value: c.Variable.Value, JMESPath: c.Variable.JMESPath, Default: c.Variable.Default}.Load)
			case c.ConfigMap != nil:
				_ = vars.AddDeferred(c.Name, configMapLoader(ctx, e.ConfigMaps, c, p.Namespace))
			case c.APICall != nil:
				_ = vars.AddDeferred(c.Name, apiCallLoader(ctx, e.API, c, p.Namespace))
			}
		}
		return vars
	}})
}

func stateOf(ctx context.Context) *ruleState {
	if s, ok := ctx.Value(ruleStateKey{}).(*ruleState); ok {
		return s
	}
	return &ruleState{build: func() *kyvernocond.Context { return kyvernocond.NewContext(nil) }}
}

func (s *ruleState) context() *kyvernocond.Context {
	if s.vars == nil {
		s.vars = s.build()
	}
	return s.vars
}

// rawPredicate is getRawResp: the predicate of the first statement that has an object one,
// as JSON; named attestations add it to the context whatever its type.
func rawPredicate(statements []map[string]any) ([]byte, error) {
	for _, st := range statements {
		if p, ok := st["predicate"].(map[string]any); ok {
			return json.Marshal(p)
		}
	}
	return nil, errors.New("predicate not found in any statement")
}

// verifyStatements is verifyAttestation: some statement must be of the type, and each of
// that type must meet the conditions. image names the image as known by then (with the
// digest the attestations gave).
func verifyStatements(vars *kyvernocond.Context, statements []map[string]any, att *kpol.Attestation, typ, image string) error {
	var ofType []map[string]any
	for _, st := range statements {
		if t, _ := st["type"].(string); t == typ {
			ofType = append(ofType, st)
		}
	}
	if ofType == nil {
		return fmt.Errorf("attestions not found for predicate type %s", typ)
	}
	for _, st := range ofType {
		ok, msg, err := vars.CheckStatement(att.Conditions, st)
		if err != nil {
			return fmt.Errorf("failed to check attestations: %w", err)
		}
		if !ok {
			return fmt.Errorf("attestation checks failed for %s and predicate %s: %s", image, typ, msg)
		}
	}
	return nil
}

// denyRule is the end of verifyAttestations for a rule with validate: every entry's
// deny, in order, over the context the attestations filled (§4.1 step 7).
func denyRule(s *ruleState, mk func(string, string, bool) *ruleResponse) *ruleResponse {
	vars := s.context()
	for i := range s.rule.VerifyImages {
		v := &s.rule.VerifyImages[i].Validation
		if v.Deny == nil {
			continue
		}
		deny, msg, err := vars.Evaluate(v.Deny.Conditions)
		if err != nil {
			if toolCaused(err) {
				return mk(statusError, report.ToolErrorPrefix+err.Error(), true)
			}
			return mk(statusFail, fmt.Sprintf("validation in verifyImages failed: failed to check deny conditions: %v", err), true)
		}
		if deny {
			return mk(statusFail, "validation in verifyImages failed: "+denyMessage(vars, v.Message, msg), true)
		}
	}
	return mk(statusPass, fmt.Sprintf("verifyImages validation is passed in %s rule", s.rule.Name), false)
}

// denyMessage is getDenyMessage: the validate message and the deny conditions' messages
// joined, variables resolved; the conditions' messages alone when that fails.
func denyMessage(vars *kyvernocond.Context, message, msg string) string {
	if message == "" && msg == "" {
		return fmt.Sprintf("validation error: imageVerify %s failed", message)
	}
	s := message
	if msg != "" {
		if s != "" {
			s += "; "
		}
		s += msg
	}
	v, err := vars.Substitute(s)
	if err != nil {
		return msg
	}
	if str, ok := v.(string); ok {
		return str
	}
	return "the produced message didn't resolve to a string, check your policy definition."
}

// hasValidate is HasValidateImageVerification.
func hasValidate(r *kpol.Rule) bool {
	for i := range r.VerifyImages {
		if r.VerifyImages[i].Validation.IsSet() {
			return true
		}
	}
	return false
}
