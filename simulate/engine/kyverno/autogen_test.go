package kyverno

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

func policy(t *testing.T, annotations string, match string) *kpol.Policy {
	t.Helper()
	raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"` + annotations + `},
	"spec":{"rules":[{"name":"check-image","match":` + match + `,
	"verifyImages":[{"failureAction":"Enforce","imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://ns/x","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`
	p, err := kpol.Parse([]byte(raw), "test", "default")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func names(rules []kpol.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name+"="+strings.Join(kindsOf(r.MatchResources), ","))
	}
	return out
}

func TestComputeRules(t *testing.T) {
	podMatch := `{"any":[{"resources":{"kinds":["Pod"]}}]}`
	tests := []struct {
		name, annotations, match, kind string
		want                           []string
	}{
		{"all generated", "", podMatch, "", []string{
			"check-image=Pod",
			"autogen-check-image=apps/v1/DaemonSet,apps/v1/Deployment,batch/v1/Job,apps/v1/StatefulSet,apps/v1/ReplicaSet,v1/ReplicationController",
			"autogen-cronjob-check-image=batch/v1/CronJob"}},
		{"deployment kind", "", podMatch, "Deployment", []string{"check-image=Pod", "autogen-check-image=apps/v1/Deployment"}},
		{"cronjob kind", "", podMatch, "CronJob", []string{"check-image=Pod", "autogen-cronjob-check-image=batch/v1/CronJob"}},
		{"pod kind", "", podMatch, "Pod", []string{"check-image=Pod"}},
		{"annotation none", `,"annotations":{"pod-policies.kyverno.io/autogen-controllers":"none"}`, podMatch, "", []string{"check-image=Pod"}},
		{"annotation deployment only", `,"annotations":{"pod-policies.kyverno.io/autogen-controllers":"Deployment"}`, podMatch, "CronJob", []string{"check-image=Pod"}},
		{"name blocks autogen", "", `{"any":[{"resources":{"kinds":["Pod"],"names":["x"]}}]}`, "", []string{"check-image=Pod"}},
		{"mixed kinds block autogen", "", `{"any":[{"resources":{"kinds":["Pod","Deployment"]}}]}`, "", []string{"check-image=Pod,Deployment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(computeRules(policy(t, tt.annotations, tt.match), tt.kind))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("computeRules(%q) mismatch (-want +got):\n%s", tt.kind, d)
			}
		})
	}
}
