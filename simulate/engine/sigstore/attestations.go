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
func (e *Engine) attestations(ctx context.Context, a spol.Authority, check verify.SignatureCheck, ref name.Reference) error {
	var payloads [][]byte
	switch {
	case a.Key != nil && strings.TrimSpace(a.Key.Data) != "":
		res, err := e.Verifier.VerifyInToto(ctx, check)
		if err != nil {
			return wrapVerify(fmt.Sprintf("attestation key validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		payloads = res.Payloads
	case a.Keyless != nil && a.Keyless.HasURL():
		res, err := e.Verifier.VerifyInToto(ctx, check)
		if err != nil {
			return wrapVerify(fmt.Sprintf("attestation keyless validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		payloads = res.Payloads
	}
	if len(payloads) == 0 {
		return fmt.Errorf("no matching attestations for authority %s for %s", a.Name, ref.Name())
	}
	for _, want := range a.Attestations {
		if err := e.attestation(ctx, want, payloads); err != nil {
			return err
		}
	}
	return nil
}

// attestation is one wanted attestation: the first policy failure is kept while later
// attestations may still satisfy it; none of the type names the types seen.
func (e *Engine) attestation(ctx context.Context, want spol.Attestation, payloads [][]byte) error {
	var first error
	seen := map[string]bool{}
	for _, p := range payloads {
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
		return nil
	}
	if first != nil {
		return first
	}
	// The webhook joins a map's keys: in its order, which varies; here sorted.
	types := make([]string, 0, len(seen))
	for t := range seen {
		types = append(types, t)
	}
	sort.Strings(types)
	return fmt.Errorf("no matching attestations with type %s, checked the following predicateTypes: %q", want.PredicateType, strings.Join(types, ","))
}
