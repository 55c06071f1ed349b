// Package ivpol replays Kyverno's ImageValidatingPolicy and NamespacedImageValidatingPolicy
// (policies.kyverno.io, spec/kyverno.md §8; docs/ivpol-research.md cites the Kyverno 1.19.1
// source behind each step): matchConstraints, CEL matchConditions and variables, image
// extractors, matchImageReferences on the strings as written, verifyDigest, the image
// verification functions bound to the verify package, required evidence, validationActions,
// the webhooks' texts and names, and the digest mutation.
package ivpol

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// Verifier is what the engine needs from the verify package.
type Verifier interface {
	VerifySignature(ctx context.Context, c verify.SignatureCheck) (verify.SignatureResult, error)
	VerifyAttestations(ctx context.Context, c verify.AttestationCheck) (verify.AttestationResult, error)
	VerifyBundles(ctx context.Context, c verify.BundleCheck) (verify.BundleResult, error)
	HasBundles(ctx context.Context, image, repository string, auth verify.Auth) bool
	Digest(ctx context.Context, image string, auth verify.Auth) (string, error)
}

// Engine replays a set of ImageValidatingPolicies.
type Engine struct {
	Policies []*ivpol.Policy
	Verifier Verifier
	// Config is Kyverno's configuration: the default registry the digest mutation normalises
	// images with, and the namespace credentials.secrets are read from.
	Config kpol.Config

	once     sync.Once
	variants [][]*variant
	varErr   error
	compiled sync.Map // compileKey -> *compiled
}

type compileKey struct {
	v   *variant
	gvr string
}

// Request is one admission request.
type Request struct {
	Object, OldObject map[string]any
	Operation         string
	NamespaceLabels   map[string]string
	// NamespaceUnknown says why the namespace's labels could not be read ("" when they
	// were): a namespaceSelector that asks for more than the name cannot be decided.
	NamespaceUnknown string
}

// Output is the engine's checks for one resource, with the container paths each covers, and
// the images of the resource that the policies evaluating it left unselected.
type Output struct {
	Checks     []report.Check
	CheckPaths [][]string
	NotChecked []report.NotChecked
}

func (e *Engine) init() {
	e.once.Do(func() {
		for _, p := range e.Policies {
			vs, err := variants(p)
			if err != nil {
				e.varErr = fmt.Errorf("%s: autogen: %w", p.Key(), err)
				return
			}
			e.variants = append(e.variants, vs)
		}
	})
}

func (e *Engine) compile(v *variant, r gvr) *compiled {
	k := compileKey{v, r.String()}
	if c, ok := e.compiled.Load(k); ok {
		return c.(*compiled)
	}
	c, _ := e.compiled.LoadOrStore(k, compile(v, r.String()))
	return c.(*compiled)
}

// request is what the matcher and the expressions see of req.
type request struct {
	gvr        gvr
	name, ns   string
	op         string
	labels     map[string]string
	oldLabels  map[string]string
	nsLabels   map[string]string
	in         *input
	containers []extract.Container
	nsUnknown  string
}

func (e *Engine) newRequest(req Request, obj map[string]any) *request {
	group, version, kind := extract.GroupVersionKind(obj)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	op := req.Operation
	if op == "" {
		op = kyverno.OperationCreate
	}
	r := &request{
		gvr: gvr{group, version, extract.Resource(kind)}, name: name, ns: ns, op: op,
		labels: extract.StringMap(meta["labels"]), nsLabels: map[string]string{}, containers: extract.Images(kind, obj),
		nsUnknown: req.NamespaceUnknown,
	}
	if req.OldObject != nil {
		oldMeta, _ := req.OldObject["metadata"].(map[string]any)
		r.oldLabels = extract.StringMap(oldMeta["labels"])
	}
	for k, v := range req.NamespaceLabels {
		r.nsLabels[k] = v
	}
	if _, ok := r.nsLabels[nameLabel]; !ok && ns != "" {
		r.nsLabels[nameLabel] = ns
	}
	var nsObj map[string]any
	if ns != "" {
		l := map[string]any{}
		for k, v := range r.nsLabels {
			l[k] = v
		}
		nsObj = map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns, "labels": l}}
	}
	// Kyverno hands its expressions the whole AdmissionRequest, objects included.
	request := admission.RequestVariable(obj, op)
	request["requestResource"] = request["resource"]
	request["object"], request["oldObject"] = obj, nullable(req.OldObject)
	r.in = &input{object: obj, oldObject: req.OldObject, namespaceObject: nsObj, request: request}
	return r
}

// auth is the policy's credentials: secrets read from Kyverno's namespace (compiler.go).
func (e *Engine) auth(p *ivpol.Policy) verify.Auth {
	if c := p.Spec.Credentials; c != nil && len(c.Secrets) > 0 {
		return verify.Auth{}.Plus(e.Config.Namespace, c.Secrets)
	}
	return verify.Auth{}
}

// respond evaluates policies against r the way one call of Kyverno's engine does: each
// matching variant evaluated, one response per policy, then required checked against the
// evidence every policy of the call gave (engine.go evaluatePolicies, enforceRequired).
func (e *Engine) respond(ctx context.Context, r *request, policies []int) (outs []*outcome, deadlocked bool) {
	ev, ic := newEvidence(), newImageContext()
	for _, i := range policies {
		for _, v := range e.variants[i] {
			if !r.matches(v.spec.MatchConstraints) {
				if r.undecided(v) {
					outs = append(outs, &outcome{v: v, rule: v.p.Name, result: report.ResultError,
						message: report.ToolErrorPrefix + "whether policy " + v.p.Key() + " sees namespace " + r.ns + " is unknown: its labels could not be read: " + r.nsUnknown})
				}
				continue
			}
			in := *r.in
			in.auth = e.auth(v.p)
			if o := e.evaluate(ctx, e.compile(v, r.gvr), &in, ev, ic); o != nil {
				outs = append(outs, o)
			}
			if ic.deadlocked {
				return outs, true
			}
		}
	}
	for _, o := range outs {
		if o.result != report.ResultPass {
			continue
		}
		if req := o.v.spec.ValidationConfigurations.Required; req != nil && !*req {
			continue
		}
		for _, img := range o.matched {
			if ev.verified[img] {
				continue
			}
			o.result, o.image = report.ResultFail, img
			if ev.attempted[img] {
				o.message = fmt.Sprintf("image %s failed signature or attestation verification", img)
			} else {
				o.message = fmt.Sprintf("image %s is not verified: no policy performed a signature or attestation check on it", img)
			}
			break
		}
	}
	return outs, false
}

// nameLabel is the label the API server gives every namespace: its name.
const nameLabel = "kubernetes.io/metadata.name"

// undecided: v's namespaceSelector asks for labels of a namespace that could not be read, and
// the rest of its match would hold.
func (r *request) undecided(v *variant) bool {
	mc := v.spec.MatchConstraints
	if r.nsUnknown == "" || r.ns == "" || mc == nil || mc.NamespaceSelector == nil {
		return false
	}
	sel := mc.NamespaceSelector
	names := true
	for k := range sel.MatchLabels {
		names = names && k == nameLabel
	}
	for _, x := range sel.MatchExpressions {
		names = names && x.Key == nameLabel
	}
	if names {
		return false
	}
	all := *mc
	all.NamespaceSelector = nil
	return r.matches(&all)
}

// mode is the check's mode: the strongest of the policy's validationActions.
func mode(p *ivpol.Policy) string {
	for _, a := range []string{"Deny", "Warn", "Audit"} {
		for _, x := range p.Spec.ValidationActions {
			if x == a {
				return strings.ToLower(a)
			}
		}
	}
	return "deny"
}

// Checks are what `kyverno apply` reports for the resource: every policy evaluated against
// the object as given (no digest mutation first, so tag-only images fail verifyDigest), with
// every policy sharing one evidence store, and namespaced policies applying in every
// namespace (the CLI's predicate is nil).
func (e *Engine) Checks(ctx context.Context, req Request) (Output, error) {
	e.init()
	if e.varErr != nil {
		return Output{}, e.varErr
	}
	if len(e.Policies) == 0 {
		return Output{}, nil
	}
	r := e.newRequest(req, req.Object)
	all := make([]int, len(e.Policies))
	for i := range all {
		all[i] = i
	}
	var out Output
	covered := map[string]bool{}
	outs, deadlocked := e.respond(ctx, r, all)
	if deadlocked {
		// `kyverno apply` never answers: no verdict to report, for any policy of the call.
		for _, o := range outs {
			o.rule, o.result, o.image = o.v.p.Name, report.ResultError, ""
			o.message = report.ToolErrorPrefix + "kyverno apply never answers for this resource: Kyverno 1.19.1's image cache deadlocks when an image it cached is followed by one it has not (docs/divergences.md)"
		}
	}
	for _, o := range outs {
		c := report.Check{Engine: "kyverno", Policy: o.v.p.Key(), Rule: o.rule, Result: o.result, Mode: mode(o.v.p), Message: o.message, Image: o.image}
		var paths []string
		for _, ct := range r.containers {
			if o.image != "" && ct.Image == o.image && c.Path == "" {
				c.Path = ct.Pointer
			}
			for _, m := range o.matched {
				if m == ct.Image {
					paths = append(paths, ct.Pointer)
					break
				}
			}
		}
		out.Checks = append(out.Checks, c)
		out.CheckPaths = append(out.CheckPaths, paths)
		for _, p := range paths {
			covered[p] = true
		}
	}
	// An image no policy selected, of a resource a policy evaluated through its images (a
	// pass or a fail, not an error that may come before them): image-not-selected, naming
	// the first such policy.
	for _, ct := range r.containers {
		if covered[ct.Pointer] {
			continue
		}
		for _, o := range outs {
			if o.result == report.ResultPass || o.result == report.ResultFail {
				out.NotChecked = append(out.NotChecked, report.NotChecked{Engine: "kyverno", Policy: o.v.p.Key(), Rule: o.rule,
					Image: ct.Image, Path: ct.Pointer, Reason: report.ReasonImageNotSelected})
				break
			}
		}
	}
	return out, nil
}

// Webhooks are the admission webhooks Kyverno registers for the policies that see req
// (pkg/controllers/webhook: ivpol webhooks live in Kyverno's resource webhook
// configurations, after its ClusterPolicy webhooks): a fine-grained webhook of its own for a
// policy with matchConditions or a timeout, the shared -fail/-ignore ones for the rest; a
// mutating one for each where mutateDigest is on. enforce replays every policy as Deny.
func (e *Engine) Webhooks(req Request, enforce bool) []admission.Webhook {
	e.init()
	if e.varErr != nil || len(e.Policies) == 0 {
		return nil
	}
	if kyverno.SkippedByConfig(e.Config, kyverno.Request{Object: req.Object, Operation: req.Operation, NamespaceLabels: req.NamespaceLabels}) {
		return nil
	}
	meta, _ := req.Object["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	var groups []*group
	basic := map[string]*group{}
	for _, fine := range []bool{true, false} {
		for _, fp := range []string{"fail", "ignore"} {
			for _, kind := range []string{ivpol.KindCluster, ivpol.KindNamespaced} {
				for i, p := range e.Policies {
					if p.Kind != kind || failure(p) != fp || fineGrained(p) != fine || !admissionEnabled(p) {
						continue
					}
					// A namespaced policy's webhook selects its own namespace only.
					if p.Namespace != "" && p.Namespace != ns {
						continue
					}
					if fine {
						suffix := p.Name
						if p.Namespace != "" {
							suffix = p.Namespace + "-" + p.Name
						}
						g := &group{name: "-" + fp + "-finegrained-" + suffix, kind: kind, fail: fp == "fail", policies: []int{i}}
						if w := p.Spec.WebhookConfiguration; w != nil && w.TimeoutSeconds != nil {
							g.timeout = *w.TimeoutSeconds
						}
						groups = append(groups, g)
						continue
					}
					// Cluster and namespaced policies share the webhook names, not the calls.
					g := basic[fp+kind]
					if g == nil {
						g = &group{name: "-" + fp, kind: kind, fail: fp == "fail"}
						basic[fp+kind] = g
						groups = append(groups, g)
					}
					g.policies = append(g.policies, i)
				}
			}
		}
	}
	var hooks []admission.Webhook
	for _, g := range groups {
		var mut []int
		for _, i := range g.policies {
			if m := e.Policies[i].Spec.ValidationConfigurations.MutateDigest; m == nil || *m {
				mut = append(mut, i)
			}
		}
		if len(mut) > 0 {
			hooks = append(hooks, admission.Webhook{
				Name: "ivpol.mutate.kyverno.svc" + g.name, Configuration: "kyverno-resource-mutating-webhook-cfg", Mutating: true,
				Call: func(ctx context.Context, obj map[string]any) admission.Response {
					return e.mutate(ctx, e.newRequest(req, obj), g.with(mut), enforce)
				},
			})
		}
	}
	for _, g := range groups {
		hooks = append(hooks, admission.Webhook{
			Name: "ivpol.validate.kyverno.svc" + g.name, Configuration: "kyverno-resource-validating-webhook-cfg",
			Call: func(ctx context.Context, obj map[string]any) admission.Response {
				return e.validate(ctx, e.newRequest(req, obj), g, enforce)
			},
		})
	}
	return hooks
}

// group is one ivpol webhook: its policies are evaluated in one call of Kyverno's engine.
type group struct {
	name     string // after ivpol.validate|mutate.kyverno.svc
	kind     string
	fail     bool
	timeout  int32 // the policy's timeoutSeconds, 0 for Kyverno's default
	policies []int
}

func (g *group) with(policies []int) *group {
	c := *g
	c.policies = policies
	return &c
}

// timedOut is what the API server answers when the webhook never does: under failurePolicy
// Fail it refuses the request with the call's error (the URL is Kyverno's service, as the
// Helm chart names it); under Ignore it goes on.
func (e *Engine) timedOut(g *group, webhook, op string) admission.Response {
	if !g.fail {
		return admission.Response{Allowed: true}
	}
	var names []string
	for _, i := range g.policies {
		names = append(names, e.Policies[i].Name)
	}
	sort.Strings(names)
	prefix := "/ivpol/"
	if g.kind == ivpol.KindNamespaced {
		prefix = "/nivpol/"
	}
	timeout := g.timeout
	if timeout == 0 {
		timeout = 10
	}
	return admission.Response{Status: fmt.Sprintf("Internal error occurred: failed calling webhook %q: failed to call webhook: Post \"https://kyverno-svc.%s.svc:443%s%s/%s?timeout=%ds\": context deadline exceeded",
		webhook, e.Config.Namespace, prefix, op, strings.Join(names, "/"), timeout)}
}

func failure(p *ivpol.Policy) string {
	if fp := p.Spec.FailurePolicy; fp != nil && string(*fp) == "Ignore" {
		return "ignore"
	}
	return "fail"
}

// fineGrained: matchConditions, a timeout or matchPolicy Exact give a policy a webhook of
// its own (validating.go buildWebhookRules).
func fineGrained(p *ivpol.Policy) bool {
	if len(p.Spec.MatchConditions) > 0 {
		return true
	}
	if w := p.Spec.WebhookConfiguration; w != nil && w.TimeoutSeconds != nil {
		return true
	}
	mc := p.Spec.MatchConstraints
	return mc != nil && mc.MatchPolicy != nil && string(*mc.MatchPolicy) == "Exact"
}

func admissionEnabled(p *ivpol.Policy) bool {
	ev := p.Spec.Evaluation
	return ev == nil || ev.Admission == nil || ev.Admission.Enabled == nil || *ev.Admission.Enabled
}

func actions(p *ivpol.Policy, enforce bool) (deny, warn bool) {
	if enforce {
		return true, false
	}
	for _, a := range p.Spec.ValidationActions {
		switch a {
		case "Deny":
			deny = true
		case "Warn":
			warn = true
		}
	}
	return deny, warn
}

// validate is the validating handler (pkg/webhooks/resource/ivpol/handler.go): a failing or
// erring policy denies under Deny and warns under Warn, as `Policy <name> failed: <msg>` or
// `Policy <name> error: <msg>`; several denials are joined by "; " (Kyverno's order is a
// map's: here, the policies' order by name).
func (e *Engine) validate(ctx context.Context, r *request, g *group, enforce bool) admission.Response {
	outs, deadlocked := e.respond(ctx, r, g.policies)
	if deadlocked {
		return e.timedOut(g, "ivpol.validate.kyverno.svc"+g.name, "validate")
	}
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].v.p.Name < outs[j].v.p.Name })
	resp := admission.Response{Allowed: true}
	var denials []string
	for _, o := range outs {
		var text string
		switch o.result {
		case report.ResultFail:
			text = fmt.Sprintf("Policy %s failed: %s", o.v.p.Name, o.message)
		case report.ResultError:
			text = fmt.Sprintf("Policy %s error: %s", o.v.p.Name, o.message)
		default:
			continue
		}
		deny, warn := actions(o.v.p, enforce)
		if deny {
			denials = append(denials, text)
		}
		if warn {
			resp.Warnings = append(resp.Warnings, text)
		}
	}
	if len(denials) > 0 {
		resp.Allowed, resp.Message = false, strings.Join(denials, "; ")
	}
	return resp
}

// mutate is the digest mutation (policy.go MutateDigest): every image of the pod spec
// without a digest, in Kyverno's normalised form, that the policy's matchImageReferences
// select, replaced by that form @ the digest the registry gives. Patches of several
// policies for one path: the first wins.
func (e *Engine) mutate(ctx context.Context, r *request, g *group, enforce bool) admission.Response {
	resp := admission.Response{Allowed: true}
	ic := newImageContext()
	seen := map[string]bool{}
	var denials []string
	for _, i := range g.policies {
		p := e.Policies[i]
		for _, v := range e.variants[i] {
			if !r.matches(v.spec.MatchConstraints) {
				continue
			}
			c := e.compile(v, r.gvr)
			if c.err != nil || len(p.NotReplayed) > 0 {
				continue
			}
			if !e.conditionsHold(ctx, c, r, ic) {
				continue
			}
			type pin struct{ ct, norm string }
			var pins []pin
			for _, ct := range r.containers {
				norm, err := kyverno.NormalizeImage(ct.Image, e.Config)
				if err != nil || strings.Contains(norm, "@") {
					continue
				}
				if ok, err := c.selects(ctx, norm); err != nil || !ok {
					continue
				}
				pins = append(pins, pin{ct.Pointer, norm})
			}
			// Kyverno walks its containers here in a map's order, so whether its image cache
			// deadlocks (imagecontext.go) can change from one request to the next: we take
			// the order that answers, each image not cached yet first, then the repeats.
			var firsts, rest []pin
			taken := map[string]bool{}
			for _, pn := range pins {
				if !ic.cached[pn.norm] && !taken[pn.norm] {
					taken[pn.norm] = true
					firsts = append(firsts, pn)
				} else {
					rest = append(rest, pn)
				}
			}
			pins = append(firsts, rest...)
			var errs []string
			for _, pn := range pins {
				norm := pn.norm
				digest, err := ic.get(ctx, e.Verifier, norm, e.auth(p))
				if ic.deadlocked {
					return e.timedOut(g, "ivpol.mutate.kyverno.svc"+g.name, "mutate")
				}
				if err != nil {
					errs = append(errs, fmt.Sprintf("failed to resolve digest for image %s: %v", norm, err))
					continue
				}
				if seen[pn.ct] {
					continue
				}
				seen[pn.ct] = true
				resp.Patch = append(resp.Patch, report.PatchOp{Op: "replace", Path: pn.ct, Value: norm + "@" + digest})
			}
			if len(errs) > 0 {
				text := fmt.Sprintf("Policy %s error: failed to update digest: %s", p.Name, strings.Join(errs, "; "))
				deny, warn := actions(p, enforce)
				if deny {
					denials = append(denials, text)
				}
				if warn {
					resp.Warnings = append(resp.Warnings, text)
				}
			}
		}
	}
	if len(denials) > 0 {
		return admission.Response{Allowed: false, Message: strings.Join(denials, "; "), Warnings: resp.Warnings}
	}
	return resp
}

// conditionsHold is matchConditions for the mutating phase: an error counts as a match under
// Fail (the validating phase then reports it), as no match under Ignore.
func (e *Engine) conditionsHold(ctx context.Context, c *compiled, r *request, ic *imageContext) bool {
	st := &evalState{ctx: ctx, e: e, c: c, ev: newEvidence(), ic: ic, payloads: map[string]map[string]any{}}
	ok, err := st.conditions(st.vars(r.in))
	return ok || err != nil
}
