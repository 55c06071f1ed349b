package plugin_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// TestPolicyReportFormats: -o policyreport and -o openreports print one report per namespace
// whose results are the checks, with the engine as source and the resource named.
func TestPolicyReportFormats(t *testing.T) {
	dir, _, pod := fixture(t)
	write(t, filepath.Join(dir, "pods.yaml"), pod+"---\n"+strings.Replace(strings.Replace(pod, "name: web", "name: other", 1), "/cli/app:v1", "/cli/app:missing", 1)+
		"---\n"+strings.Replace(pod, "name: web}", "name: web, namespace: team}", 1))
	for _, tc := range []struct{ format, apiVersion, kind string }{
		{"policyreport", "wgpolicyk8s.io/v1alpha2", "PolicyReport"},
		{"openreports", "openreports.io/v1alpha1", "Report"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out, stderr, code := run(t, "", "simulate", "--policy", filepath.Join(dir, "policy.yaml"), "-f", filepath.Join(dir, "pods.yaml"), "-o", tc.format)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (one Pod denied): %s", code, stderr)
			}
			docs, err := manifest.Parse([]byte(out), "stdout")
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out)
			}
			if len(docs) != 2 || docs[0].Namespace() != "default" || docs[1].Namespace() != "team" {
				t.Fatalf("reports %v, want one for default and one for team", docs)
			}
			for _, d := range docs {
				if d.APIVersion() != tc.apiVersion || d.Kind() != tc.kind || d.Name() != "kubectl-verify" {
					t.Errorf("report %s %s %s", d.APIVersion(), d.Kind(), d.Name())
				}
			}
			summary, _ := docs[0].Obj["summary"].(map[string]any)
			results, _ := docs[0].Obj["results"].([]any)
			if summary["fail"] == nil || summary["pass"] == nil || len(results) == 0 {
				t.Fatalf("default's report: summary %v, %d results", summary, len(results))
			}
			var fails int
			for _, r := range results {
				m := r.(map[string]any)
				res := m["resources"].([]any)[0].(map[string]any)
				if m["source"] != "kyverno" || m["policy"] == "" || res["kind"] != "Pod" || res["namespace"] != "default" {
					t.Errorf("result %v", m)
				}
				if m["result"] == "fail" {
					fails++
					if res["name"] != "other" || !strings.Contains(m["message"].(string), "cli/app:missing") {
						t.Errorf("failing result %v, want Pod other's", m)
					}
				}
			}
			if fails == 0 || toInt(summary["fail"]) != fails {
				t.Errorf("summary %v counts %d fail(s), the results %d", summary, toInt(summary["fail"]), fails)
			}
		})
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case float64:
		return int(n)
	case int:
		return n
	}
	return -1
}
