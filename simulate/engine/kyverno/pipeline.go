package kyverno

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"go.yaml.in/yaml/v3"
)

// Outcome is the Kyverno side of one resource.
type Outcome struct {
	// Checks are what `kyverno apply -p` lists; CheckPaths[i] are every image pointer
	// Checks[i] covers.
	Checks     []report.Check
	CheckPaths [][]string
	NotChecked []report.NotChecked
	// InputWarnings are problems inside the resource.
	InputWarnings []string
}

// Checks runs the CLI pipeline: each policy's verify phase on the object the previous policy
// produced (annotations applied per policy), then every validating phase on the result.
func (e *Engine) Checks(ctx context.Context, req Request) (Outcome, error) {
	var out Outcome
	original, warnings := e.images(req.Object)
	out.InputWarnings = warnings
	obj, err := admission.DeepCopy(req.Object)
	if err != nil {
		return out, err
	}
	var all []ruleResponse
	var unchanged []report.NotChecked
	sameOld := oldIsObject(req)
	for _, p := range e.Policies {
		resps, ops, md := e.verifyPolicy(ctx, p, cliRequest(req, obj, sameOld), obj)
		all = append(all, resps...)
		unchanged = append(unchanged, md.unchanged...)
		if obj, err = admission.Apply(obj, ops); err != nil {
			return out, err
		}
		if !md.empty() {
			meta, _ := obj["metadata"].(map[string]any)
			ann, _ := meta["annotations"].(map[string]any)
			if obj, err = admission.Apply(obj, md.patches(len(ann) != 0)); err != nil {
				return out, err
			}
		}
	}
	for _, p := range e.Policies {
		all = append(all, e.validatePolicy(ctx, p, req, obj)...)
	}
	raw := map[string]string{}
	for _, img := range original {
		raw[img.Pointer] = img.Raw
	}
	covered := map[string]bool{}
	for _, r := range all {
		img := raw[r.image.Pointer]
		if img == "" {
			img = r.image.Raw
		}
		out.Checks = append(out.Checks, report.Check{
			Engine: EngineName, Policy: r.policy.Key(), Rule: r.rule, Image: img, Path: r.image.Pointer,
			Digest: r.digest, Result: reportResult(r), Mode: strings.ToLower(e.action(r.policy, r.rule, req, false)), Message: r.message,
		})
		out.CheckPaths = append(out.CheckPaths, r.paths)
		for _, p := range r.paths {
			covered[p] = true
		}
	}
	out.NotChecked = withUnchanged(e.notChecked(req, original, covered), unchanged)
	return out, nil
}

// reportResult is the result as Kyverno's reports record it: a failure of a policy annotated
// policies.kyverno.io/scored: "false" is a warning there (admission is unaffected).
func reportResult(r ruleResponse) string {
	if r.status == statusFail && r.policy.Annotations["policies.kyverno.io/scored"] == "false" {
		return report.ResultWarn
	}
	return r.status
}

// notChecked explains each image no check covers.
func (e *Engine) notChecked(req Request, images []imageInfo, covered map[string]bool) []report.NotChecked {
	res := toResource(req.Object, req.Operation, req.NamespaceLabels)
	var out []report.NotChecked
	for _, img := range images {
		if covered[img.Pointer] {
			continue
		}
		nc := report.NotChecked{Engine: EngineName, Image: img.Raw, Path: img.Pointer, Reason: report.ReasonNoMatchingPolicy}
		best := 0
	policies:
		for _, p := range e.Policies {
			for _, r := range e.rulesFor(p, "") {
				r := r
				if len(r.VerifyImages) == 0 {
					continue
				}
				rank, reason := 0, ""
				switch {
				case !policyApplies(p, res):
					rank, reason = 1, report.ReasonNamespace
				case !matchResources(r.MatchResources, res, false):
					continue
				case r.ExcludeResources != nil && excluded(*r.ExcludeResources, res):
					rank, reason = 2, report.ReasonExcluded
				default:
					rank, reason = 3, report.ReasonImageNotSelected
				}
				if rank > best {
					best = rank
					nc.Policy, nc.Rule, nc.Reason = p.Key(), r.Name, reason
				}
				if best == 3 {
					break policies
				}
			}
		}
		if best == 0 {
			nc.Engine = ""
		}
		out = append(out, nc)
	}
	return out
}

// Webhooks are the Kyverno webhooks that would see the request; enforce resolves every rule
// to Enforce (the "if enforced" replay).
func (e *Engine) Webhooks(req Request, enforce bool) []admission.Webhook {
	if SkippedByConfig(e.Config, req) {
		return nil
	}
	var ignore, fail []*kpol.Policy
	for _, p := range e.Policies {
		if p.Spec.FailurePolicyFail() {
			fail = append(fail, p)
		} else {
			ignore = append(ignore, p)
		}
	}
	var hooks []admission.Webhook
	for _, b := range []struct {
		suffix   string
		policies []*kpol.Policy
	}{{"ignore", ignore}, {"fail", fail}} {
		if len(b.policies) == 0 {
			continue
		}
		policies := b.policies
		hooks = append(hooks,
			admission.Webhook{
				Name: "mutate.kyverno.svc-" + b.suffix, Configuration: "kyverno-resource-mutating-webhook-cfg", Mutating: true,
				Call: func(ctx context.Context, obj map[string]any) admission.Response {
					return e.mutate(ctx, req, obj, policies, enforce)
				},
			},
			admission.Webhook{
				Name: "validate.kyverno.svc-" + b.suffix, Configuration: "kyverno-resource-validating-webhook-cfg",
				Call: func(ctx context.Context, obj map[string]any) admission.Response {
					return e.validate(ctx, req, obj, policies, enforce)
				},
			})
	}
	return hooks
}

// SkippedByConfig says whether resourceFilters or the webhooks' namespaceSelector keep a
// request from Kyverno's webhooks altogether (pkg/config ToFilter; the webhook configuration), its
// ImageValidatingPolicy webhooks too (webhooks/server.go WithFilter).
func SkippedByConfig(cfg Config, req Request) bool {
	res := toResource(req.Object, req.Operation, req.NamespaceLabels)
	for _, f := range cfg.ResourceFilters {
		if match(f.Group, res.Group) && match(f.Version, res.Version) && match(f.Kind, res.Kind) && match(f.Subresource, "") {
			if match(f.Namespace, res.Namespace) && match(f.Name, res.Name) {
				return true
			}
			if res.Group == "" && res.Version == "v1" && res.Kind == "Namespace" && match(f.Namespace, res.Name) {
				return true
			}
		}
	}
	if sel := cfg.WebhookNamespaceSelector; sel != nil && res.Namespace != "" && !selectorMatches(sel, req.NamespaceLabels) {
		return true
	}
	return false
}

type policyResponses struct {
	policy *kpol.Policy
	resps  []ruleResponse
}

func (e *Engine) mutate(ctx context.Context, req Request, obj map[string]any, policies []*kpol.Policy, enforce bool) admission.Response {
	var all []policyResponses
	var imagePatches []report.PatchOp
	md := &metadata{}
	for _, p := range policies {
		resps, ops, pmd := e.verifyPolicy(ctx, p, req, obj)
		if len(resps) > 0 {
			all = append(all, policyResponses{p, resps})
		}
		imagePatches = append(imagePatches, ops...)
		md.merge(pmd)
	}
	if msg, blocked := e.blocked(req, obj, all, policies, enforce); blocked {
		// A blocking answer carries no warnings: handleVerifyImages returns none when blocked
		// (Kyverno 1.19.1 pkg/webhooks/resource/imageverification/handler.go).
		return admission.Response{Message: msg}
	}
	var patch []report.PatchOp
	if !md.empty() {
		meta, _ := obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		patch = md.patches(len(ann) != 0)
	}
	return admission.Response{Allowed: true, Warnings: e.warnings(all), Patch: append(patch, imagePatches...)}
}

func (e *Engine) validate(ctx context.Context, req Request, obj map[string]any, policies []*kpol.Policy, enforce bool) admission.Response {
	var all []policyResponses
	for _, p := range policies {
		if resps := e.validatePolicy(ctx, p, req, obj); len(resps) > 0 {
			all = append(all, policyResponses{p, resps})
		}
	}
	if msg, blocked := e.blocked(req, obj, all, policies, enforce); blocked {
		// As in the mutating phase: HandleValidationEnforce returns no warnings when blocked
		// (pkg/webhooks/resource/validation/validation.go).
		return admission.Response{Message: msg}
	}
	return admission.Response{Allowed: true, Warnings: e.warnings(all)}
}

// blocked is BlockRequest plus GetBlockedMessages (spec/kyverno.md §4.3, §4.4): a fail under
// Enforce blocks; an error blocks when any policy of the call is failurePolicy Fail.
func (e *Engine) blocked(req Request, obj map[string]any, all []policyResponses, policies []*kpol.Policy, enforce bool) (string, bool) {
	failPolicy := false
	for _, p := range policies {
		if p.Spec.FailurePolicyFail() {
			failPolicy = true
		}
	}
	block := false
	for _, pr := range all {
		for _, r := range pr.resps {
			if r.status == statusFail && kpolEnforce(e.action(pr.policy, r.rule, req, enforce)) {
				block = true
			}
			if r.status == statusError && failPolicy {
				block = true
			}
		}
	}
	if !block {
		return "", false
	}
	failures := map[string]map[string]string{}
	for _, pr := range all {
		reasons := map[string]string{}
		for _, r := range pr.resps {
			if r.status != statusPass && r.status != statusSkip {
				reasons[r.rule] = r.message
			}
		}
		if len(reasons) > 0 {
			failures[pr.policy.Name] = reasons
		}
	}
	res := toResource(obj, req.Operation, req.NamespaceLabels)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(failures); err != nil {
		return fmt.Sprintf("failed to encode failures: %v\n", err), true
	}
	_ = enc.Close()
	body := bytes.TrimPrefix(buf.Bytes(), []byte("---\n"))
	return fmt.Sprintf("\n\nresource %s/%s/%s was blocked due to the following policies \n\n%s", res.Kind, res.Namespace, res.Name, body), true
}

func (e *Engine) warnings(all []policyResponses) []string {
	var out []string
	for _, pr := range all {
		emit := pr.policy.Spec.EmitWarning != nil && *pr.policy.Spec.EmitWarning
		for _, r := range pr.resps {
			if r.emitWarning || (emit && r.status != statusSkip) {
				out = append(out, fmt.Sprintf("policy %s.%s: %s", pr.policy.Name, r.rule, r.message))
			}
		}
	}
	return out
}

func kpolEnforce(action string) bool { return action == "Enforce" || action == "enforce" }

// action is failureActionForRule (§4.3) for the named rule of p on this request's kind.
func (e *Engine) action(p *kpol.Policy, rule string, req Request, enforce bool) string {
	if enforce {
		return "Enforce"
	}
	kind, _ := req.Object["kind"].(string)
	for _, r := range e.rulesFor(p, kind) {
		if r.Name != rule {
			continue
		}
		if a, ok := ruleAction(&r); ok {
			return a
		}
		if a, ok := e.matchOverride(p, req); ok {
			return a
		}
		return p.Spec.ValidationFailureAction
	}
	for _, r := range p.Spec.Rules {
		if a, ok := ruleAction(&r); ok {
			return a
		}
	}
	if a, ok := e.matchOverride(p, req); ok {
		return a
	}
	return p.Spec.ValidationFailureAction
}

func ruleAction(r *kpol.Rule) (string, bool) {
	var first *string
	for i := range r.VerifyImages {
		if a := r.VerifyImages[i].FailureAction; a != nil {
			if kpolEnforce(*a) {
				return *a, true
			}
			if first == nil {
				first = a
			}
		}
	}
	if first != nil {
		return *first, true
	}
	return "", false
}

// matchOverride is the first valid validationFailureActionOverrides entry that matches the
// resource's namespace (wildcards) and namespace labels.
func (e *Engine) matchOverride(p *kpol.Policy, req Request) (string, bool) {
	res := toResource(req.Object, req.Operation, req.NamespaceLabels)
	for _, o := range p.Spec.ValidationFailureActionOverrides {
		switch o.Action {
		case "Enforce", "enforce", "Audit", "audit":
		default:
			continue
		}
		if o.Namespaces == nil {
			if o.NamespaceSelector == nil || selectorMatches(o.NamespaceSelector, req.NamespaceLabels) {
				return o.Action, true
			}
		}
		for _, ns := range o.Namespaces {
			if match(ns, res.Namespace) && (o.NamespaceSelector == nil || selectorMatches(o.NamespaceSelector, req.NamespaceLabels)) {
				return o.Action, true
			}
		}
	}
	return "", false
}

// SortChecks orders checks by (engine, policy, rule, path, message), the contract's order.
func SortChecks(cs []report.Check, paths [][]string) {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := cs[idx[a]], cs[idx[b]]
		if x.Engine != y.Engine {
			return x.Engine < y.Engine
		}
		if x.Policy != y.Policy {
			return x.Policy < y.Policy
		}
		if x.Rule != y.Rule {
			return x.Rule < y.Rule
		}
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		return x.Message < y.Message
	})
	nc := make([]report.Check, len(cs))
	np := make([][]string, len(cs))
	for i, j := range idx {
		nc[i] = cs[j]
		if paths != nil {
			np[i] = paths[j]
		}
	}
	copy(cs, nc)
	if paths != nil {
		copy(paths, np)
	}
}
