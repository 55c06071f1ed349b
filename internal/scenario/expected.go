package scenario

import (
	"fmt"
	"sort"

	"sigs.k8s.io/yaml"
)

// Expected is expected.yaml: what `kubectl verify simulate -o json` must report. A pointer or
// nil-able field that expected.yaml omits is not compared.
type Expected struct {
	// ExitCode is the process exit code; nil = not compared.
	ExitCode *int `json:"exitCode,omitempty"`
	// Differential false turns off the comparison with `kyverno apply -p` for the whole
	// scenario (default true).
	Differential *bool `json:"differential,omitempty"`
	// KyvernoApply false keeps `kyverno apply` from running at all, where it never answers
	// (Kyverno's own deadlock); the admission controller is still compared (default true).
	KyvernoApply *bool `json:"kyvernoApply,omitempty"`
	// Summary compares only the keys it lists (e.g. {denied: 1}).
	Summary map[string]int `json:"summary,omitempty"`
	// Results is the exact set of results, keyed by resource.
	Results []ExpectedResult `json:"results"`
	// Notes is free text for readers; never compared.
	Notes string `json:"notes,omitempty"`
}

// DifferentialEnabled reports whether the scenario is compared with `kyverno apply -p`.
func (e Expected) DifferentialEnabled() bool { return e.Differential == nil || *e.Differential }

// KyvernoApplyRuns reports whether `kyverno apply` is run on the scenario.
func (e Expected) KyvernoApplyRuns() bool {
	return e.DifferentialEnabled() && (e.KyvernoApply == nil || *e.KyvernoApply)
}

// ExpectedResult is one entry of Expected.Results.
type ExpectedResult struct {
	Resource ResourceRef `json:"resource"`
	// Decision and DecisionIfEnforced are compared when non-empty.
	Decision           string `json:"decision,omitempty"`
	DecisionIfEnforced string `json:"decisionIfEnforced,omitempty"`
	// Message is compared exactly when given (an explicit "" means "must be empty").
	Message *string `json:"message,omitempty"`
	// Warnings is compared as an exact, ordered list when given.
	Warnings *[]string `json:"warnings,omitempty"`
	// PatchedImages maps a JSON pointer to the value of the patch's "replace" operation on
	// that image field; compared exactly when given ({} = no image is patched).
	PatchedImages map[string]string `json:"patchedImages,omitempty"`
	// Annotations lists the annotation keys the patch adds, compared as a set when given.
	Annotations *[]string `json:"annotations,omitempty"`
	// Checks is the exact set of (policy, rule, result, message); omitted means none. When
	// every check of this result gives a mode, modes are compared too.
	Checks []Check `json:"checks,omitempty"`
	// NotChecked is the exact set of (image, reason) when given.
	NotChecked *[]NotChecked `json:"notChecked,omitempty"`
	// InputWarnings is compared as an exact, ordered list when given.
	InputWarnings *[]string `json:"inputWarnings,omitempty"`
	// Differential false excludes this resource from the comparison with `kyverno apply -p`.
	Differential *bool `json:"differential,omitempty"`
}

// DifferentialEnabled reports whether this resource is compared with `kyverno apply -p`.
func (r ExpectedResult) DifferentialEnabled() bool {
	return r.Differential == nil || *r.Differential
}

// ResourceRef names a resource.
type ResourceRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Key is Kind/namespace/name, the identity results are matched by.
func (r ResourceRef) Key() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// ParseExpected parses expected.yaml (already substituted). Unknown fields are errors.
func ParseExpected(b []byte) (Expected, error) {
	var e Expected
	if err := yaml.UnmarshalStrict(b, &e); err != nil {
		return Expected{}, err
	}
	seen := map[string]bool{}
	for i, r := range e.Results {
		if r.Resource.Kind == "" || r.Resource.Name == "" {
			return Expected{}, fmt.Errorf("results[%d]: resource needs kind and name", i)
		}
		k := r.Resource.Key()
		if seen[k] {
			return Expected{}, fmt.Errorf("results[%d]: %s listed twice", i, k)
		}
		seen[k] = true
		modes := 0
		for j, c := range r.Checks {
			// A Sigstore check of no policy (no-match, not a digest) has policy "".
			if (c.Policy == "" && c.Engine != "sigstore") || c.Result == "" {
				return Expected{}, fmt.Errorf("results[%d] (%s).checks[%d]: policy and result are required", i, k, j)
			}
			if c.Mode != "" {
				modes++
			}
		}
		if modes != 0 && modes != len(r.Checks) {
			return Expected{}, fmt.Errorf("results[%d] (%s): give a mode on every check or on none", i, k)
		}
	}
	sort.SliceStable(e.Results, func(i, j int) bool {
		return e.Results[i].Resource.Key() < e.Results[j].Resource.Key()
	})
	return e, nil
}
