package sigstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/policyeval"
)

// attestations is ValidatePolicyAttestationsForAuthority (spec §3.4): the image's in-toto
// attestations verified by the authority's key or identities, then every attestation the
// authority lists must be met by at least one of them: of its predicate type, and passing its
// CUE or Rego policy when it has one.
func (e *Engine) attestations(ctx context.Context, a spol.Authority, check verify.SignatureCheck, ref name.Reference) (authorityMatch, error) {
	var res verify.InTotoResult
	var err error
	switch {
	case a.Key != nil && strings.TrimSpace(a.Key.Data) != "":
		if res, err = e.Verifier.VerifyInToto(ctx, check); err != nil {
			return authorityMatch{}, wrapVerify(fmt.Sprintf("attestation key validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
	case a.Keyless != nil && a.Keyless.HasURL():
		if res, err = e.Verifier.VerifyInToto(ctx, check); err != nil {
			return authorityMatch{}, wrapVerify(fmt.Sprintf("attestation keyless validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
	}
	if len(res.Payloads) == 0 {
		return authorityMatch{}, fmt.Errorf("no matching attestations for authority %s for %s", a.Name, ref.Name())
	}
	m := authorityMatch{Attestations: map[string][]policyAttestation{}}
	for _, want := range a.Attestations {
		checked, err := e.attestation(ctx, want, res)
		if err != nil {
			return authorityMatch{}, err
		}
		m.Attestations[want.Name] = checked
	}
	return m, nil
}

// attestation is one wanted attestation: every verified attestation of its type that passes
// its policy is recorded; when none does, the first policy failure is the answer, else the
// predicate types seen are named.
func (e *Engine) attestation(ctx context.Context, want spol.Attestation, res verify.InTotoResult) ([]policyAttestation, error) {
	var first error
	var checked []policyAttestation
	passed := false
	seen := map[string]bool{}
	for i, p := range res.Payloads {
		statement, got, err := verify.InTotoStatement(want.PredicateType, p)
		if got != "" {
			seen[got] = true
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if statement == nil {
			continue
		}
		if want.Policy != nil && want.Policy.Type != "" {
			if err := policyeval.EvaluatePolicy(ctx, want.Name, want.Policy.Type, want.Policy.Data, statement); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
		}
		passed = true
		// One whose signature cannot be read is left out of the record, not the verdict.
		if i < len(res.Signatures) && res.Signatures[i].ID != "" {
			checked = append(checked, policyAttestation{PolicySignature: res.Signatures[i], PredicateType: want.PredicateType, Digest: res.Digests[i]})
		}
	}
	if passed {
		return checked, nil
	}
	if first != nil {
		return nil, first
	}
	// The webhook joins a map's keys: in its order, which varies; here sorted.
	types := make([]string, 0, len(seen))
	for t := range seen {
		types = append(types, t)
	}
	sort.Strings(types)
	return nil, fmt.Errorf("no matching attestations with type %s, checked the following predicateTypes: %q", want.PredicateType, strings.Join(types, ","))
}
