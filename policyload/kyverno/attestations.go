package kyverno

import "fmt"

// normaliseAttestations validates verifyImages[].attestations as Kyverno does at creation
// (each attestor set as for signatures, each condition's operator as the CRD admits) and
// records what is not replayed: what conditions use beyond this replay, and attestations
// without attestors, which Kyverno checks against the public Fulcio roots and Rekor log
// with no identity at all.
func (p *Policy) normaliseAttestations(ref string, r *Rule, path string, iv *ImageVerification) error {
	for i := range iv.Attestations {
		a := &iv.Attestations[i]
		apath := fmt.Sprintf("%s.attestations[%d]", path, i)
		if err := p.normaliseConditions(ref, r, apath, iv, a); err != nil {
			return err
		}
		if len(a.Attestors) == 0 {
			r.Unsupported = append(r.Unsupported, apath+".attestors (none: Kyverno then accepts any Fulcio identity logged in the public Rekor)")
		}
		for k := range a.Attestors {
			spath := fmt.Sprintf("%s.attestors[%d]", apath, k)
			if err := p.normaliseSet(ref, r, spath, &a.Attestors[k]); err != nil {
				return err
			}
			// On the attestation path Kyverno's buildVerifier does not look into a nested set.
			for j, e := range a.Attestors[k].Entries {
				if e.Nested != nil {
					r.Unsupported = append(r.Unsupported, fmt.Sprintf("%s.entries[%d].attestor (nested, in an attestation)", spath, j))
				}
			}
		}
	}
	return nil
}
