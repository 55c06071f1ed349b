package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Report is the part of the SimulationReport (shared/design/contract.md) that scenarios check.
// Fields the contract adds later are ignored.
type Report struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Summary    map[string]int `json:"summary"`
	Results    []Result       `json:"results"`
}

// Result is one entry of Report.Results.
type Result struct {
	Resource           ResourceRef  `json:"resource"`
	Decision           string       `json:"decision"`
	DecisionIfEnforced string       `json:"decisionIfEnforced"`
	Message            string       `json:"message"`
	Warnings           []string     `json:"warnings"`
	Patch              []PatchOp    `json:"patch"`
	Checks             []Check      `json:"checks"`
	NotChecked         []NotChecked `json:"notChecked"`
	InputWarnings      []string     `json:"inputWarnings"`
}

// PatchOp is one JSON patch operation.
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Check is one engine check. In expected.yaml only policy, rule, result, message (and
// optionally mode) are written.
type Check struct {
	Engine  string `json:"engine,omitempty"`
	Policy  string `json:"policy"`
	Rule    string `json:"rule"`
	Image   string `json:"image,omitempty"`
	Path    string `json:"path,omitempty"`
	Digest  string `json:"digest,omitempty"`
	Result  string `json:"result"`
	Mode    string `json:"mode,omitempty"`
	Message string `json:"message"`
}

// NotChecked is an image no check covers.
type NotChecked struct {
	Engine string `json:"engine,omitempty"`
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Image  string `json:"image"`
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason"`
}

// CheckKey is what check sets are compared on.
type CheckKey struct {
	Policy  string
	Rule    string
	Result  string
	Message string
	Mode    string `json:",omitempty"`
}

func (c Check) key(withMode bool) CheckKey {
	k := CheckKey{Policy: c.Policy, Rule: c.Rule, Result: c.Result, Message: canonicalMessage(c.Message)}
	if withMode {
		k.Mode = c.Mode
	}
	return k
}

func sortKeys(ks []CheckKey) []CheckKey {
	out := append([]CheckKey(nil), ks...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Result != b.Result {
			return a.Result < b.Result
		}
		if a.Message != b.Message {
			return a.Message < b.Message
		}
		return a.Mode < b.Mode
	})
	return out
}

// ParseReport decodes a SimulationReport.
func ParseReport(b []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("report is not JSON: %w", err)
	}
	if r.Kind != "SimulationReport" {
		return Report{}, fmt.Errorf("report kind = %q, want SimulationReport", r.Kind)
	}
	return r, nil
}

// Compare checks a `simulate -o json` report and the process exit code against exp, reporting
// every difference through t.Errorf.
func Compare(t testing.TB, exp Expected, reportJSON []byte, exitCode int) {
	t.Helper()
	for _, d := range Diff(exp, reportJSON, exitCode) {
		t.Errorf("%s", d)
	}
}

// Diff returns every difference between exp and the report and exit code, each as one
// human-readable line (or a multi-line cmp diff), in a stable order.
func Diff(exp Expected, reportJSON []byte, exitCode int) []string {
	var out []string
	if exp.ExitCode != nil && *exp.ExitCode != exitCode {
		out = append(out, fmt.Sprintf("exit code = %d, want %d", exitCode, *exp.ExitCode))
	}
	rep, err := ParseReport(reportJSON)
	if err != nil {
		return append(out, fmt.Sprintf("%v; output was:\n%s", err, truncate(reportJSON, 2000)))
	}
	for k, want := range exp.Summary {
		if got, ok := rep.Summary[k]; !ok || got != want {
			out = append(out, fmt.Sprintf("summary.%s = %s, want %d", k, present(got, ok), want))
		}
	}
	got := map[string]Result{}
	for _, r := range rep.Results {
		k := r.Resource.Key()
		if _, dup := got[k]; dup {
			out = append(out, fmt.Sprintf("results[%s]: reported twice", k))
		}
		got[k] = r
	}
	wantKeys := map[string]bool{}
	for _, w := range exp.Results {
		k := w.Resource.Key()
		wantKeys[k] = true
		r, ok := got[k]
		if !ok {
			out = append(out, fmt.Sprintf("results[%s]: missing from the report (got %s)", k, strings.Join(resultKeys(rep.Results), ", ")))
			continue
		}
		out = append(out, diffResult(k, w, r)...)
	}
	for _, r := range rep.Results {
		if k := r.Resource.Key(); !wantKeys[k] {
			out = append(out, fmt.Sprintf("results[%s]: in the report, not expected (decision %q, %d checks)", k, r.Decision, len(r.Checks)))
		}
	}
	return out
}

func present(v int, ok bool) string {
	if !ok {
		return "<absent>"
	}
	return fmt.Sprint(v)
}

func resultKeys(rs []Result) []string {
	ks := make([]string, 0, len(rs))
	for _, r := range rs {
		ks = append(ks, r.Resource.Key())
	}
	if len(ks) == 0 {
		return []string{"no results"}
	}
	return ks
}

func diffResult(k string, w ExpectedResult, r Result) []string {
	var out []string
	f := func(field string, got, want any) {
		out = append(out, fmt.Sprintf("results[%s].%s = %#v, want %#v", k, field, got, want))
	}
	if w.Resource.APIVersion != "" && w.Resource.APIVersion != r.Resource.APIVersion {
		f("resource.apiVersion", r.Resource.APIVersion, w.Resource.APIVersion)
	}
	if w.Decision != "" && w.Decision != r.Decision {
		f("decision", r.Decision, w.Decision)
	}
	if w.DecisionIfEnforced != "" && w.DecisionIfEnforced != r.DecisionIfEnforced {
		f("decisionIfEnforced", r.DecisionIfEnforced, w.DecisionIfEnforced)
	}
	if w.Message != nil && *w.Message != r.Message {
		f("message", r.Message, *w.Message)
	}
	if w.Warnings != nil {
		if d := cmp.Diff(*w.Warnings, r.Warnings, cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("results[%s].warnings mismatch (-want +got):\n%s", k, d))
		}
	}
	if w.InputWarnings != nil {
		if d := cmp.Diff(*w.InputWarnings, r.InputWarnings, cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("results[%s].inputWarnings mismatch (-want +got):\n%s", k, d))
		}
	}
	if w.PatchedImages != nil {
		if d := cmp.Diff(w.PatchedImages, PatchedImages(r.Patch), cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("results[%s].patch image replacements mismatch (-want +got):\n%s", k, d))
		}
	}
	if w.Annotations != nil {
		want := append([]string(nil), *w.Annotations...)
		sort.Strings(want)
		if d := cmp.Diff(want, AddedAnnotations(r.Patch), cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("results[%s].patch annotation keys mismatch (-want +got):\n%s", k, d))
		}
	}
	withMode := len(w.Checks) > 0 && w.Checks[0].Mode != ""
	var want, got []CheckKey
	for _, c := range w.Checks {
		want = append(want, c.key(withMode))
	}
	for _, c := range r.Checks {
		got = append(got, c.key(withMode))
	}
	if d := cmp.Diff(sortKeys(want), sortKeys(got), cmpopts.EquateEmpty()); d != "" {
		out = append(out, fmt.Sprintf("results[%s].checks mismatch (-want +got):\n%s", k, d))
	}
	if w.NotChecked != nil {
		type nc struct{ Image, Reason string }
		conv := func(in []NotChecked) []nc {
			o := make([]nc, 0, len(in))
			for _, n := range in {
				o = append(o, nc{n.Image, n.Reason})
			}
			sort.Slice(o, func(i, j int) bool {
				if o[i].Image != o[j].Image {
					return o[i].Image < o[j].Image
				}
				return o[i].Reason < o[j].Reason
			})
			return o
		}
		if d := cmp.Diff(conv(*w.NotChecked), conv(r.NotChecked), cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("results[%s].notChecked mismatch (-want +got):\n%s", k, d))
		}
	}
	return out
}

// PatchedImages returns path -> value of the patch's "replace" operations on image fields
// (paths ending in /image).
func PatchedImages(patch []PatchOp) map[string]string {
	out := map[string]string{}
	for _, p := range patch {
		if p.Op != "replace" || !strings.HasSuffix(p.Path, "/image") {
			continue
		}
		var s string
		if err := json.Unmarshal(p.Value, &s); err != nil {
			s = string(p.Value)
		}
		out[p.Path] = s
	}
	return out
}

// AddedAnnotations returns, sorted, the annotation keys that the patch adds on the top-level
// object: `add /metadata/annotations/<key>` operations (JSON-pointer unescaped) and the keys
// of an `add /metadata/annotations` object value.
func AddedAnnotations(patch []PatchOp) []string {
	set := map[string]bool{}
	const prefix = "/metadata/annotations"
	for _, p := range patch {
		if p.Op != "add" && p.Op != "replace" {
			continue
		}
		switch {
		case p.Path == prefix:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(p.Value, &m); err == nil {
				for k := range m {
					set[k] = true
				}
			}
		case strings.HasPrefix(p.Path, prefix+"/"):
			set[unescapePointer(strings.TrimPrefix(p.Path, prefix+"/"))] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// KyvernoChecks parses the output of `kyverno apply -p --output-format json` (one or more
// openreports.io ClusterReport/Report documents, or a List of them, or the older
// wgpolicyk8s.io PolicyReports) into resource key -> (policy, rule, result, message) set.
// Results that name no resource are an error. No document at all means no results (the CLI
// prints no report when no rule applied).
func KyvernoChecks(out []byte) (map[string][]CheckKey, error) {
	docs, err := jsonDocuments(out)
	if err != nil {
		return nil, err
	}
	res := map[string][]CheckKey{}
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var doc struct {
			Kind    string            `json:"kind"`
			Items   []json.RawMessage `json:"items"`
			Results []struct {
				Policy    string        `json:"policy"`
				Rule      string        `json:"rule"`
				Result    string        `json:"result"`
				Message   string        `json:"message"`
				Resources []ResourceRef `json:"resources"`
			} `json:"results"`
			Scope *ResourceRef `json:"scope"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return err
		}
		if strings.HasSuffix(doc.Kind, "List") {
			for _, it := range doc.Items {
				if err := walk(it); err != nil {
					return err
				}
			}
			return nil
		}
		for i, r := range doc.Results {
			refs := r.Resources
			if len(refs) == 0 && doc.Scope != nil {
				refs = []ResourceRef{*doc.Scope}
			}
			if len(refs) == 0 {
				return fmt.Errorf("%s results[%d] (%s/%s) names no resource", doc.Kind, i, r.Policy, r.Rule)
			}
			for _, ref := range refs {
				k := ref.Key()
				res[k] = append(res[k], CheckKey{Policy: r.Policy, Rule: r.Rule, Result: r.Result, Message: canonicalMessage(r.Message)})
			}
		}
		return nil
	}
	for _, d := range docs {
		if err := walk(d); err != nil {
			return nil, fmt.Errorf("kyverno report: %w", err)
		}
	}
	return res, nil
}

var yamlSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// jsonDocuments splits a stream of JSON values, skipping any non-JSON lines before the first
// value.
func jsonDocuments(b []byte) ([]json.RawMessage, error) {
	// Skip whole lines until one starts a JSON value: the CLI prints warnings such as
	// "Warning: p.yaml: kyverno.io/v1 ClusterPolicy is deprecated ..." on stdout first.
	for len(b) > 0 {
		t := bytes.TrimLeft(b, " \t\r")
		if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			b = t
			break
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			b = nil
			break
		}
		b = b[i+1:]
	}
	// Namespaced policies come out as several reports separated by "---" lines.
	b = yamlSeparator.ReplaceAll(b, []byte("\n"))
	dec := json.NewDecoder(bytes.NewReader(b))
	var docs []json.RawMessage
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("kyverno output is not a JSON report: %w; output was:\n%s", err, truncate(b, 2000))
		}
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			var arr []json.RawMessage
			if err := json.Unmarshal(raw, &arr); err != nil {
				return nil, err
			}
			docs = append(docs, arr...)
			continue
		}
		docs = append(docs, raw)
	}
}

// ReportChecks returns our report's checks of one engine per resource key.
func ReportChecks(rep Report, engine string) map[string][]CheckKey {
	out := map[string][]CheckKey{}
	for _, r := range rep.Results {
		k := r.Resource.Key()
		out[k] = append(out[k], nil...)
		for _, c := range r.Checks {
			if engine == "" || c.Engine == engine {
				out[k] = append(out[k], c.key(false))
			}
		}
	}
	return out
}

// ExpectedChecks returns the expected Kyverno checks (those without an engine, or engine
// kyverno) per resource key, for the resources that take part in the differential comparison
// with the Kyverno CLI.
func ExpectedChecks(exp Expected) map[string][]CheckKey {
	out := map[string][]CheckKey{}
	for _, r := range exp.Results {
		if !r.DifferentialEnabled() {
			continue
		}
		k := r.Resource.Key()
		out[k] = append(out[k], nil...)
		for _, c := range r.Checks {
			if c.Engine == "" || c.Engine == "kyverno" {
				out[k] = append(out[k], c.key(false))
			}
		}
	}
	return out
}

// DiffCheckSets compares two per-resource check sets. wantName and gotName label the sides
// in messages (e.g. "kyverno apply", "kubectl verify"). Only the resources in keep are
// compared when keep is non-nil. A resource missing on one side counts as an empty set.
func DiffCheckSets(wantName string, want map[string][]CheckKey, gotName string, got map[string][]CheckKey, keep map[string]bool) []string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if keep == nil || keep[k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		if d := cmp.Diff(sortKeys(want[k]), sortKeys(got[k]), cmpopts.EquateEmpty()); d != "" {
			out = append(out, fmt.Sprintf("%s: (policy, rule, result, message) sets differ (-%s +%s):\n%s", k, wantName, gotName, d))
		}
	}
	return out
}
