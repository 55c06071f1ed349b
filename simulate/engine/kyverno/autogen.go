package kyverno

import (
	"encoding/json"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

// Pod-controller rule generation, as pkg/autogen/v1 does it (spec/kyverno.md §2.3).

const autogenAnnotation = "pod-policies.kyverno.io/autogen-controllers"

var podControllers = []string{"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"}

var controllerGVK = map[string]string{
	"DaemonSet": "apps/v1/DaemonSet", "Deployment": "apps/v1/Deployment", "Job": "batch/v1/Job",
	"StatefulSet": "apps/v1/StatefulSet", "ReplicaSet": "apps/v1/ReplicaSet",
	"ReplicationController": "v1/ReplicationController", "CronJob": "batch/v1/CronJob",
}

func containsKind(kinds []string, kind string) bool {
	for _, k := range kinds {
		_, _, kk, _ := parseKind(k)
		if kk == kind {
			return true
		}
	}
	return false
}

func describes(m kpol.MatchResources) []kpol.ResourceDescription {
	out := []kpol.ResourceDescription{m.Resources}
	for _, f := range m.Any {
		out = append(out, f.Resources)
	}
	for _, f := range m.All {
		out = append(out, f.Resources)
	}
	return out
}

func kindsOf(m kpol.MatchResources) []string {
	var out []string
	for _, d := range describes(m) {
		out = append(out, d.Kinds...)
	}
	return out
}

// canAutoGen is CanAutoGen: false when any rule generates, or any filter names resources,
// selects labels or annotations, or mixes Pod with other kinds.
func canAutoGen(p *kpol.Policy) bool {
	needed := false
	for _, r := range p.Spec.Rules {
		if present(r.Generation) {
			return false
		}
		if strings.Contains(string(r.Mutation), "patchesJson6902") {
			return false
		}
		ds := describes(r.MatchResources)
		if r.ExcludeResources != nil {
			ds = append(ds, describes(*r.ExcludeResources)...)
		}
		for _, d := range ds {
			if d.Name != "" || len(d.Names) > 0 || d.Selector != nil || d.Annotations != nil || (len(d.Kinds) > 1 && containsKind(d.Kinds, "Pod")) {
				return false
			}
			for _, k := range d.Kinds {
				_, _, kk, _ := parseKind(k)
				if kk == "Pod" || controllerGVK[kk] != "" {
					needed = true
				}
			}
		}
	}
	return needed
}

func present(raw []byte) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}" && s != "[]"
}

// computeRules is ComputeRules(policy, kind): kind "" gives every generated rule (the
// mutating phase); a controller kind gives the rules generated for it; other kinds, or no
// autogen, give the policy's own rules.
func computeRules(p *kpol.Policy, kind string) []kpol.Rule {
	apply := canAutoGen(p)
	controllers := map[string]bool{}
	if !apply {
		controllers["none"] = true
	} else if ann, ok := p.Annotations[autogenAnnotation]; ok {
		for _, c := range strings.Split(ann, ",") {
			controllers[c] = true
		}
	} else {
		for _, c := range podControllers {
			controllers[c] = true
		}
	}
	var wanted []string
	if kind != "" {
		if !controllers[kind] {
			return p.Spec.Rules
		}
		wanted = []string{kind}
	} else {
		for _, c := range append([]string{"none", "all"}, podControllers...) {
			if controllers[c] {
				wanted = append(wanted, c)
			}
		}
	}
	if len(wanted) == 1 && wanted[0] == "none" {
		return p.Spec.Rules
	}
	var gen []kpol.Rule
	for i := range p.Spec.Rules {
		r := &p.Spec.Rules[i]
		if g := generateForControllers(r, wanted); g != nil {
			gen = append(gen, *g)
		}
		if g := generateForCronJob(r, wanted); g != nil {
			gen = append(gen, *g)
		}
	}
	if len(gen) == 0 {
		return p.Spec.Rules
	}
	var out []kpol.Rule
	for _, r := range p.Spec.Rules {
		if !strings.HasPrefix(r.Name, "autogen-") {
			out = append(out, r)
		}
	}
	return append(out, gen...)
}

func autogenName(prefix, name string) string {
	n := prefix + "-" + name
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

func podRuleEligible(r *kpol.Rule) bool {
	if strings.HasPrefix(r.Name, "autogen-") || len(r.VerifyImages) == 0 {
		return false
	}
	if !containsKind(kindsOf(r.MatchResources), "Pod") {
		return false
	}
	if r.ExcludeResources != nil {
		ek := kindsOf(*r.ExcludeResources)
		if len(ek) != 0 && !containsKind(ek, "Pod") {
			return false
		}
	}
	return true
}

func generateForControllers(r *kpol.Rule, wanted []string) *kpol.Rule {
	if !podRuleEligible(r) {
		return nil
	}
	var kinds []string
	for _, w := range wanted {
		switch w {
		case "all":
			kinds = append(kinds, "DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
		case "CronJob", "none":
		default:
			if controllerGVK[w] != "" {
				kinds = append(kinds, w)
			}
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	return generateRule(autogenName("autogen", r.Name), r, kinds)
}

func generateForCronJob(r *kpol.Rule, wanted []string) *kpol.Rule {
	has := false
	for _, w := range wanted {
		if w == "CronJob" || w == "all" {
			has = true
		}
	}
	if !has || !podRuleEligible(r) {
		return nil
	}
	return generateRule(autogenName("autogen-cronjob", r.Name), r, []string{"CronJob"})
}

func generateRule(name string, r *kpol.Rule, kinds []string) *kpol.Rule {
	gvks := make([]string, len(kinds))
	for i, k := range kinds {
		gvks[i] = controllerGVK[k]
	}
	out := *r
	out.Name = name
	out.Autogen = kinds[0]
	out.MatchResources = replaceKinds(r.MatchResources, gvks, false)
	if r.Conds != nil {
		out.Preconditions, out.Conds = shiftReferences(r.Preconditions, kinds[0] == "CronJob")
	}
	if len(r.Context) > 0 {
		out.Context = shiftContext(r.Context, kinds[0] == "CronJob")
	}
	if r.ExcludeResources != nil {
		ex := replaceKinds(*r.ExcludeResources, gvks, true)
		out.ExcludeResources = &ex
	}
	return &out
}

func replaceKinds(m kpol.MatchResources, gvks []string, exclude bool) kpol.MatchResources {
	swap := func(fs []kpol.ResourceFilter) []kpol.ResourceFilter {
		out := make([]kpol.ResourceFilter, len(fs))
		copy(out, fs)
		for i := range out {
			if containsKind(out[i].Resources.Kinds, "Pod") {
				out[i].Resources.Kinds = gvks
			}
		}
		return out
	}
	switch {
	case len(m.Any) > 0:
		m.Any = swap(m.Any)
	case len(m.All) > 0:
		m.All = swap(m.All)
	default:
		if !exclude || len(m.Resources.Kinds) != 0 {
			m.Resources.Kinds = gvks
		}
	}
	return m
}

// Kyverno's autogen rewrites references to the Pod in the generated rule's JSON (plain byte
// replacement, applied once per rule kind): request.object.spec becomes the pod template's
// spec, and likewise metadata and oldObject.
var (
	podShift = [][2]string{
		{"request.object.spec", "request.object.spec.template.spec"},
		{"request.oldObject.spec", "request.oldObject.spec.template.spec"},
		{"request.object.metadata", "request.object.spec.template.metadata"},
		{"request.oldObject.metadata", "request.oldObject.spec.template.metadata"},
	}
	cronJobShift = [][2]string{
		{"request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"},
		{"request.oldObject.spec", "request.oldObject.spec.jobTemplate.spec.template.spec"},
		{"request.object.metadata", "request.object.spec.jobTemplate.spec.template.metadata"},
		{"request.oldObject.metadata", "request.oldObject.spec.jobTemplate.spec.template.metadata"},
	}
)

// shiftContext applies the rewrite to the rule's context entries.
func shiftContext(entries []kpol.ContextEntry, cronJob bool) []kpol.ContextEntry {
	raw, err := json.Marshal(entries)
	if err != nil {
		return entries
	}
	var out []kpol.ContextEntry
	if err := json.Unmarshal([]byte(shift(string(raw), cronJob)), &out); err != nil {
		return entries
	}
	return out
}

// shiftDocument applies the rewrite to a JSON document.
func shiftDocument(doc any, cronJob bool) (any, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal([]byte(shift(string(raw), cronJob)), &out)
	return out, err
}

func shift(text string, cronJob bool) string {
	rules := podShift
	if cronJob {
		rules = cronJobShift
	}
	for _, r := range rules {
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	return text
}

// shiftReferences applies the rewrite to preconditions and parses them again.
func shiftReferences(raw json.RawMessage, cronJob bool) (json.RawMessage, *kyvernocond.Conditions) {
	text := shift(string(raw), cronJob)
	conds := &kyvernocond.Conditions{}
	if err := json.Unmarshal([]byte(text), conds); err != nil {
		// Replacing text inside JSON strings keeps them valid; should it not, keep the rule's
		// own preconditions rather than none.
		orig := &kyvernocond.Conditions{}
		_ = json.Unmarshal(raw, orig)
		return raw, orig
	}
	return json.RawMessage(text), conds
}
