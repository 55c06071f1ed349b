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
			Checks: []Check{{Policy: "check-image", Rule: "autogen-check-image", Result: ResultPass, Path: "/spec/template/spec/containers/0/image"}},
			NotChecked: []NotChecked{
				{Engine: "kyverno", Policy: "check-image", Path: "/spec/template/spec/initContainers/0/image", Reason: "image-not-selected"},
				{Engine: "sigstore", Path: "/spec/template/spec/initContainers/0/image", Reason: "image-not-selected"},
				{Engine: "sigstore", Path: "/spec/template/spec/containers/0/image", Reason: "namespace-not-included"},
			}},
	}}
}

// TestImpact: the impact line and its breakdown by policy and namespace count top-level
// workloads denied if enforced, each under every policy that fails it.
func TestImpact(t *testing.T) {
	owner := &Owner{Kind: "Deployment", Name: "web"}
	results := []Result{
		{Resource: Resource{Kind: "Pod", Namespace: "default", Name: "a"}, Decision: Deny, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kyverno", Policy: "check-image", Result: ResultFail}, {Engine: "sigstore", Policy: "keys", Result: ResultFail}}},
		{Resource: Resource{Kind: "Pod", Namespace: "team", Name: "b"}, Decision: Allow, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kyverno", Policy: "audit-team", Result: ResultFail, Mode: "audit"}, {Engine: "kyverno", Policy: "audit-team", Result: ResultFail, Mode: "audit"}}},
		{Resource: Resource{Kind: "Pod", Namespace: "team", Name: "c"}, Decision: Allow, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kubewarden", Policy: "team/images", Result: ResultFail, Mode: "monitor"}}},
		{Resource: Resource{Kind: "ReplicaSet", Namespace: "team", Name: "web-1", Owner: owner}, Decision: Deny, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kyverno", Policy: "check-image", Result: ResultFail}}},
		{Resource: Resource{Kind: "Pod", Namespace: "team", Name: "ok"}, Decision: Allow, DecisionIfEnforced: Allow},
	}
	s := Summary{Workloads: 4, WorkloadsDenied: 1, WorkloadsDeniedIfEnforced: 3}
	if got, want := ImpactLine(s), "3 of 4 workloads would be denied if enforced (1 now)"; got != want {
		t.Errorf("ImpactLine = %q, want %q", got, want)
	}
	want := []string{
		"by policy:",
		"  kubewarden/team/images   1 (0 now)",
		"  kyverno/audit-team       1 (0 now)",
		"  kyverno/check-image      1 (1 now)",
		"  sigstore/keys            1 (1 now)",
		"by namespace:",
		"  team      2 (0 now)",
		"  default   1 (1 now)",
	}
	if got := ImpactBreakdown(results); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ImpactBreakdown =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := ImpactBreakdown(results[4:]); got != nil {
		t.Errorf("nothing denied if enforced: breakdown %q, want none", got)
	}
}

// TestPrintImageTable: an image no check covers says why in WHY.
func TestPrintImageTable(t *testing.T) {
	rows := []ImageRow{
		{Resource: Resource{Kind: "Pod", Namespace: "default", Name: "a"}, Container: "app", Image: "reg/app:v1", Result: "pass",
			Checks: []Check{{Policy: "check-image", Result: ResultPass}}},
		{Resource: Resource{Kind: "Pod", Namespace: "open", Name: "b"}, Container: "app", Image: "reg/app:v1", Result: "none",
			NotChecked: []NotChecked{{Engine: "sigstore", Reason: "namespace-not-included"}, {Engine: "kyverno", Reason: "no-matching-policy"}, {Engine: "kubewarden", Reason: "namespace-not-included"}}},
	}
	var b bytes.Buffer
	if err := PrintImageTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if !strings.HasSuffix(lines[0], "POLICIES      WHY") || !strings.HasSuffix(strings.TrimRight(lines[1], " "), "check-image   -") ||
		!strings.HasSuffix(lines[2], "-             namespace-not-included,no-matching-policy") {
		t.Errorf("image table:\n%s", b.String())
	}
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
			"NAMESPACE   RESOURCE         DECISION   IF-ENFORCED   POLICY        RULE                  PATCHED   NOT-CHECKED                            REASON",
			"default     Pod/bad          deny       deny          check-image   check-image           no        -                                      failed to verify image reg.example/app:v1: .attestors[0].entries[0].keys: no signatures found",
			"team        Deployment/web   allow      allow         check-image   autogen-check-image   yes       initContainers/0: image-not-selected   -",
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

// TestStreamedJSONIsPrintJSON: the documents written a list item at a time are PrintJSON's,
// byte for byte.
func TestStreamedJSONIsPrintJSON(t *testing.T) {
	full := sample()
	full.APIVersion, full.Kind = APIVersion, "SimulationReport"
	full.Results[0].Message = "<html> & \u2028 quotes \" \\"
	reports := map[string]*SimulationReport{
		"results":    full,
		"one result": {APIVersion: APIVersion, Kind: "SimulationReport", Results: full.Results[:1]},
		"no results": {APIVersion: APIVersion, Kind: "SimulationReport", Results: []Result{}},
		"nil":        {APIVersion: APIVersion, Kind: "SimulationReport"},
	}
	for name, rep := range reports {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := PrintJSON(&want, rep); err != nil {
				t.Fatal(err)
			}
			if err := PrintSimulationJSON(&got, rep); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("PrintSimulationJSON =\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
	images := map[string]ImageReport{
		"rows":    {APIVersion: APIVersion, Kind: "ImageReport", Images: []ImageRow{{Image: "a", Digest: "sha256:1"}, {Image: "b", NotChecked: []NotChecked{{Engine: "kyverno", Reason: "image-not-selected"}}}}},
		"no rows": {APIVersion: APIVersion, Kind: "ImageReport", Images: []ImageRow{}},
	}
	for name, doc := range images {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := PrintJSON(&want, doc); err != nil {
				t.Fatal(err)
			}
			if err := PrintImageJSON(&got, doc); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("PrintImageJSON =\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}
