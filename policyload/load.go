// Package policyload finds policy objects in files (and, later, the cluster), recognizes
// each engine's kinds and hands them to the engine's parser.
package policyload

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	"github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// Set is every policy loaded, per engine, with load warnings.
type Set struct {
	Kyverno []*kyverno.Policy
	// ImageValidating are Kyverno's ImageValidatingPolicies and their namespaced variant,
	// defaulted and validated (listed, not replayed yet).
	ImageValidating []*ivpol.Policy
	Warnings        []string
	// KyvernoConfig is the live `kyverno` ConfigMap, when policies came from a cluster that
	// has one.
	KyvernoConfig *kyverno.Config
	// Sigstore are the ClusterImagePolicies, defaulted and validated.
	Sigstore []*sigstore.Policy
	// SigstoreConfig is the live `config-policy-controller` ConfigMap, when policies came
	// from a cluster that has one.
	SigstoreConfig *sigstore.Config
	// SigstoreTrustRoots are policy-controller's TrustRoots, by name (authorities' trustRootRef).
	SigstoreTrustRoots map[string]*sigstore.TrustRoot
	// Kubewarden are the ClusterAdmissionPolicies and AdmissionPolicies, every module (only
	// verify-image-signatures is replayed; the rest are listed).
	Kubewarden []*kubewarden.Policy
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

// FromObjects recognizes and parses already-read policy objects. ClusterImagePolicies are
// validated against policy-controller's default configuration.
func FromObjects(objs []manifest.Object, defaultNamespace string) (*Set, error) {
	return FromObjectsWith(objs, defaultNamespace, sigstore.DefaultConfig())
}

// FromObjectsWith is FromObjects with the policy-controller configuration ClusterImagePolicies
// are validated against (fail-on-empty-authorities, the controller namespace).
func FromObjectsWith(objs []manifest.Object, defaultNamespace string, sigCfg sigstore.Config) (*Set, error) {
	set := &Set{Found: map[string][]string{}}
	found := func(engine, kind string) {
		if !slices.Contains(set.Found[engine], kind) {
			set.Found[engine] = append(set.Found[engine], kind)
		}
	}
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
			found("kyverno", "kyverno.io "+p.Kind)
		case sigstore.IsClusterImagePolicy(o.APIVersion(), o.Kind()):
			raw, err := jsonOf(o)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			p, err := sigstore.Parse(raw, o.Source, sigCfg)
			if err != nil {
				return nil, &Error{o.Source, "", err}
			}
			found("sigstore", o.APIVersion()+" ClusterImagePolicy")
			if !set.compile(p, sigCfg.Compiled) {
				continue
			}
			for _, w := range p.Warnings {
				set.Warnings = append(set.Warnings, fmt.Sprintf("%s: ClusterImagePolicy %s: %s", o.Source, p.Name, w))
			}
			set.Sigstore = append(set.Sigstore, p)
		case kubewarden.IsPolicy(o.APIVersion(), o.Kind()), kubewarden.IsGroup(o.APIVersion(), o.Kind()):
			raw, err := jsonOf(o)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			p, err := kubewarden.Parse(raw, o.Source, defaultNamespace)
			if err != nil {
				return nil, &Error{o.Source, "", err}
			}
			set.addKubewarden(p)
			found("kubewarden", o.APIVersion()+" "+o.Kind())
		case sigstore.IsTrustRoot(o.APIVersion(), o.Kind()):
			raw, err := jsonOf(o)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			tr, err := sigstore.ParseTrustRoot(raw, o.Source)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			set.addTrustRoot(tr)
		case ivpol.IsPolicy(o.APIVersion(), o.Kind()):
			raw, err := jsonOf(o)
			if err != nil {
				return nil, &Error{o.Source, id, err}
			}
			p, err := ivpol.Parse(raw, o.Source, defaultNamespace)
			if err != nil {
				return nil, &Error{o.Source, "", err}
			}
			set.addImageValidating(p)
			found("kyverno", group+" "+o.Kind())
		default:
			return nil, &Error{o.Source, id, fmt.Errorf("not a policy kind kubectl-verify knows (%s %s)", o.APIVersion(), o.Kind())}
		}
	}
	return set, nil
}

// addImageValidating adds p, with a warning for each expression that is not replayed.
func (s *Set) addImageValidating(p *ivpol.Policy) {
	for _, w := range p.NotReplayed {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s %s: %s", p.Source, p.Kind, p.Key(), w))
	}
	s.ImageValidating = append(s.ImageValidating, p)
}

// compile applies what policy-controller's reconcile put in its compiled ConfigMap (c, when
// known) to p; false when the webhook does not know p at all (no entry: its reconcile failed).
func (s *Set) compile(p *sigstore.Policy, c *sigstore.Compiled) bool {
	if c == nil {
		return true
	}
	entry, ok := c.Entries[p.Name]
	if !ok {
		s.Warnings = append(s.Warnings, fmt.Sprintf("ClusterImagePolicy %s is not enforced: it has no entry in %s (its reconcile failed, so the webhook does not know it)", p.Name, c.Where))
		return false
	}
	if err := sigstore.ApplyCompiled(p, []byte(entry)); err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("ClusterImagePolicy %s: %v; replayed from the object", p.Name, err))
	}
	return true
}

// addKubewarden keeps p with its load warnings.
func (s *Set) addKubewarden(p *kubewarden.Policy) {
	for _, w := range p.Warnings {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s %s: %s", p.Kind, p.Key(), w))
	}
	s.Kubewarden = append(s.Kubewarden, p)
}

func (s *Set) addTrustRoot(tr *sigstore.TrustRoot) {
	if s.SigstoreTrustRoots == nil {
		s.SigstoreTrustRoots = map[string]*sigstore.TrustRoot{}
	}
	s.SigstoreTrustRoots[tr.Name] = tr
	if tr.Unsupported != "" {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: TrustRoot %s: %s is not replayed: authorities naming it get an error check", tr.Source, tr.Name, tr.Unsupported))
	}
}

// RequirePublicTrust settles what needs the public Sigstore material engines fetch over TUF:
// with a trust root given (available) it is replayed against that; without one, each rule
// needing it is not replayed, with a load warning saying what to give.
func (s *Set) RequirePublicTrust(available bool) {
	if available {
		return
	}
	for _, p := range s.Kyverno {
		for i := range p.Spec.Rules {
			r := &p.Spec.Rules[i]
			if len(r.PublicTrust) == 0 {
				continue
			}
			r.Unsupported = append(r.Unsupported, r.PublicTrust...)
			prefix := p.Kind + " " + p.Key()
			if p.Source != "" {
				prefix = p.Source + ": " + prefix
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: rule %q needs public Sigstore material Kyverno fetches over TUF: %s: give --trusted-root to replay it; images it selects get an error check",
				prefix, r.Name, strings.Join(r.PublicTrust, "; ")))
		}
	}
	for _, p := range s.Kubewarden {
		settings := map[string]*kubewarden.Settings{"": p.Settings}
		for _, m := range p.Members {
			settings["policies."+m.Name+"."] = m.Settings
		}
		for _, where := range slices.Sorted(maps.Keys(settings)) {
			if settings[where] == nil {
				continue
			}
			for i, sig := range settings[where].Signatures {
				keyless := sig.Kind == kubewarden.KindKeyless || sig.Kind == kubewarden.KindKeylessPrefix || sig.Kind == kubewarden.KindGitHubActions
				if keyless || (sig.Kind == kubewarden.KindCertificate && sig.RequireRekorBundle) {
					s.Warnings = append(s.Warnings, fmt.Sprintf("%s %s: %ssignatures[%d] (%s) needs the Fulcio roots and Rekor keys Kubewarden's host reads from the Sigstore TUF repository: give --trusted-root to replay it; images it selects get an error check",
						p.Kind, p.Key(), where, i, sig.Kind))
				}
			}
		}
	}
}
