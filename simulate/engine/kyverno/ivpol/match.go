package ivpol

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
)

// variant is a policy or one of its autogen variants, which keep the policy's name
// (pkg/cel/policies/ivpol/engine/provider.go).
type variant struct {
	p    *ivpol.Policy
	spec *ivpol.Spec
}

// autogenGroups are Kyverno's pod controllers by replacement group (pkg/cel/autogen/data.go):
// no ReplicationController, unlike ClusterPolicy autogen.
var autogenGroups = []struct {
	name        string
	controllers []struct{ group, resource string }
	// to are what object.spec and object.metadata become.
	to [2]string
}{
	{"cronjobs", []struct{ group, resource string }{{"batch", "cronjobs"}},
		[2]string{"spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"}},
	{"defaults", []struct{ group, resource string }{{"apps", "daemonsets"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"apps", "statefulsets"}, {"batch", "jobs"}},
		[2]string{"spec.template.spec", "spec.template.metadata"}},
}

// variants are p and its autogen variants (pkg/cel/policies/ivpol/autogen/autogen.go).
func variants(p *ivpol.Policy) ([]*variant, error) {
	out := []*variant{{p: p, spec: &p.Spec}}
	if !canAutogen(&p.Spec) {
		return out, nil
	}
	var wanted []string
	if p.Spec.Autogen != nil && p.Spec.Autogen.PodControllers != nil {
		wanted = p.Spec.Autogen.PodControllers.Controllers
	}
	all := wanted == nil
	for _, g := range autogenGroups {
		mr := &admissionregistrationv1.MatchResources{NamespaceSelector: p.Spec.MatchConstraints.NamespaceSelector}
		ops := p.Spec.MatchConstraints.ResourceRules[0].Operations
		byGroup := map[string][]string{}
		var groups []string
		for _, c := range g.controllers {
			if !all && !slices.Contains(wanted, c.resource) {
				continue
			}
			if _, ok := byGroup[c.group]; !ok {
				groups = append(groups, c.group)
			}
			byGroup[c.group] = append(byGroup[c.group], c.resource)
		}
		for _, grp := range groups {
			mr.ResourceRules = append(mr.ResourceRules, admissionregistrationv1.NamedRuleWithOperations{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: ops,
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{grp}, APIVersions: []string{"v1"}, Resources: byGroup[grp]},
				},
			})
		}
		if len(mr.ResourceRules) == 0 {
			continue
		}
		spec := p.Spec
		spec.MatchConstraints = mr
		raw, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		raw = rewrite(raw, "spec", g.to[0])
		raw = rewrite(raw, "metadata", g.to[1])
		var rewritten ivpol.Spec
		if err := json.Unmarshal(raw, &rewritten); err != nil {
			return nil, err
		}
		out = append(out, &variant{p: p, spec: &rewritten})
	}
	return out, nil
}

// canAutogen is CanAutoGen (pkg/cel/autogen/support.go): one rule, exactly v1 pods, no
// object selector, no exclusions.
func canAutogen(s *ivpol.Spec) bool {
	mc := s.MatchConstraints
	if mc == nil || len(mc.ExcludeResourceRules) > 0 || len(mc.ResourceRules) != 1 {
		return false
	}
	if sel := mc.ObjectSelector; sel != nil && (len(sel.MatchLabels) > 0 || len(sel.MatchExpressions) > 0) {
		return false
	}
	r := mc.ResourceRules[0]
	return len(r.ResourceNames) == 0 && slices.Equal(r.APIGroups, []string{""}) && slices.Equal(r.APIVersions, []string{"v1"}) && slices.Equal(r.Resources, []string{"pods"})
}

// rewrite is Kyverno's byte rewrite of the whole spec (pkg/cel/autogen/replacement.go):
// object.<from> and oldObject.<from> become .<to>, except where .namespace follows.
func rewrite(data []byte, from, to string) []byte {
	for _, root := range []string{"object.", "oldObject."} {
		f, t := []byte(root+from), []byte(root+to)
		var buf bytes.Buffer
		for {
			i := bytes.Index(data, f)
			if i < 0 {
				buf.Write(data)
				break
			}
			buf.Write(data[:i])
			rest := data[i+len(f):]
			if protected(rest) {
				buf.Write(f)
			} else {
				buf.Write(t)
			}
			data = rest
		}
		data = buf.Bytes()
	}
	return data
}

func protected(rest []byte) bool {
	if !bytes.HasPrefix(rest, []byte(".namespace")) {
		return false
	}
	next := rest[len(".namespace"):]
	if len(next) == 0 {
		return true
	}
	b := next[0]
	return b != '_' && (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') && (b < '0' || b > '9')
}

// gvr is a request's group/version/resource as the matcher and the built-in extractors see it.
type gvr struct{ group, version, resource string }

func (g gvr) String() string { return g.group + "/" + g.version + "/" + g.resource }

// matches is the validating admission policy matcher Kyverno uses (pkg/cel/matching): the
// resource rules, then the exclusions, the namespace selector and the object selector (the
// old object's labels count on UPDATE). No matchConstraints matches everything.
func (r *request) matches(mc *admissionregistrationv1.MatchResources) bool {
	if mc == nil {
		return true
	}
	namespaced := r.ns != ""
	if !anyRule(mc.ResourceRules, r.gvr, r.op, r.name, namespaced) {
		return false
	}
	if anyRule(mc.ExcludeResourceRules, r.gvr, r.op, r.name, namespaced) {
		return false
	}
	if namespaced && !selects(mc.NamespaceSelector, r.nsLabels) {
		return false
	}
	return selects(mc.ObjectSelector, r.labels) || (r.oldLabels != nil && selects(mc.ObjectSelector, r.oldLabels))
}

func anyRule(rules []admissionregistrationv1.NamedRuleWithOperations, r gvr, op, name string, namespaced bool) bool {
	for _, rule := range rules {
		if len(rule.ResourceNames) > 0 && !slices.Contains(rule.ResourceNames, name) {
			continue
		}
		if s := rule.Scope; s != nil && *s == admissionregistrationv1.ClusterScope && namespaced {
			continue
		}
		ops := make([]string, len(rule.Operations))
		for i, o := range rule.Operations {
			ops[i] = string(o)
		}
		if has(ops, op) && has(rule.APIGroups, r.group) && has(rule.APIVersions, r.version) && hasResource(rule.Resources, r.resource) {
			return true
		}
	}
	return false
}

func has(list []string, v string) bool { return slices.Contains(list, "*") || slices.Contains(list, v) }

func hasResource(list []string, v string) bool {
	for _, r := range list {
		if r == "*" || r == v || r == "*/*" {
			return true
		}
		if res, sub, ok := strings.Cut(r, "/"); ok && sub == "*" && res == v {
			return false
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(l))
}
