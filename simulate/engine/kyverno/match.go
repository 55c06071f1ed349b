package kyverno

import (
	"strings"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

// resource is what match/exclude look at.
type resource struct {
	Group, Version, Kind string
	Namespace, Name      string
	GenerateName         string
	Labels, Annotations  map[string]string
	NamespaceLabels      map[string]string
	Operation            string
}

// ruleMatches is Kyverno's match then exclude (spec/kyverno.md §3). Requester constraints are
// ignored in match (no admission info offline, as the CLI does) and never satisfied in
// exclude.
func ruleMatches(r *kpol.Rule, res resource) bool {
	if !matchResources(r.MatchResources, res, false) {
		return false
	}
	if r.ExcludeResources != nil && excluded(*r.ExcludeResources, res) {
		return false
	}
	return true
}

func matchResources(m kpol.MatchResources, res resource, exclude bool) bool {
	switch {
	case len(m.Any) > 0:
		for _, f := range m.Any {
			if filterMatches(f.Resources, f.UserInfo, res, exclude) {
				return true
			}
		}
		return false
	case len(m.All) > 0:
		for _, f := range m.All {
			if !filterMatches(f.Resources, f.UserInfo, res, exclude) {
				return false
			}
		}
		return true
	default:
		return filterMatches(m.Resources, m.UserInfo, res, exclude)
	}
}

func excluded(m kpol.MatchResources, res resource) bool {
	if len(m.Any) == 0 && len(m.All) == 0 && m.Resources.IsEmpty() && m.UserInfo.IsEmpty() {
		return false
	}
	return matchResources(m, res, true)
}

func filterMatches(d kpol.ResourceDescription, u kpol.UserInfo, res resource, exclude bool) bool {
	if exclude && !u.IsEmpty() {
		return false
	}
	if d.IsEmpty() {
		// A requester-only filter: unknown requester, so match treats it as matching.
		return !exclude && !u.IsEmpty()
	}
	if len(d.Kinds) > 0 && !kindMatches(d.Kinds, res) {
		return false
	}
	if d.Name != "" && !nameMatches([]string{d.Name}, res) {
		return false
	}
	if len(d.Names) > 0 && !nameMatches(d.Names, res) {
		return false
	}
	if len(d.Namespaces) > 0 && !matchAny(d.Namespaces, res.Namespace) {
		return false
	}
	if len(d.Annotations) > 0 && !mapMatches(d.Annotations, res.Annotations) {
		return false
	}
	if d.Selector != nil && !selectorMatches(d.Selector, res.Labels) {
		return false
	}
	if d.NamespaceSelector != nil && (res.Kind == "Namespace" || !selectorMatches(d.NamespaceSelector, res.NamespaceLabels)) {
		return false
	}
	if len(d.Operations) > 0 {
		found := false
		for _, op := range d.Operations {
			if op == res.Operation {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func nameMatches(patterns []string, res resource) bool {
	n := res.Name
	if n == "" {
		n = res.GenerateName
	}
	return matchAny(patterns, n)
}

// kindMatches accepts Kind, version/Kind, group/version/Kind, with wildcards and an optional
// /subresource (which never matches a plain object).
func kindMatches(kinds []string, res resource) bool {
	for _, k := range kinds {
		group, version, kind, sub := parseKind(k)
		if sub != "" {
			continue
		}
		if !match(kind, res.Kind) {
			continue
		}
		if version != "" && !match(version, res.Version) {
			continue
		}
		if group != "" && !match(group, res.Group) {
			continue
		}
		return true
	}
	return false
}

func parseKind(s string) (group, version, kind, sub string) {
	parts := strings.Split(s, "/")
	if n := len(parts); n > 1 && parts[n-1] != "" && strings.ToLower(parts[n-1][:1]) == parts[n-1][:1] && parts[n-1] != "*" {
		sub = parts[n-1]
		parts = parts[:n-1]
	}
	switch len(parts) {
	case 1:
		kind = parts[0]
	case 2:
		version, kind = parts[0], parts[1]
	default:
		group, version, kind = parts[0], parts[1], parts[2]
	}
	return
}

func mapMatches(want, have map[string]string) bool {
	for k, v := range want {
		found := false
		for hk, hv := range have {
			if match(k, hk) && match(v, hv) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// selectorMatches is a label selector whose matchLabels keys and values may be wildcards.
func selectorMatches(s *kpol.LabelSelector, labels map[string]string) bool {
	if len(s.MatchLabels) > 0 && !mapMatches(s.MatchLabels, labels) {
		return false
	}
	for _, e := range s.MatchExpressions {
		v, has := labels[e.Key]
		in := false
		for _, x := range e.Values {
			if x == v {
				in = true
			}
		}
		switch e.Operator {
		case "In":
			if !has || !in {
				return false
			}
		case "NotIn":
			if has && in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}
