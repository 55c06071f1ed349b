// Package sigstore replays Sigstore policy-controller v0.15's admission decision
// (spec/sigstore-policy-controller.md): the mutating webhook's tag-to-digest resolution, then
// the validating webhook's per-image evaluation: digest required, ClusterImagePolicies matched
// by glob on the normalised digest form and by `match`, every matching policy must pass, one
// passing authority passes a policy, no-match-policy otherwise; messages rendered as knative's
// FieldError renders them.
package sigstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-verify/kubectl-verify/internal/fielderror"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// EngineName is the `engine` of every check this package makes.
const EngineName = "sigstore"

// WebhookName is both webhooks' name, as the API server quotes it in a denial; the
// configurations carry the same name (knative's reconcilers).
const WebhookName = "policy.sigstore.dev"

// IncludeLabel opts a namespace in (the webhooks' namespaceSelector, spec §4.1).
const IncludeLabel = "policy.sigstore.dev/include"

// excludeLabel is what knative's reconciler adds to the namespaceSelector (DoesNotExist).
const excludeLabel = "webhooks.knative.dev/exclude"

// Verifier is what the engine needs from the verify package.
type Verifier interface {
	VerifySignature(ctx context.Context, c verify.SignatureCheck) (verify.SignatureResult, error)
	VerifyInToto(ctx context.Context, c verify.SignatureCheck) (verify.InTotoResult, error)
	ConfigFiles(ctx context.Context, image string, auth verify.Auth) verify.ConfigFilesResult
	Digest(ctx context.Context, image string, auth verify.Auth) (string, error)
}

// Engine replays a set of ClusterImagePolicies.
type Engine struct {
	Policies []*spol.Policy
	Config   spol.Config
	// TrustRoots are the TrustRoots authorities name by trustRootRef.
	TrustRoots map[string]*spol.TrustRoot
	Verifier   Verifier
	// Active says policy-controller runs at all: policies were given, or the cluster serves
	// the ClusterImagePolicy kind. Without it nothing is replayed (no-match-policy would
	// otherwise deny every image of an opted-in namespace).
	Active bool
}

// Request is one admission request.
type Request struct {
	Object    map[string]any
	Operation string
	// OldObject is the object before an UPDATE (nil on CREATE).
	OldObject       map[string]any
	NamespaceLabels map[string]string
	// NamespaceUnknown, when set, says why the namespace's labels could not be read: whether
	// the namespace opts in is then unknown.
	NamespaceUnknown string
}

// unknownNamespace is the tool-caused error of an image whose namespace's labels could not
// be read: policy-controller may or may not look at it.
func (r Request) unknownNamespace() string {
	return report.ToolErrorPrefix + "whether the namespace opts in to policy-controller (" + IncludeLabel + ") is unknown: its labels could not be read: " + r.NamespaceUnknown
}

// workload is how the webhook handles a kind (cmd/webhook/main.go types, spec §4.2).
type workload struct {
	apiVersions []string
	// prefix is where the pod spec lives, as FieldError paths write it.
	prefix string
	// scalable kinds skip UPDATEs that lower spec.replicas.
	scalable bool
}

var workloads = map[string]workload{
	"Pod":         {[]string{"v1"}, "spec", false},
	"ReplicaSet":  {[]string{"apps/v1"}, "spec.template.spec", true},
	"Deployment":  {[]string{"apps/v1"}, "spec.template.spec", true},
	"StatefulSet": {[]string{"apps/v1"}, "spec.template.spec", true},
	"DaemonSet":   {[]string{"apps/v1"}, "spec.template.spec", false},
	"Job":         {[]string{"batch/v1"}, "spec.template.spec", false},
	"CronJob":     {[]string{"batch/v1", "batch/v1beta1"}, "spec.jobTemplate.spec.template.spec", false},
}

// handled is the workload the webhooks are registered for, if any.
func handled(obj map[string]any) (workload, bool) {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	w, ok := workloads[kind]
	if !ok || !slices.Contains(w.apiVersions, apiVersion) {
		return workload{}, false
	}
	return w, true
}

// included is the webhooks' namespaceSelector.
func included(labels map[string]string) bool {
	_, excluded := labels[excludeLabel]
	return labels[IncludeLabel] == "true" && !excluded
}

// skipped is what the webhooks let through without a look: other operations, objects being
// deleted, and PodScalable UPDATEs that scale down (spec §4.2).
func skipped(req Request, w workload) bool {
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return true
	}
	if meta, _ := req.Object["metadata"].(map[string]any); meta["deletionTimestamp"] != nil {
		return true
	}
	if w.scalable && req.Operation == "UPDATE" && req.OldObject != nil {
		return replicas(req.Object) < replicas(req.OldObject)
	}
	return false
}

func replicas(obj map[string]any) int64 {
	spec, _ := obj["spec"].(map[string]any)
	switch r := spec["replicas"].(type) {
	case float64:
		return int64(r)
	case int64:
		return r
	case int:
		return int64(r)
	}
	return 1
}

// Outcome is the checks of one resource.
type Outcome struct {
	Checks     []report.Check
	NotChecked []report.NotChecked
}

// Checks evaluates the request as the webhooks would (resolution, then validation of the
// resolved object), for the report.
func (e *Engine) Checks(ctx context.Context, req Request) (Outcome, error) {
	var out Outcome
	if !e.Active {
		return out, nil
	}
	w, ok := handled(req.Object)
	containers := extract.Images(kindOf(req.Object), req.Object)
	notChecked := func(reason string) Outcome {
		if len(e.Policies) == 0 {
			// policy-controller is installed but has no policy: nothing worth saying where
			// it does not look.
			return out
		}
		for _, c := range containers {
			out.NotChecked = append(out.NotChecked, report.NotChecked{Engine: EngineName, Image: c.Image, Path: c.Pointer, Reason: reason})
		}
		return out
	}
	switch {
	case !ok:
		return notChecked("kind-not-handled"), nil
	case req.NamespaceUnknown != "" && len(e.Policies) > 0 && !skipped(req, w):
		for _, c := range containers {
			out.Checks = append(out.Checks, report.Check{Engine: EngineName, Image: c.Image, Path: c.Pointer, Result: report.ResultError, Mode: "enforce", Message: req.unknownNamespace()})
		}
		return out, nil
	case !included(req.NamespaceLabels):
		return notChecked("namespace-not-included"), nil
	case skipped(req, w):
		return notChecked("excluded"), nil
	}
	obj := req.Object
	if patch := e.resolve(ctx, req, w); len(patch) > 0 {
		next, err := admission.Apply(obj, patch)
		if err != nil {
			return out, err
		}
		obj = next
	}
	v := e.validate(ctx, req, w, obj, false)
	// Checks name the image as the manifest writes it; the resolved form is in messages.
	written := map[string]string{}
	for _, c := range containers {
		written[c.Pointer] = c.Image
	}
	for i := range v.checks {
		v.checks[i].Image = written[v.checks[i].Path]
	}
	for i := range v.notChecked {
		v.notChecked[i].Image = written[v.notChecked[i].Path]
	}
	out.Checks, out.NotChecked = v.checks, v.notChecked
	return out, nil
}

// Webhooks are the mutating and validating webhooks, as the API server calls them.
func (e *Engine) Webhooks(req Request, enforce bool) []admission.Webhook {
	if !e.Active {
		return nil
	}
	w, ok := handled(req.Object)
	if !ok || skipped(req, w) {
		return nil
	}
	if req.NamespaceUnknown != "" && len(e.Policies) > 0 {
		// Fail closed, as the webhook's failurePolicy is.
		return []admission.Webhook{{Name: WebhookName, Configuration: WebhookName, Call: func(context.Context, map[string]any) admission.Response {
			return admission.Response{Message: req.unknownNamespace()}
		}}}
	}
	if !included(req.NamespaceLabels) {
		return nil
	}
	return []admission.Webhook{
		{Name: WebhookName, Configuration: WebhookName, Mutating: true, Call: func(ctx context.Context, obj map[string]any) admission.Response {
			r := req
			r.Object = obj
			return admission.Response{Allowed: true, Patch: e.resolve(ctx, r, w)}
		}},
		{Name: WebhookName, Configuration: WebhookName, Call: func(ctx context.Context, obj map[string]any) admission.Response {
			v := e.validate(ctx, req, w, obj, enforce)
			resp := admission.Response{Allowed: true, Warnings: v.errs.Warnings()}
			if errs := v.errs.Only(fielderror.Error); len(errs) > 0 {
				resp.Allowed = false
				resp.Message = "validation failed: " + errs.String()
			}
			return resp
		}},
	}
}

func kindOf(obj map[string]any) string {
	k, _ := obj["kind"].(string)
	return k
}

// auth is the registry credentials the webhook's keychain has: the pod spec's
// imagePullSecrets in the workload's namespace (the service account's are not read).
func auth(obj map[string]any) verify.Auth {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return verify.PullSecretAuth(ns, extract.PullSecrets(kindOf(obj), obj))
}

// resolve is the mutating webhook (resolvePodSpec, spec §5): each tag that resolves becomes
// `<fully qualified name>:<tag>@<digest>`; what does not parse or resolve is left alone, for
// validation to refuse.
func (e *Engine) resolve(ctx context.Context, req Request, w workload) []report.PatchOp {
	var patch []report.PatchOp
	a := auth(req.Object)
	for _, c := range extract.Images(kindOf(req.Object), req.Object) {
		ref, err := name.ParseReference(c.Image)
		if err != nil {
			continue
		}
		tag, isTag := ref.(name.Tag)
		if !isTag {
			continue
		}
		d, err := e.Verifier.Digest(ctx, tag.Name(), a)
		if err != nil {
			continue
		}
		patch = append(patch, report.PatchOp{Op: "replace", Path: c.Pointer, Value: tag.Name() + "@" + d})
	}
	return patch
}

// validation is the validating webhook's answer for one object, and what the report shows.
type validation struct {
	errs       fielderror.List
	checks     []report.Check
	notChecked []report.NotChecked
}

// validate is validatePodSpec (spec §3, §5.1, §6): every image of the pod spec, in
// initContainers, containers, ephemeralContainers order.
func (e *Engine) validate(ctx context.Context, req Request, w workload, obj map[string]any, enforce bool) validation {
	var v validation
	meta, _ := obj["metadata"].(map[string]any)
	labels := map[string]string{}
	if l, ok := meta["labels"].(map[string]any); ok {
		for k, x := range l {
			labels[k], _ = x.(string)
		}
	}
	apiVersion, _ := obj["apiVersion"].(string)
	ns, _ := meta["namespace"].(string)
	ctxImg := imageContext{kind: kindOf(obj), apiVersion: apiVersion, object: obj, namespace: ns, labels: labels, auth: auth(obj), enforce: enforce}
	for _, c := range extract.Images(kindOf(obj), obj) {
		field := fmt.Sprintf("%s.%s", w.prefix, c.Type)
		e.validateImage(ctx, &v, ctxImg, c, field)
	}
	return v
}

// imageContext is what every image of one object is judged with.
type imageContext struct {
	kind, apiVersion string
	// object is the object validated (what spec.policy may include).
	object map[string]any
	// namespace is the workload's: signaturePullSecrets are read there.
	namespace string
	labels    map[string]string
	auth      verify.Auth
	enforce   bool
}

// validateImage is refOrFieldError then validateContainerImage for one image.
func (e *Engine) validateImage(ctx context.Context, v *validation, ic imageContext, c extract.Container, field string) {
	path := fmt.Sprintf("%s[%d].image", field, c.Index)
	check := func(policy, rule, result, mode, msg, digest string) {
		v.checks = append(v.checks, report.Check{Engine: EngineName, Policy: policy, Rule: rule, Image: c.Image, Path: c.Pointer,
			Digest: digest, Result: result, Mode: mode, Message: msg})
	}
	ref, err := name.ParseReference(c.Image)
	if err != nil {
		v.errs = append(v.errs, fielderror.Entry{Msg: err.Error(), Paths: []string{path}})
		check("", "", report.ResultFail, "enforce", err.Error(), "")
		return
	}
	digestRef, ok := ref.(name.Digest)
	if !ok {
		msg := fmt.Sprintf("invalid value: %s must be an image digest", c.Image)
		v.errs = append(v.errs, fielderror.Entry{Msg: msg, Paths: []string{path}})
		check("", "", report.ResultFail, "enforce", msg, "")
		return
	}
	digest := digestRef.DigestStr()
	matched, err := e.matching(ref.Name(), ic)
	if err != nil {
		v.errs = append(v.errs, fielderror.Entry{Msg: err.Error(), Paths: []string{path}, Details: c.Image})
		check("", "", report.ResultFail, "enforce", err.Error(), digest)
		return
	}
	if len(matched) == 0 {
		policy := e.Config.NoMatchPolicy
		if ic.enforce && policy == "warn" {
			policy = "deny"
		}
		switch policy {
		case "allow":
			v.notChecked = append(v.notChecked, report.NotChecked{Engine: EngineName, Image: c.Image, Path: c.Pointer, Reason: "no-matching-policy"})
		case "warn":
			v.errs = append(v.errs, fielderror.Entry{Msg: "no matching policies", Level: fielderror.Warning, Paths: []string{path}, Details: c.Image})
			check("", "", report.ResultFail, "warn", "no matching policies", digest)
		default:
			v.errs = append(v.errs, fielderror.Entry{Msg: "no matching policies", Paths: []string{path}, Details: c.Image})
			check("", "", report.ResultFail, "enforce", "no matching policies", digest)
		}
		return
	}
	failures := map[string][]policyError{}
	for _, p := range matched {
		warn := p.Spec.Warn() && !ic.enforce
		mode := "enforce"
		if warn {
			mode = "warn"
		}
		res := e.validatePolicy(ctx, p, ref, ic, warn)
		if res.passed {
			check(p.Name, res.authority, report.ResultPass, mode, "", digest)
			continue
		}
		failures[p.Name] = res.errs
		var msgs []string
		result := report.ResultFail
		for _, pe := range res.errs {
			msgs = append(msgs, pe.msg)
			if strings.HasPrefix(pe.msg, report.ToolErrorPrefix) {
				result = report.ResultError
			}
		}
		rule := ""
		if len(p.Spec.Authorities) == 1 {
			rule = p.Spec.Authorities[0].Name
		}
		check(p.Name, rule, result, mode, strings.Join(msgs, " "), digest)
	}
	v.errs = append(v.errs, errorsToFieldErrors(c.Image, path, failures)...)
}

// matching is GetMatchingPolicies: match[] on the object's resource, group, version and
// labels, then any glob against the image's normalised name; a glob error wins (lastError).
func (e *Engine) matching(image string, ic imageContext) ([]*spol.Policy, error) {
	group, version := "", ic.apiVersion
	if i := strings.Index(ic.apiVersion, "/"); i >= 0 {
		group, version = ic.apiVersion[:i], ic.apiVersion[i+1:]
	}
	resource := extract.Resource(ic.kind)
	var out []*spol.Policy
	var lastErr error
	for _, p := range e.Policies {
		if len(p.Spec.Match) > 0 {
			found := false
			for _, m := range p.Spec.Match {
				if m.Resource != resource || (m.Version != version && m.Version != "*") || m.Group != group {
					continue
				}
				if m.Selector != nil {
					ok, err := selectorMatches(m.Selector, ic.labels)
					if err != nil {
						return nil, errors.New("policy with wrong match label selector")
					}
					if !ok {
						continue
					}
				}
				found = true
				break
			}
			if !found {
				continue
			}
		}
		for _, g := range p.Spec.Images {
			if g.Glob == "" {
				continue
			}
			ok, err := globMatch(g.Glob, image)
			if err != nil {
				lastErr = err
			} else if ok {
				out = append(out, p)
				break
			}
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// policyError is one authority's (or the policy's own) error, at the level asFieldError gave
// it; plain errors (not policy failures) have none and count as neither (spec §6.3).
type policyError struct {
	msg   string
	level fielderror.Level
	plain bool
}

// errorsToFieldErrors is the webhook's function of that name, its quirks kept (spec §6.3):
// hasWarnings and hasErrors are shared across policies, and a warning entry downgrades every
// entry gathered before it. Policies go in name order (the webhook's is Go map order).
func errorsToFieldErrors(image, path string, failures map[string][]policyError) fielderror.List {
	names := make([]string, 0, len(failures))
	for n := range failures {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs fielderror.List
	hasWarnings, hasErrors := false, false
	for _, n := range names {
		errDetails, warnDetails := image, image
		for _, pe := range failures[n] {
			switch {
			case pe.plain:
				errDetails += " " + pe.msg
			case pe.level == fielderror.Warning:
				warnDetails += " " + pe.msg
				hasWarnings = true
			default:
				errDetails += " " + pe.msg
				hasErrors = true
			}
		}
		if hasWarnings {
			errs = append(errs, fielderror.Entry{Msg: "failed policy: " + n, Paths: []string{path}, Details: warnDetails}).At(fielderror.Warning)
		}
		if hasErrors {
			errs = append(errs, fielderror.Entry{Msg: "failed policy: " + n, Paths: []string{path}, Details: errDetails})
		}
	}
	return errs
}

// selectorMatches is LabelSelectorAsSelector(...).Matches(labels).
func selectorMatches(sel *spol.LabelSelector, labels map[string]string) (bool, error) {
	ls := &metav1.LabelSelector{MatchLabels: sel.MatchLabels}
	for _, r := range sel.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return false, err
	}
	return s.Matches(k8slabels.Set(labels)), nil
}
