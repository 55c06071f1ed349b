package kubewarden

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/groupexpr"
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
		return notReplayed(p, cs, "policy group")
	}
	verdicts := map[string]groupexpr.Tri{}
	unknownWhy := map[string]string{}
	for _, m := range p.Members {
		if !m.VerifyImages {
			verdicts[m.Name], unknownWhy[m.Name] = groupexpr.Unknown, "member "+m.Name+" runs "+m.Module+", which is not simulated"
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
			verdicts[m.Name], unknownWhy[m.Name] = groupexpr.Unknown, "member "+m.Name+": "+md.toolError
		case md.rejected != "":
			verdicts[m.Name] = groupexpr.Rejected
		case len(md.patch) > 0:
			// Its checks passed, but a member may not mutate: it rejects.
			verdicts[m.Name] = groupexpr.Rejected
			for _, c := range cs {
				d.checks = append(d.checks, report.Check{Engine: EngineName, Policy: p.Key(), Rule: memberRule(m.Name, ""), Image: c.Image, Path: c.Pointer, Result: report.ResultFail, Mode: p.Mode, Message: groupMutation})
			}
		default:
			verdicts[m.Name] = groupexpr.Accepted
		}
	}
	v, err := groupexpr.Eval(p.Expression, verdicts)
	var syntax *groupexpr.SyntaxError
	switch {
	case errors.As(err, &syntax):
		d.toolError = fmt.Sprintf("policy group %s: expression %q is not replayed: %v", p.Key(), p.Expression, err)
	case err != nil:
		d.rejected = "error evaluating policy group expression: " + err.Error()
	case v == groupexpr.Unknown:
		var why []string
		for _, m := range p.Members {
			if verdicts[m.Name] == groupexpr.Unknown {
				why = append(why, unknownWhy[m.Name])
			}
		}
		d.toolError = fmt.Sprintf("policy group %s: the expression depends on members not replayed: %s", p.Key(), strings.Join(why, "; "))
	case v == groupexpr.Rejected:
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
