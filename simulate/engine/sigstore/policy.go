package sigstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/internal/fielderror"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// policyResult is ValidatePolicy's answer for one ClusterImagePolicy and image.
type policyResult struct {
	passed bool
	// authority is the first passing authority, in the policy's order.
	authority string
	errs      []policyError
}

// validatePolicy is ValidatePolicy: every authority is tried (the webhook runs them at once);
// one passing passes the policy, and the failing ones' errors are dropped (spec §3.3).
func (e *Engine) validatePolicy(ctx context.Context, p *spol.Policy, ref name.Reference, ic imageContext, warn bool) policyResult {
	lvl := fielderror.Error
	if warn {
		lvl = fielderror.Warning
	}
	unsupported := p.Unsupported
	if p.Spec.Policy != nil {
		// Its input names every verified signature by an id (a hash of signature and
		// certificate) the verifier does not hand back yet.
		unsupported = append(unsupported, "spec.policy (the ClusterImagePolicy-level policy)")
	}
	if len(unsupported) > 0 {
		return policyResult{errs: []policyError{{msg: report.ToolErrorPrefix + "ClusterImagePolicy uses what is not replayed yet: " + strings.Join(unsupported, "; "), level: lvl}}}
	}
	if len(p.Spec.Authorities) == 0 {
		// Only with fail-on-empty-authorities: false; a plain error, which admits (spec §6.3).
		return policyResult{errs: []policyError{{msg: "failed to process policy: " + p.Name, plain: true}}}
	}
	var res policyResult
	for _, a := range p.Spec.Authorities {
		err := e.authority(ctx, a, ref, ic)
		if err == nil {
			if !res.passed {
				res.passed, res.authority = true, a.Name
			}
			continue
		}
		pe := policyError{msg: err.Error(), level: lvl}
		var te *verify.ToolError
		if errors.As(err, &te) {
			pe.msg = report.ToolErrorPrefix + err.Error()
		}
		res.errs = append(res.errs, pe)
	}
	if res.passed {
		res.errs = nil
	}
	return res
}

// authority is one authority's verdict: nil when it passes, else the error the webhook
// records (ValidatePolicySignaturesForAuthority's texts, spec §6.2).
func (e *Engine) authority(ctx context.Context, a spol.Authority, ref name.Reference, ic imageContext) error {
	if a.Static != nil {
		if a.Static.Action == "fail" {
			return fmt.Errorf("disallowed by static policy: %s", a.Static.Message)
		}
		return nil
	}
	if len(a.Attestations) > 0 {
		return &verify.ToolError{Err: fmt.Errorf("authority %s: attestations are not replayed yet", a.Name)}
	}
	if a.SignatureFormat == "bundle" && a.Keyless == nil {
		return fmt.Errorf("constructing checkOpts for %s: when using the new bundle format, the authority must be keyless", a.Name)
	}
	check := verify.SignatureCheck{Image: ref.String(), Auth: ic.auth, OCI11: e.Config.EnableOCI11}
	if len(a.Sources) > 0 {
		src := a.Sources[0]
		if src.TagPrefix != "" {
			return &verify.ToolError{Err: fmt.Errorf("authority %s: source tagPrefix is not replayed yet", a.Name)}
		}
		check.Repository = src.OCI
		var names []string
		for _, s := range src.SignaturePullSecrets {
			names = append(names, s.Name)
		}
		check.Auth = ic.auth.Plus(ic.namespace, names)
	}
	// A ctlog url asks for an online Rekor lookup beside the keys of the trust root
	// (rekorClientAndKeysFromAuthority); without ctlog a key authority ignores the log.
	if a.CTLog != nil && a.CTLog.URL != "" {
		check.Tlog, check.RekorURL = true, a.CTLog.URL
	}
	switch {
	case a.Key != nil:
		if a.Key.SecretRef != nil && a.Key.Data == "" {
			// The controller inlines the Secret's key before the webhook sees the policy.
			return &verify.ToolError{Err: fmt.Errorf("authority %s: key.secretRef is not read yet", a.Name)}
		}
		if strings.TrimSpace(a.Key.Data) == "" {
			return fmt.Errorf("there are no public keys for authority %s", a.Name)
		}
		check.PublicKey, check.HashAlgorithm = a.Key.Data, a.Key.HashAlgorithm
		if _, err := e.Verifier.VerifySignature(ctx, check); err != nil {
			return wrapVerify(fmt.Sprintf("signature key validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		return nil
	case a.Keyless != nil:
		if a.Keyless.URL == "" {
			return errors.New("no Keyless URL specified")
		}
		check.Keyless = true
		for _, id := range a.Keyless.Identities {
			check.Identities = append(check.Identities, verify.Identity{Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
		}
		// Without ctlog the Rekor keys come from the trust root and the signature's bundle
		// must verify offline; SCTs are required unless insecureIgnoreSCT.
		check.Tlog = true
		check.SCT = !a.Keyless.InsecureIgnoreSCT
		if _, err := e.Verifier.VerifySignature(ctx, check); err != nil {
			return wrapVerify(fmt.Sprintf("signature keyless validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		return nil
	}
	return errors.New("authority has neither key, keyless, or static specified")
}

// wrapVerify words a verification error as the webhook does; a tool-caused one stays a
// *verify.ToolError so that the check says so.
func wrapVerify(prefix string, err error) error {
	var te *verify.ToolError
	if errors.As(err, &te) {
		return &verify.ToolError{Err: fmt.Errorf("%s: %w", prefix, err)}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
