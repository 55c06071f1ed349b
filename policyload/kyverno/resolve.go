package kyverno

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
)

// SubstitutionDocument is r as Kyverno's image handler substitutes it before verifying
// (mutate_image.go substituteVariables): the rule as JSON, without the attestation conditions
// and, when an entry has validate, the deny conditions, which are evaluated later on their
// own.
func SubstitutionDocument(r *Rule) (any, error) {
	c := *r
	c.VerifyImages = make([]ImageVerification, len(r.VerifyImages))
	validate := false
	for i := range r.VerifyImages {
		validate = validate || r.VerifyImages[i].Validation.IsSet()
	}
	for i, iv := range r.VerifyImages {
		iv.Attestations = append([]Attestation(nil), iv.Attestations...)
		for j := range iv.Attestations {
			iv.Attestations[j].Conditions = nil
		}
		if validate && iv.Validation.Deny != nil {
			iv.Validation.Deny = &Deny{}
		}
		c.VerifyImages[i] = iv
	}
	raw, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// markTemplated sets r.Templated when Kyverno's whole-rule substitution can change it, and
// records what its variables use that is not replayed.
func markTemplated(r *Rule, path string) {
	doc, err := SubstitutionDocument(r)
	if err != nil {
		return
	}
	raw, _ := json.Marshal(doc)
	if !strings.Contains(string(raw), "{{") && !strings.Contains(string(raw), "$(") {
		return
	}
	r.Templated = true
	for _, u := range kyvernocond.Unsupported(doc) {
		r.Unsupported = append(r.Unsupported, path+": "+u)
	}
}

// ResolveRule is r after substitution: doc is SubstitutionDocument(r) with its variables
// replaced. The conditions taken out are put back, and each entry is read again as at load
// (nested attestor sets, key kinds); what the values now ask for that is not replayed is in
// the result's Unsupported, and a value Kyverno would refuse at creation is an InvalidError.
func ResolveRule(p *Policy, r *Rule, doc any) (*Rule, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	out := &Rule{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("the substituted rule does not decode: %w", err)
	}
	if len(out.VerifyImages) != len(r.VerifyImages) {
		return nil, fmt.Errorf("the substituted rule has %d verifyImages entries, not %d", len(out.VerifyImages), len(r.VerifyImages))
	}
	out.Conds = r.Conds
	for i := range out.VerifyImages {
		iv, orig := &out.VerifyImages[i], &r.VerifyImages[i]
		for j := range iv.Attestations {
			if j < len(orig.Attestations) {
				iv.Attestations[j].Conditions = orig.Attestations[j].Conditions
			}
		}
		if orig.Validation.Deny != nil {
			iv.Validation.Deny = orig.Validation.Deny
		}
	}
	// Warnings and the policy-wide checks were made at load; only the entries are read again.
	scratch := &Policy{Kind: p.Kind, Name: p.Name, Namespace: p.Namespace, Spec: Spec{ValidationFailureAction: p.Spec.ValidationFailureAction}}
	ref := p.Kind + "/" + p.Key()
	for j := range out.VerifyImages {
		if err := scratch.normaliseEntry(ref, out, fmt.Sprintf("rule %s verifyImages[%d]", r.Name, j), &out.VerifyImages[j]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
