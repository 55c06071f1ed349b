package scenario

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// report builds a SimulationReport JSON document from results.
func report(t *testing.T, summary map[string]int, results ...Result) []byte {
	t.Helper()
	b, err := json.Marshal(Report{APIVersion: "verify.kubectl.dev/v1alpha1", Kind: "SimulationReport", Summary: summary, Results: results})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func goodResult() Result {
	return Result{
		Resource:           ResourceRef{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "good"},
		Decision:           "allow",
		DecisionIfEnforced: "allow",
		Warnings:           []string{},
		Patch: []PatchOp{
			{Op: "add", Path: "/metadata/annotations", Value: json.RawMessage(`{}`)},
			{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: json.RawMessage(`"{}"`)},
			{Op: "replace", Path: "/spec/containers/0/image", Value: json.RawMessage(`"r/app:v1@sha256:aa"`)},
		},
		Checks: []Check{
			{Engine: "kyverno", Policy: "p", Rule: "r", Result: "pass", Mode: "enforce", Message: "verified image signatures for r/app:v1"},
			{Engine: "kyverno", Policy: "p", Rule: "r", Result: "pass", Mode: "enforce", Message: "image verified"},
		},
		NotChecked: []NotChecked{},
	}
}

func goodExpected() Expected {
	return Expected{
		ExitCode: ptr(0),
		Summary:  map[string]int{"resources": 1, "denied": 0},
		Results: []ExpectedResult{{
			Resource:           ResourceRef{Kind: "Pod", Namespace: "default", Name: "good"},
			Decision:           "allow",
			DecisionIfEnforced: "allow",
			Message:            ptr(""),
			Warnings:           ptr([]string{}),
			PatchedImages:      map[string]string{"/spec/containers/0/image": "r/app:v1@sha256:aa"},
			Annotations:        ptr([]string{"kyverno.io/verify-images"}),
			// The order differs from the report's: checks are a set.
			Checks: []Check{
				{Policy: "p", Rule: "r", Result: "pass", Message: "image verified"},
				{Policy: "p", Rule: "r", Result: "pass", Message: "verified image signatures for r/app:v1"},
			},
			NotChecked: ptr([]NotChecked{}),
		}},
	}
}

func TestDiff(t *testing.T) {
	summary := map[string]int{"resources": 1, "denied": 0}
	tests := []struct {
		name     string
		exp      func(e *Expected)
		res      func(r *Result)
		raw      []byte // report bytes instead of the built one
		exitCode int
		want     []string // each must appear in one diff line, in order; nil = no diffs
	}{
		{name: "identical"},
		{name: "exit code", exitCode: 1, want: []string{"exit code = 1, want 0"}},
		{name: "decision", res: func(r *Result) { r.Decision = "deny" }, want: []string{`results[Pod/default/good].decision = "deny", want "allow"`}},
		{name: "decisionIfEnforced", res: func(r *Result) { r.DecisionIfEnforced = "deny" }, want: []string{`.decisionIfEnforced = "deny", want "allow"`}},
		{name: "message", res: func(r *Result) { r.Message = "x" }, want: []string{`.message = "x", want ""`}},
		{name: "message not compared when omitted", exp: func(e *Expected) { e.Results[0].Message = nil }, res: func(r *Result) { r.Message = "x" }},
		{name: "decision not compared when empty", exp: func(e *Expected) { e.Results[0].Decision = "" }, res: func(r *Result) { r.Decision = "deny" }},
		{name: "warnings", res: func(r *Result) { r.Warnings = []string{"policy p.r: x"} }, want: []string{".warnings mismatch (-want +got)"}},
		{name: "null warnings equal an empty list", res: func(r *Result) { r.Warnings = nil }},
		{name: "patched image", res: func(r *Result) { r.Patch[2].Value = json.RawMessage(`"r/app:v1@sha256:bb"`) }, want: []string{".patch image replacements mismatch", "sha256:bb"}},
		{name: "patch not compared when omitted", exp: func(e *Expected) { e.Results[0].PatchedImages = nil; e.Results[0].Annotations = nil }, res: func(r *Result) { r.Patch = nil }},
		{name: "annotation keys", res: func(r *Result) { r.Patch = r.Patch[2:] }, want: []string{".patch annotation keys mismatch"}},
		{
			name: "annotation keys from an object value",
			res: func(r *Result) {
				r.Patch = []PatchOp{{Op: "add", Path: "/metadata/annotations", Value: json.RawMessage(`{"kyverno.io/verify-images":"{}"}`)}, r.Patch[2]}
			},
		},
		{
			name: "checks differ",
			res:  func(r *Result) { r.Checks[1].Result = "fail"; r.Checks[1].Message = "unverified image r/app@sha256:aa" },
			want: []string{"results[Pod/default/good].checks mismatch (-want +got)", "unverified image"},
		},
		{name: "duplicate check counts", res: func(r *Result) { r.Checks = append(r.Checks, r.Checks[0]) }, want: []string{".checks mismatch"}},
		{name: "mode ignored unless expected gives it", res: func(r *Result) { r.Checks[0].Mode = "audit" }},
		{
			name: "mode compared when expected gives it",
			exp: func(e *Expected) {
				e.Results[0].Checks[0].Mode = "enforce"
				e.Results[0].Checks[1].Mode = "enforce"
			},
			res:  func(r *Result) { r.Checks[0].Mode = "audit" },
			want: []string{".checks mismatch", "audit"},
		},
		{
			name: "notChecked",
			res:  func(r *Result) { r.NotChecked = []NotChecked{{Image: "nginx", Reason: "image-not-selected"}} },
			want: []string{".notChecked mismatch", "image-not-selected"},
		},
		{
			name: "missing result",
			res:  func(r *Result) { r.Resource.Name = "other" },
			want: []string{"results[Pod/default/good]: missing from the report (got Pod/default/other)", "results[Pod/default/other]: in the report, not expected"},
		},
		{name: "namespace is part of the identity", res: func(r *Result) { r.Resource.Namespace = "prod" }, want: []string{"missing from the report", "not expected"}},
		{name: "apiVersion compared when given", exp: func(e *Expected) { e.Results[0].Resource.APIVersion = "apps/v1" }, want: []string{`.resource.apiVersion = "v1", want "apps/v1"`}},
		{name: "summary", exp: func(e *Expected) { e.Summary["denied"] = 1 }, want: []string{"summary.denied = 0, want 1"}},
		{name: "summary key absent", exp: func(e *Expected) { e.Summary["mutated"] = 1 }, want: []string{"summary.mutated = <absent>, want 1"}},
		{name: "not JSON", raw: []byte("error: boom"), want: []string{"report is not JSON", "error: boom"}},
		{name: "wrong kind", raw: []byte(`{"kind":"ImageReport"}`), want: []string{`report kind = "ImageReport", want SimulationReport`}},
		{name: "not JSON and wrong exit code", raw: []byte(""), exitCode: 2, want: []string{"exit code = 2, want 0", "report is not JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := goodExpected()
			if tc.exp != nil {
				tc.exp(&exp)
			}
			r := goodResult()
			if tc.res != nil {
				tc.res(&r)
			}
			raw := tc.raw
			if raw == nil {
				raw = report(t, summary, r)
			}
			got := Diff(exp, raw, tc.exitCode)
			if tc.want == nil {
				if len(got) != 0 {
					t.Errorf("Diff() = %q, want no differences", got)
				}
				return
			}
			joined := strings.Join(got, "\n")
			rest := joined
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("Diff() = %q; want it to contain %q (in this order)", joined, w)
					return
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		exitCode int
		want     int
	}{
		{name: "match", exitCode: 0, want: 0},
		{name: "mismatch is reported through Errorf", exitCode: 2, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			Compare(rec, goodExpected(), report(t, map[string]int{"resources": 1, "denied": 0}, goodResult()), tc.exitCode)
			if len(rec.errors) != tc.want {
				t.Errorf("Compare() reported %d errors %q, want %d", len(rec.errors), rec.errors, tc.want)
			}
		})
	}
}

func TestPatchHelpers(t *testing.T) {
	patch := []PatchOp{
		{Op: "add", Path: "/metadata/annotations/a~1b~0c", Value: json.RawMessage(`"x"`)},
		{Op: "add", Path: "/metadata/annotations", Value: json.RawMessage(`{"z":"1"}`)},
		{Op: "remove", Path: "/metadata/annotations/gone"},
		{Op: "add", Path: "/metadata/labels/l", Value: json.RawMessage(`"x"`)},
		{Op: "replace", Path: "/spec/initContainers/0/image", Value: json.RawMessage(`"a@sha256:1"`)},
		{Op: "add", Path: "/spec/containers/0/image", Value: json.RawMessage(`"not a replace"`)},
		{Op: "replace", Path: "/spec/containers/0/imagePullPolicy", Value: json.RawMessage(`"Always"`)},
	}
	if d := cmp.Diff([]string{"a/b~c", "z"}, AddedAnnotations(patch)); d != "" {
		t.Errorf("AddedAnnotations() mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"/spec/initContainers/0/image": "a@sha256:1"}, PatchedImages(patch)); d != "" {
		t.Errorf("PatchedImages() mismatch (-want +got):\n%s", d)
	}
}

const kyvernoOut = `Warning: p.yaml: kyverno.io/v1 ClusterPolicy is deprecated and will be removed [in a future release]
{"kind":"ClusterReport","apiVersion":"openreports.io/v1alpha1","metadata":{"name":"merged"},"results":[
 {"source":"kyverno","policy":"check-image","rule":"check-image","result":"pass","resources":[{"kind":"Pod","namespace":"default","name":"good","apiVersion":"v1"}],"message":"verified image signatures for r/app:v1"},
 {"source":"kyverno","policy":"check-image","rule":"check-image","result":"fail","resources":[{"kind":"Pod","namespace":"default","name":"bad","apiVersion":"v1"}],"message":"unverified image r/app@sha256:aa"}]}
`

func TestKyvernoChecks(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string][]CheckKey
		wantErr string
	}{
		{
			name: "warning line, then a ClusterReport",
			in:   kyvernoOut,
			want: map[string][]CheckKey{
				"Pod/default/good": {{Policy: "check-image", Rule: "check-image", Result: "pass", Message: "verified image signatures for r/app:v1"}},
				"Pod/default/bad":  {{Policy: "check-image", Rule: "check-image", Result: "fail", Message: "unverified image r/app@sha256:aa"}},
			},
		},
		{name: "no report (no rule applied)", in: "Warning: deprecated\n", want: map[string][]CheckKey{}},
		{name: "empty", in: "", want: map[string][]CheckKey{}},
		{
			name: "a List of reports and a second document",
			in: `{"kind":"ReportList","items":[{"kind":"Report","results":[{"policy":"p","rule":"r","result":"skip","message":"m","resources":[{"kind":"Pod","namespace":"a","name":"x"}]}]}]}
{"kind":"ClusterReport","results":[{"policy":"p","rule":"r","result":"pass","message":"m2","resources":[{"kind":"Pod","namespace":"a","name":"x"}]}]}`,
			want: map[string][]CheckKey{"Pod/a/x": {{Policy: "p", Rule: "r", Result: "skip", Message: "m"}, {Policy: "p", Rule: "r", Result: "pass", Message: "m2"}}},
		},
		{
			name: "scope names the resource",
			in:   `{"kind":"Report","scope":{"kind":"Pod","namespace":"a","name":"x"},"results":[{"policy":"p","rule":"r","result":"pass","message":"m"}]}`,
			want: map[string][]CheckKey{"Pod/a/x": {{Policy: "p", Rule: "r", Result: "pass", Message: "m"}}},
		},
		{name: "result without resource", in: `{"kind":"ClusterReport","results":[{"policy":"p","rule":"r","result":"pass"}]}`, wantErr: "names no resource"},
		{name: "broken JSON", in: "Warning: x\n{\"kind\":", wantErr: "not a JSON report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KyvernoChecks([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("KyvernoChecks() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("KyvernoChecks() error = %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("KyvernoChecks() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDiffCheckSets(t *testing.T) {
	pass := CheckKey{Policy: "p", Rule: "r", Result: "pass", Message: "image verified"}
	fail := CheckKey{Policy: "p", Rule: "r", Result: "fail", Message: "unverified image x"}
	tests := []struct {
		name      string
		want, got map[string][]CheckKey
		keep      map[string]bool
		wantDiffs []string // resource keys with a difference
	}{
		{name: "equal sets in another order", want: map[string][]CheckKey{"a": {pass, fail}}, got: map[string][]CheckKey{"a": {fail, pass}}},
		{name: "different result", want: map[string][]CheckKey{"a": {pass}}, got: map[string][]CheckKey{"a": {fail}}, wantDiffs: []string{"a"}},
		{name: "missing side counts as empty", want: map[string][]CheckKey{"a": {}}, got: map[string][]CheckKey{}},
		{name: "resource only on one side", want: map[string][]CheckKey{}, got: map[string][]CheckKey{"b": {pass}}, wantDiffs: []string{"b"}},
		{name: "keep filters", want: map[string][]CheckKey{"a": {pass}}, got: map[string][]CheckKey{"b": {pass}}, keep: map[string]bool{"c": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffCheckSets("kyverno apply", tc.want, "kubectl verify", tc.got, tc.keep)
			if len(got) != len(tc.wantDiffs) {
				t.Fatalf("DiffCheckSets() = %q, want differences for %q", got, tc.wantDiffs)
			}
			for i, k := range tc.wantDiffs {
				if !strings.HasPrefix(got[i], k+": (policy, rule, result, message) sets differ (-kyverno apply +kubectl verify)") {
					t.Errorf("DiffCheckSets()[%d] = %q, want a difference for %s", i, got[i], k)
				}
			}
		})
	}
}

func TestReportAndExpectedChecks(t *testing.T) {
	r := goodResult()
	r.Checks = append(r.Checks, Check{Engine: "sigstore", Policy: "cip", Result: "pass", Message: "x"})
	rep := Report{Kind: "SimulationReport", Results: []Result{r, {Resource: ResourceRef{Kind: "Pod", Namespace: "default", Name: "empty"}}}}
	got := ReportChecks(rep, "kyverno")
	want := map[string][]CheckKey{
		"Pod/default/good": {
			{Policy: "p", Rule: "r", Result: "pass", Message: "verified image signatures for r/app:v1"},
			{Policy: "p", Rule: "r", Result: "pass", Message: "image verified"},
		},
		"Pod/default/empty": nil,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReportChecks(kyverno) mismatch (-want +got):\n%s", d)
	}
	if _, ok := got["Pod/default/empty"]; !ok {
		t.Errorf("ReportChecks() dropped a result without checks")
	}

	exp := goodExpected()
	exp.Results = append(exp.Results, ExpectedResult{Resource: ResourceRef{Kind: "Pod", Namespace: "x", Name: "skip-me"}, Differential: ptr(false)})
	ec := ExpectedChecks(exp)
	if _, ok := ec["Pod/x/skip-me"]; ok {
		t.Errorf("ExpectedChecks() kept a result marked differential: false")
	}
	if len(ec["Pod/default/good"]) != 2 {
		t.Errorf("ExpectedChecks()[Pod/default/good] = %v, want 2 checks", ec["Pod/default/good"])
	}
}
