package report

import (
	"sort"
	"strings"
	"time"
)

// ReportKind names a policy-report API: Kyverno's wgpolicyk8s.io PolicyReport or the
// openreports.io Report Kyverno 1.19 also emits. Both have the same shape.
type ReportKind struct {
	APIVersion, Namespaced, Cluster string
}

var (
	// WGPolicyReport is wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport.
	WGPolicyReport = ReportKind{APIVersion: "wgpolicyk8s.io/v1alpha2", Namespaced: "PolicyReport", Cluster: "ClusterPolicyReport"}
	// OpenReport is openreports.io/v1alpha1 Report and ClusterReport.
	OpenReport = ReportKind{APIVersion: "openreports.io/v1alpha1", Namespaced: "Report", Cluster: "ClusterReport"}
)

// reportName is every report's name: one report per namespace, from this tool.
const reportName = "kubectl-verify"

// PolicyReports is the simulation as policy reports: one per namespace holding its
// namespaced resources' checks, one cluster report for cluster-scoped resources (only when
// there are any), sorted by namespace. A result is a check, with the resource it is about,
// the engine as `source`, and the image, path, digest and mode as properties; a resource
// without checks has no result. now stamps every result.
func PolicyReports(rep *SimulationReport, kind ReportKind, now time.Time) []map[string]any {
	type acc struct {
		results []any
		summary map[string]int64
	}
	byNS := map[string]*acc{}
	for _, r := range rep.Results {
		a := byNS[r.Resource.Namespace]
		if a == nil {
			a = &acc{results: []any{}, summary: map[string]int64{ResultPass: 0, ResultFail: 0, ResultWarn: 0, ResultError: 0, ResultSkip: 0}}
			byNS[r.Resource.Namespace] = a
		}
		ref := map[string]any{"apiVersion": r.Resource.APIVersion, "kind": r.Resource.Kind, "name": r.Resource.Name}
		if r.Resource.Namespace != "" {
			ref["namespace"] = r.Resource.Namespace
		}
		for _, c := range r.Checks {
			engine := c.Engine
			if engine == "" {
				engine = "kyverno"
			}
			props := map[string]any{"decision": r.Decision, "decisionIfEnforced": r.DecisionIfEnforced}
			for k, v := range map[string]string{"image": c.Image, "path": c.Path, "digest": c.Digest, "mode": c.Mode} {
				if v != "" {
					props[k] = v
				}
			}
			res := map[string]any{
				"source": engine, "policy": c.Policy, "result": c.Result, "scored": true,
				"timestamp": map[string]any{"seconds": now.Unix(), "nanos": int64(now.Nanosecond())},
				"resources": []any{ref}, "properties": props,
			}
			if c.Rule != "" {
				res["rule"] = c.Rule
			}
			if c.Message != "" {
				res["message"] = c.Message
			}
			a.results = append(a.results, res)
			a.summary[c.Result]++
		}
		// An image no policy checked is a skip, saying why.
		for _, u := range UncoveredImages(r) {
			a.results = append(a.results, map[string]any{
				"source": "kubectl-verify", "policy": "-", "result": ResultSkip, "scored": true,
				"message":   "not checked: " + strings.Join(u.Reasons, ", "),
				"timestamp": map[string]any{"seconds": now.Unix(), "nanos": int64(now.Nanosecond())},
				"resources": []any{ref}, "properties": map[string]any{"image": u.Image, "path": u.Path, "decision": r.Decision, "decisionIfEnforced": r.DecisionIfEnforced},
			})
			a.summary[ResultSkip]++
		}
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	var out []map[string]any
	for _, ns := range namespaces {
		a := byNS[ns]
		meta := map[string]any{"name": reportName, "labels": map[string]any{"app.kubernetes.io/managed-by": "kubectl-verify"}}
		k := kind.Cluster
		if ns != "" {
			meta["namespace"], k = ns, kind.Namespaced
		}
		summary := map[string]any{}
		for r, n := range a.summary {
			summary[r] = n
		}
		out = append(out, map[string]any{"apiVersion": kind.APIVersion, "kind": k, "metadata": meta, "summary": summary, "results": a.results})
	}
	return out
}
