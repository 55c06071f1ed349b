package report

import (
	"bytes"
	"strings"
	"testing"
)

func sample() *SimulationReport {
	long := "failed to verify image reg.example/app:v1: .attestors[0].entries[0].keys: no signatures found"
	return &SimulationReport{Results: []Result{
		{Resource: Resource{Kind: "Pod", Namespace: "default", Name: "bad"}, Decision: Deny, DecisionIfEnforced: Deny,
			Message: "admission webhook \"x\" denied the request: \n\nblocked",
			Checks:  []Check{{Policy: "check-image", Rule: "check-image", Result: ResultFail, Message: long}}},
		{Resource: Resource{Kind: "Deployment", Namespace: "team", Name: "web"}, Decision: Allow, DecisionIfEnforced: Allow,
			Patch:  []PatchOp{{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: "x@sha256:1"}},
			Checks: []Check{{Policy: "check-image", Rule: "autogen-check-image", Result: ResultPass}}},
	}}
}

func TestPrintSimulationTable(t *testing.T) {
	tests := []struct {
		name  string
		wide  bool
		width int
		want  []string
	}{
		{"table, not a terminal", false, 0, []string{
			"NAMESPACE   RESOURCE         DECISION   IF-ENFORCED   REASON",
			"default     Pod/bad          deny       deny          failed to verify image reg.example/app:v1: .attestors[0].entries[0].keys: no signatures found",
			"team        Deployment/web   allow      allow         -",
		}},
		{"table cut to 90 columns", false, 90, []string{
			"NAMESPACE   RESOURCE         DECISION   IF-ENFORCED   REASON",
			"default     Pod/bad          deny       deny          failed to verify image reg.exampl...",
			"team        Deployment/web   allow      allow         -",
		}},
		{"wide", true, 0, []string{
			"NAMESPACE   RESOURCE         DECISION   IF-ENFORCED   POLICY        RULE                  PATCHED   REASON",
			"default     Pod/bad          deny       deny          check-image   check-image           no        failed to verify image reg.example/app:v1: .attestors[0].entries[0].keys: no signatures found",
			"team        Deployment/web   allow      allow         check-image   autogen-check-image   yes       -",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := PrintSimulationTable(&b, sample(), tt.wide, tt.width); err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			for i := range got {
				got[i] = strings.TrimRight(got[i], " ")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("PrintSimulationTable(wide=%v, width=%d) =\n%s\nwant\n%s", tt.wide, tt.width, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, line := range got {
				if tt.width > 0 && len(line) > tt.width {
					t.Errorf("line longer than %d: %q", tt.width, line)
				}
			}
		})
	}
}
