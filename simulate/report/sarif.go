package report

import (
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// SARIFSchema is the schema the SARIF document names.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// PrintSARIF writes the simulation as SARIF 2.1.0, as GitHub code scanning takes it: a rule
// per (engine, policy, rule), a result per check that did not pass, at error level when it
// denies (an enforcing mode), else warning; a resource read from a file is located at its
// document's first line, the path relative to base when it lies below it (GitHub wants
// repository paths).
func PrintSARIF(w io.Writer, rep *SimulationReport, version, base string) error {
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription map[string]any `json:"shortDescription"`
	}
	var rules []rule
	index := map[string]int{}
	var results []any
	for _, r := range rep.Results {
		checks := r.Checks
		for _, u := range UncoveredImages(r) {
			// Not checked: a note, under a rule of its own.
			checks = append(checks, Check{Engine: "kubectl-verify", Policy: "not-checked", Image: u.Image, Path: u.Path, Result: "not-checked",
				Message: "not checked: " + strings.Join(u.Reasons, ", ")})
		}
		for _, c := range checks {
			if !notPassing(c) && c.Result != "not-checked" {
				continue
			}
			engine := c.Engine
			if engine == "" {
				engine = "kyverno"
			}
			id := engine + "/" + dash(c.Policy) + "/" + dash(c.Rule)
			if _, ok := index[id]; !ok {
				index[id] = len(rules)
				rules = append(rules, rule{ID: id, Name: dash(c.Policy),
					ShortDescription: map[string]any{"text": engine + " policy " + dash(c.Policy) + ", rule " + dash(c.Rule)}})
			}
			level := "error"
			switch {
			case c.Result == "not-checked":
				level = "note"
			case c.Mode == "audit" || c.Mode == "warn" || c.Mode == "monitor" || c.Result == ResultWarn:
				level = "warning"
			}
			res := map[string]any{
				"ruleId": id, "ruleIndex": index[id], "level": level,
				"message": map[string]any{"text": r.Resource.Kind + "/" + r.Resource.Name + ": " + c.Image + ": " + c.Message},
				"properties": map[string]any{"namespace": r.Resource.Namespace, "decision": r.Decision, "decisionIfEnforced": r.DecisionIfEnforced,
					"result": c.Result, "mode": c.Mode, "image": c.Image, "path": c.Path},
			}
			logical := []any{map[string]any{"fullyQualifiedName": r.Resource.Namespace + "/" + r.Resource.Kind + "/" + r.Resource.Name, "kind": "resource"}}
			uri, line := sarifLocation(r.Resource.Source, base)
			// GitHub refuses a result without a physical location: a resource read from the
			// cluster or stdin names where it came from instead of a file.
			res["locations"] = []any{map[string]any{"logicalLocations": logical,
				"physicalLocation": map[string]any{"artifactLocation": map[string]any{"uri": uri}, "region": map[string]any{"startLine": line}}}}
			results = append(results, res)
		}
	}
	if results == nil {
		results = []any{}
	}
	if rules == nil {
		rules = []rule{}
	}
	doc := map[string]any{
		"$schema": SARIFSchema,
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "kubectl-verify", "version": version, "informationUri": "https://github.com/kubectl-verify/kubectl-verify", "rules": rules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// sarifLocation is where a resource came from as a SARIF artifact URI and line: a file
// relative to base when it lies below it (what GitHub matches against the repository), else
// a file:// URI; a kustomization's file for `kustomize:DIR`; the source itself otherwise
// (cluster/CONTEXT, stdin), as a relative reference. URIs are percent-encoded.
func sarifLocation(source, base string) (string, int) {
	if dir, ok := strings.CutPrefix(source, "kustomize:"); ok {
		source = filepath.Join(dir, "kustomization.yaml") + ":1"
	}
	file, line, ok := cutLine(source)
	if !ok {
		return (&url.URL{Path: strings.TrimPrefix(source, "/")}).EscapedPath(), 1
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	if base != "" {
		if rel, err := filepath.Rel(base, abs); err == nil && !hasDotDot(rel) {
			return (&url.URL{Path: filepath.ToSlash(rel)}).EscapedPath(), max(line, 1)
		}
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), max(line, 1)
}

func hasDotDot(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
}
