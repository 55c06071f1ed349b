package kubewarden

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
)

// nameLabel is the label the API server gives every namespace: its name.
const nameLabel = "kubernetes.io/metadata.name"

// reaches reports whether the API server calls p's webhook for req: its rules, then the
// namespaceSelector the controller writes, then the objectSelector. why is set when that
// cannot be known (the namespace's labels could not be read).
func (e *Engine) reaches(p *kpol.Policy, req Request) (bool, string) {
	if !rulesMatch(p.Rules, req) {
		return false, ""
	}
	meta, _ := req.Object["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	// On UPDATE the API server calls the webhook when the old or the new object is selected.
	oldMeta, _ := req.OldObject["metadata"].(map[string]any)
	if !selects(p.ObjectSelector, extract.StringMap(meta["labels"])) && (req.OldObject == nil || !selects(p.ObjectSelector, extract.StringMap(oldMeta["labels"]))) {
		return false, ""
	}
	sel := e.namespaceSelector(p)
	if sel == nil {
		return true, ""
	}
	labels := req.NamespaceLabels
	if req.NamespaceUnknown != "" {
		// Only the name is known; a selector that asks for more cannot be decided.
		if !onlyNames(sel) {
			return false, "whether policy " + p.Key() + " sees namespace " + ns + " is unknown: its labels could not be read: " + req.NamespaceUnknown
		}
		labels = map[string]string{nameLabel: ns}
	}
	if labels == nil {
		labels = map[string]string{}
	}
	if _, ok := labels[nameLabel]; !ok {
		labels = copyWith(labels, nameLabel, ns)
	}
	return selects(sel, labels), ""
}

// conditions is the API server's matchConditions check (matchconditions.Matcher): the
// webhook is called when none is false; when none is false but some fail to evaluate,
// failurePolicy Fail refuses the request (forbidden is the API server's whole message) and
// Ignore skips the webhook.
func conditions(p *kpol.Policy, obj map[string]any, req Request) (called bool, forbidden string) {
	if len(p.Conditions) == 0 {
		return true, ""
	}
	request := admissionRequest(obj, req)
	var errs []string
	for _, c := range p.Conditions {
		ok, err := c.Eval(obj, req.OldObject, request)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case !ok:
			return false, ""
		}
	}
	if len(errs) == 0 {
		return true, ""
	}
	if p.FailurePolicy == "Ignore" {
		return false, ""
	}
	msg := errs[0]
	if len(errs) > 1 {
		msg = "[" + strings.Join(errs, ", ") + "]"
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	kind, _ := obj["kind"].(string)
	resource := extract.Resource(kind)
	if group := groupOf(obj); group != "" {
		resource += "." + group
	}
	if name == "" {
		return false, fmt.Sprintf("%s is forbidden: %s", resource, msg)
	}
	return false, fmt.Sprintf("%s %q is forbidden: %s", resource, name, msg)
}

// admissionRequest is the request variable of a condition: the AdmissionRequest's fields.
func admissionRequest(obj map[string]any, req Request) map[string]any {
	return admission.RequestVariable(obj, req.Operation)
}

func groupOf(obj map[string]any) string {
	group, _, _ := extract.GroupVersionKind(obj)
	return group
}

// namespaceSelector is the selector the controller writes into the policy's webhook
// (policy_subreconciler_webhook.go): an AdmissionPolicy's namespace by name; for a
// ClusterAdmissionPolicy that may not see Kubewarden's namespace, that namespace excluded
// plus the policy's matchExpressions (its matchLabels are not carried over); otherwise the
// policy's own selector.
func (e *Engine) namespaceSelector(p *kpol.Policy) *kpol.LabelSelector {
	if p.Namespace != "" {
		return &kpol.LabelSelector{MatchLabels: map[string]string{nameLabel: p.Namespace}}
	}
	if p.AllowInsideAdmissionControllerNamespace {
		return p.NamespaceSelector
	}
	ns := e.Namespace
	if ns == "" {
		ns = "kubewarden"
	}
	sel := &kpol.LabelSelector{MatchExpressions: []kpol.LabelRequirement{{Key: nameLabel, Operator: "NotIn", Values: []string{ns}}}}
	if p.NamespaceSelector != nil {
		sel.MatchExpressions = append(sel.MatchExpressions, p.NamespaceSelector.MatchExpressions...)
	}
	return sel
}

func onlyNames(sel *kpol.LabelSelector) bool {
	for k := range sel.MatchLabels {
		if k != nameLabel {
			return false
		}
	}
	for _, r := range sel.MatchExpressions {
		if r.Key != nameLabel {
			return false
		}
	}
	return true
}

// selects is metav1.LabelSelectorAsSelector(sel).Matches(labels); nil selects everything
// and a selector that does not convert selects nothing, as the API server treats it.
func selects(sel *kpol.LabelSelector, labels map[string]string) bool {
	if sel == nil {
		return true
	}
	ls := &metav1.LabelSelector{MatchLabels: sel.MatchLabels}
	for _, r := range sel.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return false
	}
	return s.Matches(k8slabels.Set(labels))
}

// rulesMatch is the webhook's rules against the request: group, version, resource (no
// subresource) and operation, "*" matching anything.
func rulesMatch(rules []kpol.Rule, req Request) bool {
	group, version, kind := extract.GroupVersionKind(req.Object)
	resource := extract.Resource(kind)
	op := req.Operation
	if op == "" {
		op = "CREATE"
	}
	for _, r := range rules {
		// Workloads are namespaced: a Cluster-scoped rule never matches them.
		if r.Scope == "Cluster" {
			continue
		}
		if has(r.Operations, op) && has(r.APIGroups, group) && has(r.APIVersions, version) &&
			(has(r.Resources, resource) || contains(r.Resources, "*/*")) {
			return true
		}
	}
	return false
}

func has(list []string, v string) bool { return contains(list, "*") || contains(list, v) }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func copyWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}
