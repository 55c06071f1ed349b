package ivpol

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// input is one request as the policies' expressions see it.
type input struct {
	object, oldObject, request, namespaceObject map[string]any
	auth                                        verify.Auth
}

// outcome is one policy's response (engine.go evaluatePolicies): rule is the policy's name,
// or "evaluation" for a compile or evaluation error.
type outcome struct {
	v                     *variant
	rule, result, message string
	// image names the image a digest or required failure is about.
	image string
	// matched are the images the policy's matchImageReferences selected, for required.
	matched []string
}

const ruleEvaluation = "evaluation"

func nullable(m map[string]any) any {
	if m == nil {
		return types.NullValue
	}
	return m
}

// evaluate is compiledPolicy.Evaluate (pkg/image/verification/evaluator/policy.go): nil when
// the policy gives no response (a matchCondition false, or failing under Ignore).
func (e *Engine) evaluate(ctx context.Context, c *compiled, in *input, ev *evidence, ic *imageContext) *outcome {
	out := &outcome{v: c.v, rule: c.v.p.Name}
	evalErr := func(err error) *outcome {
		out.rule, out.result, out.message = ruleEvaluation, report.ResultError, "failed to evaluate policy: "+err.Error()
		return out
	}
	if len(c.v.p.NotReplayed) > 0 {
		out.result = report.ResultError
		out.message = report.ToolErrorPrefix + "policy " + c.v.p.Key() + " is not replayed: " + strings.Join(c.v.p.NotReplayed, "; ")
		return out
	}
	if c.err != nil {
		out.rule, out.result, out.message = ruleEvaluation, report.ResultError, "failed to compile policy: "+c.err.Error()
		return out
	}
	st := &evalState{ctx: ctx, e: e, c: c, ev: ev, ic: ic, auth: in.auth, payloads: map[string]map[string]any{}}
	vars := st.vars(in)
	if ok, err := st.conditions(vars); err != nil {
		return evalErr(err)
	} else if !ok {
		return nil
	}

	images := map[string][]string{}
	var imgList []string
	for _, x := range c.images {
		val, err := x.e.eval(ctx, vars, st)
		if err != nil {
			return evalErr(err)
		}
		list, err := stringList(val)
		if err != nil {
			return evalErr(err)
		}
		images[x.name] = []string{}
		for _, img := range list {
			ok, err := c.selects(ctx, img)
			if err != nil {
				return evalErr(err)
			}
			if ok {
				images[x.name] = append(images[x.name], img)
				imgList = append(imgList, img)
			}
		}
	}
	out.matched = imgList

	if vc := c.v.spec.ValidationConfigurations.VerifyDigest; vc == nil || *vc {
		for _, img := range imgList {
			ref, err := name.ParseReference(img)
			if err != nil {
				return evalErr(fmt.Errorf("failed to parse image reference %s: %w", img, err))
			}
			if _, ok := ref.(name.Digest); !ok {
				out.result, out.message, out.image = report.ResultFail, fmt.Sprintf("image %s does not have a digest", img), img
				return out
			}
		}
	}
	// Kyverno fetches every selected image before any validation: a registry fault is the
	// policy's error, never a verdict.
	for _, img := range imgList {
		if _, err := ic.get(ctx, e.Verifier, img, in.auth); err != nil {
			return evalErr(err)
		}
	}

	vars["images"] = images
	vars["attestations"] = c.attestationNames
	vars["attestors"] = newLazyMap(c.attestorNames, func(n string) ref.Val {
		for _, a := range c.attestors {
			if a.a.Name == n {
				return st.attestor(a, vars)
			}
		}
		return nil
	})

	for i, v := range c.validations {
		val, err := v.e.eval(ctx, vars, st)
		if st.notReplayed != "" {
			out.result, out.message = report.ResultError, report.ToolErrorPrefix+st.notReplayed
			return out
		}
		if err != nil {
			return evalErr(err)
		}
		b, ok := val.(types.Bool)
		if !ok {
			out.result, out.message = report.ResultError, "error: "+fmt.Sprintf("type conversion error from '%s' to 'bool'", val.Type().TypeName())
			return out
		}
		if b {
			continue
		}
		msg := v.message
		if v.msg != nil {
			m, err := v.msg.eval(ctx, vars, st)
			switch {
			case err != nil:
				msg = "failed to evaluate message expression: " + err.Error()
			case m.Type() != types.StringType:
				msg = fmt.Sprintf("failed to convert message expression to string: type conversion error from '%s' to 'string'", m.Type().TypeName())
			default:
				msg = string(m.(types.String))
			}
		}
		if msg == "" {
			msg = fmt.Sprintf("CEL expression validation failed at index %d", i)
		}
		out.result, out.message = report.ResultFail, msg
		return out
	}
	out.result, out.message = report.ResultPass, "success"
	return out
}

// vars are the expressions' variables before images and attestors are known; variables
// are evaluated on first use, so they see what is added later.
func (st *evalState) vars(in *input) map[string]any {
	c := st.c
	vars := map[string]any{
		"object": nullable(in.object), "oldObject": nullable(in.oldObject), "request": in.request,
		"namespaceObject": nullable(in.namespaceObject), "resource": types.NullValue,
	}
	vars["variables"] = newLazyMap(c.variableNames, func(n string) ref.Val {
		for _, v := range c.variables {
			if v.name == n {
				val, err := v.e.eval(st.ctx, vars, st)
				if err != nil {
					return types.WrapErr(err)
				}
				return val
			}
		}
		return nil
	})
	return vars
}

// conditions are matchConditions (policy.go match): a false one means no match; errors
// count only when none is false, and then only under failurePolicy Fail.
func (st *evalState) conditions(vars map[string]any) (bool, error) {
	var condErr error
	for _, cond := range st.c.conditions {
		val, err := cond.eval(st.ctx, vars, st)
		if err != nil {
			if condErr == nil {
				condErr = err
			}
			continue
		}
		if val == types.False {
			return false, nil
		}
	}
	if condErr != nil && failure(st.c.v.p) == "ignore" {
		return false, nil
	}
	return true, condErr
}

// attestor evaluates an attestor's expressions into the value verification functions take.
func (st *evalState) attestor(a attestorExprs, vars map[string]any) ref.Val {
	v := &attestorVal{a: a.a}
	if co := a.a.Cosign; co != nil {
		if co.Key != nil {
			v.key = co.Key.Data
		}
		if cert := co.Certificate; cert != nil {
			if cert.Cert != nil {
				v.cert = cert.Cert.Value
			}
			if cert.CertChain != nil {
				v.certChain = cert.CertChain.Value
			}
		}
	}
	for _, x := range []struct {
		e   *expr
		dst *string
	}{{a.key, &v.key}, {a.cert, &v.cert}, {a.certChain, &v.certChain}, {a.trusted, &v.trustRoot}} {
		if x.e == nil {
			continue
		}
		val, err := x.e.eval(st.ctx, vars, st)
		if err != nil {
			return types.NewErr("failed to convert key in compiled attestor: %s, error: failed to evaluate compiled attestor: %s, error: %v", a.a.Name, a.a.Name, err)
		}
		s, ok := val.(types.String)
		if !ok {
			return types.NewErr("failed to convert key in compiled attestor: %s, error: expression did not give a string", a.a.Name)
		}
		*x.dst = string(s)
	}
	return v
}

// stringList reads an image extractor's result: a list of strings.
func stringList(v ref.Val) ([]string, error) {
	if l, ok := v.(traits.Lister); ok {
		var out []string
		for it := l.Iterator(); it.HasNext() == types.True; {
			e := it.Next()
			s, ok := e.(types.String)
			if !ok {
				return nil, fmt.Errorf("type conversion error from '%s' to 'string'", e.Type().TypeName())
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	native, err := v.ConvertToNative(reflect.TypeOf([]string(nil)))
	if err != nil {
		return nil, err
	}
	if s, ok := native.([]string); ok {
		return s, nil
	}
	return nil, errors.New("image extractor did not give a list of strings")
}
