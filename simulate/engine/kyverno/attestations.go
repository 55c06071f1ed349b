package kyverno

import (
	"context"
	"errors"
	"fmt"
	"strings"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// verifyChecks is verifyImage's verification (§4.1 steps 6-7): the attestor sets first; the
// attestations then, naming the image by the digest the signatures gave.
func (e *Engine) verifyChecks(ctx context.Context, iv *kpol.ImageVerification, img imageInfo, mk func(string, string, bool) *ruleResponse, auth verify.Auth) (*ruleResponse, string) {
	if len(iv.Attestors) > 0 {
		resp, digest := e.verifyAttestors(ctx, iv, img, mk, auth)
		if resp.status != statusPass || len(iv.Attestations) == 0 {
			return resp, digest
		}
		if img.Digest == "" {
			img.Digest = digest
		}
	}
	return e.verifyAttestations(ctx, iv, img, mk, auth)
}

// verifyAttestations is Kyverno's verifyAttestations: per attestation, each attestor set
// must have count entries whose verified attestations include the type, every statement of
// the type meeting the conditions; a named attestation's predicate joins the rule's
// context; then, if the rule has validate, every entry's deny decides.
// Quirks kept: fetch errors carry no path; the path's entry index is the attestation's; the
// errors of earlier sets of the same attestation stay in later sets' messages; a registry
// that cannot be reached is a failure here, not an error; the predicate named is the first
// statement's, whatever its type.
func (e *Engine) verifyAttestations(ctx context.Context, iv *kpol.ImageVerification, img imageInfo, mk func(string, string, bool) *ruleResponse, auth verify.Auth) (*ruleResponse, string) {
	image := img.String()
	state := stateOf(ctx)
	for i := range iv.Attestations {
		att := &iv.Attestations[i]
		path := fmt.Sprintf(".attestations[%d]", i)
		typ := att.EffectiveType()
		if typ == "" {
			return mk(statusFail, path+": missing type", true), ""
		}
		sets := att.Attestors
		if len(sets) == 0 {
			sets = []kpol.AttestorSet{{Entries: []kpol.Attestor{{}}}}
		}
		var errs []error
		for j, set := range sets {
			required, verified := set.RequiredCount(), 0
			for _, en := range set.Entries {
				check, sub := attestationCheck(iv, en, image, typ, auth)
				res, err := e.Verifier.VerifyAttestations(ctx, check)
				var tool *verify.ToolError
				if errors.As(err, &tool) {
					return mk(statusError, report.ToolErrorPrefix+tool.Error(), true), ""
				}
				if err != nil {
					errs = append(errs, fetchError(err))
					continue
				}
				raw, err := rawPredicate(res.Statements)
				if err == nil {
					err = state.context().AddEntry(att.Name, raw)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if img.Digest == "" && res.PayloadDigest != "" {
					img.Digest = res.PayloadDigest
					image = img.String()
				}
				if err := verifyStatements(state.context(), res.Statements, att, typ, image); err != nil {
					if toolCaused(err) {
						return mk(statusError, report.ToolErrorPrefix+err.Error(), true), ""
					}
					errs = append(errs, pathError{fmt.Sprintf("%s.attestors[%d].entries[%d]%s", path, j, i, sub), err})
					continue
				}
				verified++
				if verified >= required {
					break
				}
			}
			if verified < required {
				msg := "attestations verification failed"
				switch len(errs) {
				case 0:
				case 1:
					msg = errs[0].Error()
				default:
					msg = joinedError{errs}.Error()
				}
				return mk(statusFail, fmt.Sprintf("image attestations verification failed, verifiedCount: %d, requiredCount: %d, error: %s", verified, required, msg), true), ""
			}
		}
	}
	r := mk(statusPass, "verified image attestations for "+image, false)
	if state.rule != nil && hasValidate(state.rule) {
		r = denyRule(state, mk)
	}
	r.digest = img.Digest
	return r, img.Digest
}

// attestationCheck is buildCosignVerifier for an attestation entry, and the path suffix
// naming the entry kind.
func attestationCheck(iv *kpol.ImageVerification, en kpol.Attestor, image, typ string, auth verify.Auth) (verify.AttestationCheck, string) {
	c, sub := entryCheck(iv, en, image, auth)
	return verify.AttestationCheck{SignatureCheck: c, Type: typ}, sub
}

// entryCheck is buildCosignVerifier for one attestor entry, and the path suffix naming the
// entry kind: the entry-level signatureAlgorithm applies, except that keys.signatureAlgorithm
// overrides it. An entry with no kind (the stand-in for absent attestation attestors) is a
// Fulcio-rooted check with no identity, the log checked at an empty URL, SCTs not.
func entryCheck(iv *kpol.ImageVerification, en kpol.Attestor, image string, auth verify.Auth) (verify.SignatureCheck, string) {
	repo := iv.Repository
	if en.Repository != "" {
		repo = en.Repository
	}
	c := verify.SignatureCheck{Image: image, Repository: repo, OCI11: iv.CosignOCI11, Auth: auth, Roots: iv.Roots, HashAlgorithm: en.SignatureAlgorithm}
	sub := ""
	switch {
	case en.Keys != nil:
		sub = ".keys"
		c.PublicKey, c.HashAlgorithm = en.Keys.KeyRef(), en.Keys.SignatureAlgorithm
		transparency(&c, en.Keys.Rekor, en.Keys.CTLog)
	case en.Certificates != nil:
		sub = ".certificates"
		c.Certificate, c.CertificateChain = en.Certificates.Certificate, en.Certificates.CertificateChain
		transparency(&c, en.Certificates.Rekor, en.Certificates.CTLog)
	case en.Keyless != nil:
		sub = ".keyless"
		k := en.Keyless
		c.Keyless, c.Roots = true, k.Roots
		c.Subject, c.SubjectRegExp, c.Issuer, c.IssuerRegExp = k.Subject, k.SubjectRegExp, k.Issuer, k.IssuerRegExp
		c.Extensions = k.AdditionalExtensions
		transparency(&c, k.Rekor, k.CTLog)
	default:
		c.Keyless, c.Tlog = true, true
	}
	return c, sub
}

// fetchError is FetchAttestations' error as Kyverno passes it on: a registry's
// "manifest unknown" answer becomes "not found".
func fetchError(err error) error {
	if strings.Contains(err.Error(), "MANIFEST_UNKNOWN: manifest unknown") {
		return errors.New("not found")
	}
	return err
}
