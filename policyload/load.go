// Package policyload finds policy objects in files (and, later, the cluster), recognizes
// each engine's kinds and hands them to the engine's parser.
package policyload

import (
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

// Set is every policy loaded, per engine, with load warnings.
type Set struct {
	Kyverno  []*kyverno.Policy
	Warnings []string
	// KyvernoConfig is the live `kyverno` ConfigMap, when policies came from a cluster that
	// has one.
	KyvernoConfig *kyverno.Config
	// Found names, per engine, the policy kinds and versions the cluster serves.
	Found map[string][]string
	// Gaps are what could not be read.
	Gaps []Gap
}

// Error is a policy input the tool cannot use: it names the source and object.
type Error struct {
	Source string
	Object string
	Err    error
}

func (e *Error) Error() string {
	if e.Object == "" {
		return fmt.Sprintf("%s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Source, e.Object, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// later names policy kinds whose engines are not replayed yet.
var later = map[string]string{
	"policy.sigstore.dev/ClusterImagePolicy":        "Sigstore policy-controller",
	"policies.kubewarden.io/ClusterAdmissionPolicy": "Kubewarden",
	"policies.kubewarden.io/AdmissionPolicy":        "Kubewarden",
	"policies.kyverno.io/ImageValidatingPolicy":     "Kyverno ImageValidatingPolicy",
}

// FromObjects recognizes and parses already-read policy objects.
func FromObjects(objs []manifest.Object, defaultNamespace string) (*Set, error) {
	set := &Set{}
	for _, o := range objs {
		id := o.Kind() + "/" + o.Name()
		group, _, _ := strings.Cut(o.APIVersion(), "/")
		switch {
		case kyverno.IsKyvernoPolicy(o.APIVersion(), o.Kind()):
			raw, err := jsonOf(o)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			p, err := kyverno.Parse(raw, o.Source, defaultNamespace)
			if err != nil {
				return nil, &Error{o.Source, "", err}
			}
			for _, w := range p.Warnings {
				set.Warnings = append(set.Warnings, fmt.Sprintf("%s: %s %s: %s", o.Source, p.Kind, p.Key(), w))
			}
			set.Kyverno = append(set.Kyverno, p)
		case later[group+"/"+o.Kind()] != "":
			return nil, &Error{o.Source, id, fmt.Errorf("%s policies are not supported yet", later[group+"/"+o.Kind()])}
		default:
			return nil, &Error{o.Source, id, fmt.Errorf("not a policy kind kubectl-verify knows (%s %s)", o.APIVersion(), o.Kind())}
		}
	}
	return set, nil
}
