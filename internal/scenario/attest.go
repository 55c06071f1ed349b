package scenario

import "encoding/json"

// PredicateJSON is the predicate as the file `cosign attest --predicate` reads.
func (a Attestation) PredicateJSON() ([]byte, error) {
	if a.Predicate == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(a.Predicate)
}
