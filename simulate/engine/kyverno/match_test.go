package kyverno

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

func TestRuleMatches(t *testing.T) {
	pod := resource{Version: "v1", Kind: "Pod", Namespace: "team-a", Name: "web-1",
		Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"owner": "alice"},
		NamespaceLabels: map[string]string{"env": "prod"}, Operation: "CREATE"}
	tests := []struct {
		name string
		rule string
		want bool
	}{
		{"kind", `{"match":{"any":[{"resources":{"kinds":["Pod"]}}]}}`, true},
		{"other kind", `{"match":{"any":[{"resources":{"kinds":["Deployment"]}}]}}`, false},
		{"version/kind", `{"match":{"any":[{"resources":{"kinds":["v1/Pod"]}}]}}`, true},
		{"group/version/kind mismatch", `{"match":{"any":[{"resources":{"kinds":["apps/v1/Pod"]}}]}}`, false},
		{"wildcard kind", `{"match":{"any":[{"resources":{"kinds":["P*"]}}]}}`, true},
		{"subresource never matches the object", `{"match":{"any":[{"resources":{"kinds":["Pod/ephemeralcontainers"]}}]}}`, false},
		{"names wildcard", `{"match":{"any":[{"resources":{"kinds":["Pod"],"names":["web-*"]}}]}}`, true},
		{"name mismatch", `{"match":{"any":[{"resources":{"kinds":["Pod"],"name":"api"}}]}}`, false},
		{"namespaces", `{"match":{"any":[{"resources":{"kinds":["Pod"],"namespaces":["team-?"]}}]}}`, true},
		{"annotations", `{"match":{"any":[{"resources":{"kinds":["Pod"],"annotations":{"own*":"al*"}}}]}}`, true},
		{"selector matchLabels", `{"match":{"any":[{"resources":{"kinds":["Pod"],"selector":{"matchLabels":{"app":"web"}}}}]}}`, true},
		{"selector expression NotIn", `{"match":{"any":[{"resources":{"kinds":["Pod"],"selector":{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["front"]}]}}}]}}`, false},
		{"namespaceSelector", `{"match":{"any":[{"resources":{"kinds":["Pod"],"namespaceSelector":{"matchLabels":{"env":"prod"}}}}]}}`, true},
		{"namespaceSelector mismatch", `{"match":{"any":[{"resources":{"kinds":["Pod"],"namespaceSelector":{"matchLabels":{"env":"dev"}}}}]}}`, false},
		{"operations", `{"match":{"any":[{"resources":{"kinds":["Pod"],"operations":["UPDATE"]}}]}}`, false},
		{"any is or", `{"match":{"any":[{"resources":{"kinds":["Deployment"]}},{"resources":{"kinds":["Pod"]}}]}}`, true},
		{"all is and", `{"match":{"all":[{"resources":{"kinds":["Pod"]}},{"resources":{"namespaces":["other"]}}]}}`, false},
		{"legacy resources", `{"match":{"resources":{"kinds":["Pod"]}}}`, true},
		{"exclude by namespace", `{"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"exclude":{"any":[{"resources":{"namespaces":["team-*"]}}]}}`, false},
		{"exclude not matching", `{"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"exclude":{"any":[{"resources":{"namespaces":["kube-system"]}}]}}`, true},
		{"exclude all needs all", `{"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"exclude":{"all":[{"resources":{"namespaces":["team-a"]}},{"resources":{"names":["api"]}}]}}`, true},
		{"match subjects ignored offline", `{"match":{"any":[{"resources":{"kinds":["Pod"]},"subjects":[{"kind":"User","name":"bob"}]}]}}`, true},
		{"exclude subjects never satisfied offline", `{"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"exclude":{"any":[{"subjects":[{"kind":"User","name":"bob"}]}]}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r kpol.Rule
			if err := json.Unmarshal([]byte(tt.rule), &r); err != nil {
				t.Fatal(err)
			}
			if got := ruleMatches(&r, pod); got != tt.want {
				t.Errorf("ruleMatches(%s) = %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

// TestMetadataPatches pins the annotation patch Kyverno 1.19 writes (spec/kyverno.md §5).
func TestMetadataPatches(t *testing.T) {
	p := &kpol.Policy{Name: "check-image"}
	np := &kpol.Policy{Name: "team-check", Namespace: "team"}
	var md metadata
	md.add(p, "r", "reg/app@sha256:1", "pass", true)
	md.add(np, "r2", "reg/app:v1", "skip", false)
	md.add(np, "r2", "reg/app@sha256:1", "skip", true)
	got := md.patches(false)
	want := []report.PatchOp{
		{Op: "add", Path: "/metadata/annotations", Value: map[string]any{}},
		{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"reg/app:v1":"skip","reg/app@sha256:1":"skip"}`},
		{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped",
			Value: `{"version":1,"policies":{"/check-image":{"r":{"reg/app@sha256:1":"pass"}},"team/team-check":{"r2":{"reg/app@sha256:1":"skip"}}}}`},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("patches(no annotations) mismatch (-want +got):\n%s", d)
	}
	if got := md.patches(true); len(got) != 2 || got[0].Path != "/metadata/annotations/kyverno.io~1verify-images" {
		t.Errorf("patches(has annotations) = %+v, want no add of /metadata/annotations", got)
	}
}
