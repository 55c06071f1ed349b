package ivpol

import (
	"context"
	"fmt"

	"github.com/gobwas/glob"
	"github.com/google/cel-go/common/types"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
)

// compiled is one variant of a policy compiled for one request resource: the built-in image
// extractors depend on the resource (Kyverno compiles once per request, evaluator/compiler.go).
type compiled struct {
	v *variant
	// err is a compile failure: the policy's result is then
	// `failed to compile policy: <err>`.
	err         error
	conditions  []*expr
	refs        []refMatcher
	images      []namedExpr
	variables   []namedExpr
	validations []validationExpr
	attestors   []attestorExprs
	// The names the variables, attestors and attestations maps hold (attestations maps each
	// name to itself, as Kyverno's does).
	variableNames, attestorNames []string
	attestationNames             map[string]string
}

type refMatcher struct {
	g glob.Glob
	e *expr
}

type namedExpr struct {
	name string
	e    *expr
}

type validationExpr struct {
	e, msg  *expr
	message string
}

type attestorExprs struct {
	a                             *ivpol.Attestor
	key, cert, certChain, trusted *expr
}

// builtinImages are Kyverno's image extractors per request resource
// (pkg/cel/compiler/images.go): the path of the pod spec, then one list per category.
var builtinImages = map[string]string{
	"/v1/pods":             ".spec",
	"apps/v1/deployments":  ".spec.template.spec",
	"apps/v1/statefulsets": ".spec.template.spec",
	"apps/v1/daemonsets":   ".spec.template.spec",
	"apps/v1/replicasets":  ".spec.template.spec",
	"batch/v1/jobs":        ".spec.template.spec",
	"batch/v1/cronjobs":    ".spec.jobTemplate.spec.template.spec",
}

var categories = []string{"containers", "initContainers", "ephemeralContainers"}

func compile(v *variant, gvr string) *compiled {
	c := &compiled{v: v}
	env, err := ivpol.PolicyEnv()
	if err != nil {
		c.err = err
		return c
	}
	refEnv, err := ivpol.RefEnv()
	if err != nil {
		c.err = err
		return c
	}
	fail := func(field string, err error) *compiled {
		c.err = fmt.Errorf("%s: %w", field, err)
		return c
	}
	s := v.spec
	for i, m := range s.MatchConditions {
		e, err := compileExpr(env, m.Expression)
		if err != nil {
			return fail(fmt.Sprintf("spec.matchConditions[%d].expression", i), err)
		}
		c.conditions = append(c.conditions, e)
	}
	for i, m := range s.MatchImageReferences {
		if m.Glob != "" {
			g, err := glob.Compile(m.Glob)
			if err != nil {
				return fail(fmt.Sprintf("spec.matchImageReferences[%d].glob", i), err)
			}
			c.refs = append(c.refs, refMatcher{g: g})
			continue
		}
		e, err := compileExpr(refEnv, m.Expression)
		if err != nil {
			return fail(fmt.Sprintf("spec.matchImageReferences[%d].expression", i), err)
		}
		c.refs = append(c.refs, refMatcher{e: e})
	}
	if path, ok := builtinImages[gvr]; ok {
		for _, cat := range categories {
			e, err := compileExpr(env, fmt.Sprintf("(object != null ? object : oldObject)%s.?%s.orValue([]).map(e, e.image)", path, cat))
			if err != nil {
				return fail("images", err)
			}
			c.images = append(c.images, namedExpr{cat, e})
		}
	}
	for i, m := range s.Images {
		e, err := compileExpr(env, m.Expression)
		if err != nil {
			return fail(fmt.Sprintf("spec.images[%d].expression", i), err)
		}
		replaced := false
		for j := range c.images {
			if c.images[j].name == m.Name {
				c.images[j].e, replaced = e, true
			}
		}
		if !replaced {
			c.images = append(c.images, namedExpr{m.Name, e})
		}
	}
	for i, m := range s.Variables {
		e, err := compileExpr(env, m.Expression)
		if err != nil {
			return fail(fmt.Sprintf("spec.variables[%d].expression", i), err)
		}
		c.variables = append(c.variables, namedExpr{m.Name, e})
		c.variableNames = append(c.variableNames, m.Name)
	}
	for i := range s.Attestors {
		a := &s.Attestors[i]
		ae := attestorExprs{a: a}
		one := func(v *ivpol.StringOrExpression) (*expr, error) {
			if v == nil || v.Expression == "" {
				return nil, nil
			}
			return compileExpr(env, v.Expression)
		}
		var err error
		switch {
		case a.Cosign != nil:
			if k := a.Cosign.Key; k != nil && k.Expression != "" {
				ae.key, err = compileExpr(env, k.Expression)
			} else if cert := a.Cosign.Certificate; cert != nil {
				if ae.cert, err = one(cert.Cert); err == nil {
					ae.certChain, err = one(cert.CertChain)
				}
			}
			if err == nil {
				ae.trusted, err = one(a.Cosign.TrustedRoot)
			}
		case a.Notary != nil:
			ae.cert, err = one(a.Notary.Certs)
		}
		if err != nil {
			return fail(fmt.Sprintf("spec.attestors[%d]", i), err)
		}
		c.attestors = append(c.attestors, ae)
		c.attestorNames = append(c.attestorNames, a.Name)
	}
	c.attestationNames = map[string]string{}
	for _, a := range s.Attestations {
		c.attestationNames[a.Name] = a.Name
	}
	for i, val := range s.Validations {
		e, err := compileExpr(env, val.Expression)
		if err != nil {
			return fail(fmt.Sprintf("spec.validations[%d].expression", i), err)
		}
		ve := validationExpr{e: e, message: val.Message}
		if val.MessageExpression != "" {
			if ve.msg, err = compileExpr(env, val.MessageExpression); err != nil {
				return fail(fmt.Sprintf("spec.validations[%d].messageExpression", i), err)
			}
		}
		c.validations = append(c.validations, ve)
	}
	return c
}

// selects is matchImageReferences on the string as given (matching/image.go): none selects
// every image; globs and expressions combine with OR.
func (c *compiled) selects(ctx context.Context, image string) (bool, error) {
	if len(c.refs) == 0 {
		return true, nil
	}
	for _, r := range c.refs {
		if r.g != nil {
			if r.g.Match(image) {
				return true, nil
			}
			continue
		}
		out, err := r.e.eval(ctx, map[string]any{"ref": image}, nil)
		if err != nil {
			return false, err
		}
		if out == types.True {
			return true, nil
		}
	}
	return false, nil
}

func (c *compiled) attestation(name string) *ivpol.Attestation {
	for i := range c.v.spec.Attestations {
		if c.v.spec.Attestations[i].Name == name {
			return &c.v.spec.Attestations[i]
		}
	}
	return nil
}
