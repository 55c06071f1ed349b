package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func formatsSample() *SimulationReport {
	return &SimulationReport{Results: []Result{
		{Resource: Resource{Kind: "Pod", Namespace: "default", Name: "bad", Source: "/repo/deploy/pods.yaml:12"}, Decision: Deny, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kyverno", Policy: "check-image", Rule: "check-image", Image: "reg/app:v1", Result: ResultFail, Mode: "enforce", Message: "no signatures found"}}},
		{Resource: Resource{Kind: "Pod", Namespace: "team", Name: "audited", Source: "cluster/prod"}, Decision: Allow, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kyverno", Policy: "audit", Rule: "audit", Image: "reg/app:v2", Result: ResultFail, Mode: "audit", Message: "no signatures found"},
				{Engine: "sigstore", Policy: "keys", Rule: "authority-0", Image: "reg/app:v2", Result: ResultPass, Mode: "enforce"}}},
		{Resource: Resource{Kind: "Pod", Namespace: "team", Name: "tool", Source: "/repo/deploy/pods.yaml:30"}, Decision: Deny, DecisionIfEnforced: Deny,
			Checks: []Check{{Engine: "kubewarden", Policy: "team/images", Rule: "signatures[0]", Image: "reg/tool:v1", Result: ResultError, Mode: "protect", Message: "kubectl-verify: no trust root"}}},
	}}
}

// TestPrintJUnit: a suite per namespace, a case per (resource, policy): failed, errored or
// passed as its checks say.
func TestPrintJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := PrintJUnit(&b, formatsSample()); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 1 || len(doc.Suites) != 2 || doc.Suites[0].Name != "default" {
		t.Fatalf("suites %+v", doc)
	}
	team := doc.Suites[1].Cases
	if team[0].Classname != "kyverno/audit" || team[0].Failure == nil || team[0].Failure.Type != "denied-if-enforced" ||
		team[1].Classname != "sigstore/keys" || team[1].Failure != nil || team[2].Error == nil || team[2].File != "/repo/deploy/pods.yaml" {
		t.Errorf("team's cases %+v", team)
	}
}

// TestPrintSARIF: a result per check that did not pass, error when it denies, warning when
// only audited; a file's resources located relative to the base directory.
func TestPrintSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := PrintSARIF(&b, formatsSample(), "v1", "/repo"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct{ Rules []struct{ ID string } }
			}
			Results []struct {
				RuleID    string
				Level     string
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if doc.Version != "2.1.0" || len(run.Tool.Driver.Rules) != 3 || len(run.Results) != 3 {
		t.Fatalf("document:\n%s", b.String())
	}
	got := []string{}
	for _, r := range run.Results {
		loc := "-"
		if pl := r.Locations[0].PhysicalLocation; pl != nil {
			loc = pl.ArtifactLocation.URI + ":" + itoa(pl.Region.StartLine)
		}
		got = append(got, r.RuleID+" "+r.Level+" "+loc)
	}
	want := []string{"kyverno/check-image/check-image error deploy/pods.yaml:12", "kyverno/audit/audit warning cluster/prod:1", "kubewarden/team/images/signatures[0] error deploy/pods.yaml:30"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestPrintMarkdown: the resources to act on in a table whose cells stay cells (pipes, line
// breaks and HTML in messages escaped), and how many pass.
func TestPrintMarkdown(t *testing.T) {
	rep := formatsSample()
	rep.Results[0].Checks[0].Message = "a | b\n<c> `d`"
	rep.Summary = Summary{Workloads: 3, WorkloadsDenied: 2, WorkloadsDeniedIfEnforced: 3}
	rep.Results = append(rep.Results, Result{Resource: Resource{Kind: "Pod", Namespace: "default", Name: "ok"}, Decision: Allow, DecisionIfEnforced: Allow})
	var b bytes.Buffer
	if err := PrintMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"### kubectl verify: 3 of 3 workloads would be denied if enforced (2 now)",
		"",
		"| | Resource | Namespace | Decision | If enforced | Policy | Reason |",
		"|---|---|---|---|---|---|---|",
		"| :x: | Pod/bad | default | deny | deny | kyverno/check-image | a \\| b &lt;c&gt; \\`d\\` |",
		"| :warning: | Pod/audited | team | allow | deny | kyverno/audit | no signatures found |",
		"| :x: | Pod/tool | team | deny | deny | kubewarden/team/images | kubectl-verify: no trust root |",
		"",
		"1 of 4 resource(s) pass every policy, enforced or not.",
	}
	if got := strings.TrimRight(b.String(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("markdown:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestNotCheckedInEveryFormat: an image no check covers shows, with why, in each format.
func TestNotCheckedInEveryFormat(t *testing.T) {
	rep := &SimulationReport{Results: []Result{{Resource: Resource{APIVersion: "v1", Kind: "Pod", Namespace: "open", Name: "free", Source: "/repo/p.yaml:1"},
		Decision: Allow, DecisionIfEnforced: Allow,
		NotChecked: []NotChecked{{Engine: "sigstore", Image: "reg/app:v1", Path: "/spec/containers/0/image", Reason: "namespace-not-included"},
			{Engine: "kyverno", Image: "reg/app:v1", Path: "/spec/containers/0/image", Reason: "no-matching-policy"}}}}}
	const why = "namespace-not-included, no-matching-policy"
	var b bytes.Buffer
	if err := PrintJUnit(&b, rep); err != nil || !strings.Contains(b.String(), `<skipped message="not checked: reg/app:v1 (/spec/containers/0/image): `+why+`"`) {
		t.Errorf("junit (%v):\n%s", err, b.String())
	}
	b.Reset()
	if err := PrintSARIF(&b, rep, "v1", "/repo"); err != nil || !strings.Contains(b.String(), `"level": "note"`) || !strings.Contains(b.String(), "not checked: "+why) {
		t.Errorf("sarif (%v):\n%s", err, b.String())
	}
	b.Reset()
	if err := PrintMarkdown(&b, rep); err != nil || !strings.Contains(b.String(), "- Pod/free `reg/app:v1`: "+why) {
		t.Errorf("markdown (%v):\n%s", err, b.String())
	}
	reports := PolicyReports(rep, WGPolicyReport, time.Unix(0, 0))
	res := reports[0]["results"].([]any)[0].(map[string]any)
	if res["result"] != ResultSkip || res["message"] != "not checked: "+why || reports[0]["summary"].(map[string]any)["skip"] != int64(1) {
		t.Errorf("policy report result %v, summary %v", res, reports[0]["summary"])
	}
}

func TestSARIFLocation(t *testing.T) {
	for _, tc := range []struct {
		source, base, uri string
		line              int
	}{
		{"/repo/deploy/a b.yaml:3", "/repo", "deploy/a%20b.yaml", 3},
		{"/elsewhere/x.yaml:1", "/repo", "file:///elsewhere/x.yaml", 1},
		{"kustomize:/repo/overlays/prod", "/repo", "overlays/prod/kustomization.yaml", 1},
		{"cluster/prod", "/repo", "cluster/prod", 1},
		{"-:7", "/repo", "-:7", 1},
	} {
		if uri, line := sarifLocation(tc.source, tc.base); uri != tc.uri || line != tc.line {
			t.Errorf("sarifLocation(%q) = %q, %d; want %q, %d", tc.source, uri, line, tc.uri, tc.line)
		}
	}
}

// TestClusterReport: a result without namespace goes to the cluster report.
func TestClusterReport(t *testing.T) {
	rep := &SimulationReport{Results: []Result{
		{Resource: Resource{APIVersion: "example.com/v1", Kind: "Runner", Name: "global"}, Checks: []Check{{Engine: "kyverno", Policy: "p", Result: ResultPass}}},
		{Resource: Resource{APIVersion: "v1", Kind: "Pod", Namespace: "a", Name: "x"}, Checks: []Check{{Engine: "kyverno", Policy: "p", Result: ResultFail}}},
	}}
	for _, kind := range []ReportKind{WGPolicyReport, OpenReport} {
		reports := PolicyReports(rep, kind, time.Unix(0, 0))
		meta := reports[0]["metadata"].(map[string]any)
		if len(reports) != 2 || reports[0]["kind"] != kind.Cluster || meta["namespace"] != nil || reports[1]["kind"] != kind.Namespaced {
			t.Errorf("%s: %v", kind.APIVersion, reports)
		}
	}
}
