package kyverno

import (
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
)

// attestationOperators is the CRD's enum for attestation conditions (no Equal, NotEqual).
var attestationOperators = []string{
	"Equals", "NotEquals", "In", "AnyIn", "AllIn", "NotIn", "AnyNotIn", "AllNotIn",
	"GreaterThanOrEquals", "GreaterThan", "LessThanOrEquals", "LessThan",
	"DurationGreaterThanOrEquals", "DurationGreaterThan", "DurationLessThanOrEquals", "DurationLessThan",
}

// normaliseConditions checks an attestation's conditions as Kyverno does at creation (each
// operator one the CRD admits) and records what their variables use that is not replayed.
func (p *Policy) normaliseConditions(ref string, r *Rule, path string, iv *ImageVerification, a *Attestation) error {
	for i, aa := range a.Conditions {
		for _, blk := range []struct {
			name  string
			conds []Condition
		}{{"any", aa.Any}, {"all", aa.All}} {
			for j, c := range blk.conds {
				if !contains(attestationOperators, c.Operator) {
					return &InvalidError{ref, fmt.Sprintf("%s.conditions[%d].%s[%d].operator", path, i, blk.name, j),
						fmt.Sprintf("Unsupported value: %q: supported values: %s", c.Operator, quoted(attestationOperators))}
				}
			}
		}
	}
	doc := kyvernocond.AttestationDocument(a.Conditions)
	for _, u := range kyvernocond.Unsupported(doc) {
		r.Unsupported = append(r.Unsupported, path+".conditions: "+u)
	}
	p.cacheWarning(path+".conditions", iv, doc)
	return nil
}

// cacheWarning: conditions that read the request are not evaluated again when Kyverno's
// verification cache (on in a cluster unless useCache is false; off in `kyverno apply`)
// has passed the image for the rule, whatever the resource (spec/kyverno.md §4.1 step 2).
func (p *Policy) cacheWarning(path string, iv *ImageVerification, doc any) {
	if iv.UseCache != nil && !*iv.UseCache || !kyvernocond.ReadsRequest(doc) {
		return
	}
	p.Warnings = append(p.Warnings, path+" read the admission request: in a cluster, Kyverno's verification cache (useCache) passes an image verified by the rule within the hour for another resource without evaluating them; replayed as a first verification")
}

// normaliseValidation checks verifyImages[].validate as Kyverno does at creation (every deny
// condition has a key, a value and a known operator) and records what is not replayed: a
// message with variables (Kyverno substitutes those with the rule, before any attestation
// is there) and what the deny variables use.
func (p *Policy) normaliseValidation(ref string, r *Rule, path string, iv *ImageVerification) error {
	v := &iv.Validation
	if v.Deny == nil {
		// Kyverno's policy validation reads every entry's deny once one entry has validate,
		// through a nil pointer here (pkg/validation/policy validateResources).
		for _, other := range r.VerifyImages {
			if other.Validation.IsSet() {
				r.Unsupported = append(r.Unsupported, path+".validate.deny (absent while the rule has validate: Kyverno 1.19's policy validation dereferences it)")
				break
			}
		}
		return nil
	}
	if v.Deny.Conditions == nil {
		return nil
	}
	conds := v.Deny.Conditions
	check := func(cpath string, c Condition) error {
		if !presentJSON(c.Key) || !presentJSON(c.Value) || c.Operator == "" {
			return &InvalidError{ref, cpath, "entered value of `key`, `value` or `operator` is missing or misspelled"}
		}
		if !contains(kyvernocond.Operators, c.Operator) {
			return &InvalidError{ref, cpath + ".operator", fmt.Sprintf("entered value of `operator` is invalid. valid values: %s", quoted(kyvernocond.Operators))}
		}
		return nil
	}
	dpath := path + ".validate.deny.conditions"
	if conds.Legacy {
		for i, c := range conds.List {
			if err := check(fmt.Sprintf("%s[%d]", dpath, i), c); err != nil {
				return err
			}
		}
	} else {
		for _, blk := range []struct {
			name  string
			conds []Condition
		}{{"any", conds.AnyAll.Any}, {"all", conds.AnyAll.All}} {
			for i, c := range blk.conds {
				if err := check(fmt.Sprintf("%s.%s[%d]", dpath, blk.name, i), c); err != nil {
					return err
				}
			}
		}
	}
	doc := kyvernocond.DenyDocument(conds)
	for _, u := range kyvernocond.Unsupported(doc) {
		r.Unsupported = append(r.Unsupported, path+".validate.deny: "+u)
	}
	p.cacheWarning(path+".validate.deny", iv, doc)
	return nil
}

func presentJSON(raw []byte) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoted(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
