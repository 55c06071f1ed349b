package kubewarden

import (
	"context"
	"errors"
	"fmt"
	"strings"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// evaluate is one policy's answer: a policy's, or a group's over its members.
func (e *Engine) evaluate(ctx context.Context, p *kpol.Policy, obj map[string]any) decision {
	if !p.Group {
		return e.decide(ctx, p, obj)
	}
	return e.decideGroup(ctx, p, obj)
}

// groupMutation is policy-evaluator's verdict on a member that would mutate: groups never do.
const groupMutation = "mutation is not allowed inside of policy group"

// decideGroup is policy-evaluator's policy group: each member evaluated as a policy (one that
// would patch counts as rejecting), then the group's expression over the members' verdicts,
// each member a function returning whether it accepted. A rejection is the group's message.
// A member this tool does not replay (another module, a shape not replayed) has no known
// verdict: when the expression's value depends on it, the group is a tool-caused error.
func (e *Engine) decideGroup(ctx context.Context, p *kpol.Policy, obj map[string]any) decision {
	var d decision
	cs := containers(obj)
	if len(p.Unsupported) > 0 {
		d.toolError = "policy group " + p.Key() + ": " + strings.Join(p.Unsupported, "; ")
		for _, c := range cs {
			d.checks = append(d.checks, report.Check{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer, Result: report.ResultError, Mode: p.Mode, Message: report.ToolErrorPrefix + d.toolError})
		}
		return d
	}
	verdicts := map[string]tri{}
	unknownWhy := map[string]string{}
	for _, m := range p.Members {
		if !m.VerifyImages {
			verdicts[m.Name], unknownWhy[m.Name] = unknown, "member "+m.Name+" runs "+m.Module+", which is not simulated"
			continue
		}
		mp := &kpol.Policy{Kind: p.Kind, Name: p.Name, Namespace: p.Namespace, Mode: p.Mode, VerifyImages: true, Settings: m.Settings, SettingsError: m.SettingsError}
		md := e.decide(ctx, mp, obj)
		for _, c := range md.checks {
			c.Rule = memberRule(m.Name, c.Rule)
			d.checks = append(d.checks, c)
		}
		for _, n := range md.notChecked {
			n.Rule = memberRule(m.Name, n.Rule)
			d.notChecked = append(d.notChecked, n)
		}
		switch {
		case md.toolError != "":
			verdicts[m.Name], unknownWhy[m.Name] = unknown, "member "+m.Name+": "+md.toolError
		case md.rejected != "":
			verdicts[m.Name] = rejected
		case len(md.patch) > 0:
			// Its checks passed, but a member may not mutate: it rejects.
			verdicts[m.Name] = rejected
			for _, c := range cs {
				d.checks = append(d.checks, report.Check{Engine: EngineName, Policy: p.Key(), Rule: memberRule(m.Name, ""), Image: c.Image, Path: c.Pointer, Result: report.ResultFail, Mode: p.Mode, Message: groupMutation})
			}
		default:
			verdicts[m.Name] = accepted
		}
	}
	v, err := evalExpression(p.Expression, verdicts)
	var syntax *syntaxError
	switch {
	case errors.As(err, &syntax):
		d.toolError = fmt.Sprintf("policy group %s: expression %q is not replayed: %v", p.Key(), p.Expression, err)
	case err != nil:
		d.rejected = "error evaluating policy group expression: " + err.Error()
	case v == unknown:
		var why []string
		for _, m := range p.Members {
			if verdicts[m.Name] == unknown {
				why = append(why, unknownWhy[m.Name])
			}
		}
		d.toolError = fmt.Sprintf("policy group %s: the expression depends on members not replayed: %s", p.Key(), strings.Join(why, "; "))
	case v == rejected:
		d.rejected = p.Message
	}
	// The group's own verdict, per image, where it says something the members' checks do not
	// (they may all pass and the group still reject: `!a()`).
	if d.toolError == "" && d.rejected == "" && len(d.checks) == 0 {
		return d
	}
	for _, c := range cs {
		check := report.Check{Engine: EngineName, Policy: p.Key(), Rule: "expression", Image: c.Image, Path: c.Pointer, Mode: p.Mode}
		switch {
		case d.toolError != "":
			check.Result, check.Message = report.ResultError, report.ToolErrorPrefix+d.toolError
		case d.rejected != "":
			check.Result, check.Message = report.ResultFail, d.rejected
		default:
			check.Result = report.ResultPass
		}
		d.checks = append(d.checks, check)
	}
	return d
}

func memberRule(member, rule string) string {
	if rule == "" {
		return "policies." + member
	}
	return "policies." + member + "." + rule
}

// tri is a member's verdict: accepted, rejected, or not known to this tool.
type tri int

const (
	unknown tri = iota
	accepted
	rejected
)

func (t tri) not() tri {
	switch t {
	case accepted:
		return rejected
	case rejected:
		return accepted
	}
	return unknown
}

// syntaxError is an expression this tool does not parse: the engine (Rhai) may well accept
// it, so its value is not known here.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// evalExpression evaluates the part of Rhai group expressions use: member calls `name()`,
// `true`, `false`, `!`, `&&`, `||` and parentheses, in Kleene's three-valued logic, so that a
// member whose verdict is unknown matters only when the value depends on it. A call of a name
// that is no member is Rhai's "Function not found" error.
func evalExpression(expr string, verdicts map[string]tri) (tri, error) {
	p := &exprParser{src: expr, verdicts: verdicts}
	p.next()
	v, err := p.or()
	if err != nil {
		return unknown, err
	}
	if p.tok != "" {
		return unknown, &syntaxError{fmt.Sprintf("unexpected %q", p.tok)}
	}
	return v, nil
}

type exprParser struct {
	src      string
	pos      int
	tok      string
	verdicts map[string]tri
}

// next reads the next token: an identifier, ( ) ! && ||, or "" at the end.
func (p *exprParser) next() {
	for p.pos < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.pos])) {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '(' || c == ')' || c == '!':
		p.pos++
	case (c == '&' || c == '|') && p.pos+1 < len(p.src) && p.src[p.pos+1] == c:
		p.pos += 2
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if !identRune(c) {
				break
			}
			p.pos++
		}
	default:
		p.pos = len(p.src)
		p.tok = p.src[start:]
		return
	}
	p.tok = p.src[start:p.pos]
}

func identRune(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *exprParser) or() (tri, error) {
	v, err := p.and()
	for err == nil && p.tok == "||" {
		p.next()
		var w tri
		if w, err = p.and(); err == nil {
			switch {
			case v == accepted || w == accepted:
				v = accepted
			case v == unknown || w == unknown:
				v = unknown
			default:
				v = rejected
			}
		}
	}
	return v, err
}

func (p *exprParser) and() (tri, error) {
	v, err := p.unary()
	for err == nil && p.tok == "&&" {
		p.next()
		var w tri
		if w, err = p.unary(); err == nil {
			switch {
			case v == rejected || w == rejected:
				v = rejected
			case v == unknown || w == unknown:
				v = unknown
			default:
				v = accepted
			}
		}
	}
	return v, err
}

func (p *exprParser) unary() (tri, error) {
	if p.tok == "!" {
		p.next()
		v, err := p.unary()
		return v.not(), err
	}
	return p.primary()
}

func (p *exprParser) primary() (tri, error) {
	switch tok := p.tok; {
	case tok == "(":
		p.next()
		v, err := p.or()
		if err != nil {
			return unknown, err
		}
		if p.tok != ")" {
			return unknown, &syntaxError{"missing )"}
		}
		p.next()
		return v, nil
	case tok == "true" || tok == "false":
		p.next()
		if tok == "true" {
			return accepted, nil
		}
		return rejected, nil
	case tok != "" && (tok[0] == '_' || tok[0] >= 'a' && tok[0] <= 'z' || tok[0] >= 'A' && tok[0] <= 'Z'):
		p.next()
		if p.tok != "(" {
			return unknown, &syntaxError{fmt.Sprintf("%s is not a call", tok)}
		}
		p.next()
		if p.tok != ")" {
			return unknown, &syntaxError{fmt.Sprintf("%s( takes no arguments here", tok)}
		}
		p.next()
		v, ok := p.verdicts[tok]
		if !ok {
			return unknown, fmt.Errorf("Function not found: %s ()", tok) //nolint:staticcheck // Rhai's text
		}
		return v, nil
	case tok == "":
		return unknown, &syntaxError{"unexpected end of expression"}
	}
	return unknown, &syntaxError{fmt.Sprintf("unexpected %q", p.tok)}
}
