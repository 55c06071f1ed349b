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

// authorityMatch is what a passing authority adds to the PolicyResult a ClusterImagePolicy-
// level policy evaluates (validator_result.go AuthorityMatch).
type authorityMatch struct {
	Signatures   []verify.PolicySignature       `json:"signatures,omitempty"`
	Attestations map[string][]policyAttestation `json:"attestations,omitempty"`
	Static       bool                           `json:"static,omitempty"`
}

// policyAttestation is a verified attestation: its signature, the predicate type as the
// policy names it, and its digest.
type policyAttestation struct {
	verify.PolicySignature
	PredicateType string `json:"predicateType,omitempty"`
	Digest        string `json:"digest,omitempty"`
}

// validatePolicy is ValidatePolicy: every authority is tried (the webhook runs them at once);
// one passing passes the policy and the failing ones' errors are dropped, unless the
// policy-level policy then fails: the policy fails with every error (spec §3.3).
func (e *Engine) validatePolicy(ctx context.Context, p *spol.Policy, ref name.Reference, ic imageContext, warn bool) policyResult {
	lvl := fielderror.Error
	if warn {
		lvl = fielderror.Warning
	}
	if len(p.Unsupported) > 0 {
		return policyResult{errs: []policyError{{msg: report.ToolErrorPrefix + "ClusterImagePolicy uses what is not replayed yet: " + strings.Join(p.Unsupported, "; "), level: lvl}}}
	}
	if len(p.Spec.Authorities) == 0 {
		// Only with fail-on-empty-authorities: false; a plain error, which admits (spec §6.3).
		return policyResult{errs: []policyError{{msg: "failed to process policy: " + p.Name, plain: true}}}
	}
	var res policyResult
	matches := map[string]authorityMatch{}
	for _, a := range p.Spec.Authorities {
		m, err := e.authority(ctx, a, ref, ic)
		if err == nil {
			matches[a.Name] = m
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
	if !res.passed {
		return res
	}
	if p.Spec.Policy != nil {
		if errs := e.policyLevel(ctx, p.Spec.Policy, matches, ref, ic); len(errs) > 0 {
			for _, err := range errs {
				msg := err.Error()
				var te *verify.ToolError
				if errors.As(err, &te) {
					msg = report.ToolErrorPrefix + msg
				}
				res.errs = append(res.errs, policyError{msg: msg, level: lvl})
			}
			res.passed, res.authority = false, ""
			return res
		}
	}
	res.errs = nil
	return res
}

// authority is one authority's verdict: nil when it passes, else the error the webhook
// records (ValidatePolicy's per-authority branch, spec §3.3, §6.2).
func (e *Engine) authority(ctx context.Context, a spol.Authority, ref name.Reference, ic imageContext) (authorityMatch, error) {
	if a.Static != nil {
		if a.Static.Action == "fail" {
			return authorityMatch{}, fmt.Errorf("disallowed by static policy: %s", a.Static.Message)
		}
		return authorityMatch{Static: true}, nil
	}
	check := verify.SignatureCheck{Image: ref.String(), Auth: ic.auth, OCI11: e.Config.EnableOCI11,
		UnverifiedInTotoReferrers: e.Config.EnableOCI11 && len(a.Attestations) > 0}
	if len(a.Sources) > 0 {
		src := a.Sources[0]
		check.Repository, check.TagPrefix = src.OCI, src.TagPrefix
		if len(src.SignaturePullSecrets) > 0 {
			// The source's keychain (those Secrets alone, in the workload's namespace)
			// replaces the pod's for signatures (SourceSignaturePullSecretsOpts).
			var names []string
			for _, s := range src.SignaturePullSecrets {
				names = append(names, s.Name)
			}
			check.Auth = verify.PullSecretAuth(ic.namespace, names)
		}
	}
	if a.Key != nil && a.Key.SecretRef != nil && a.Key.Data == "" {
		// The controller inlines the Secret's key before the webhook sees the policy; the run
		// inlines it too when it reads a cluster it may read the Secret in.
		return authorityMatch{}, &verify.ToolError{Err: fmt.Errorf("authority %s: key.secretRef %s is a Secret in policy-controller's namespace, which this run did not read", a.Name, a.Key.SecretRef.Name)}
	}
	if err := e.checkOpts(a, &check); err != nil {
		// The two paths word a checkOpts failure differently.
		if len(a.Attestations) > 0 {
			return authorityMatch{}, fmt.Errorf("creating CheckOpts: %w", err)
		}
		return authorityMatch{}, fmt.Errorf("constructing checkOpts for %s: %w", a.Name, err)
	}
	if len(a.Attestations) > 0 {
		return e.attestations(ctx, a, check, ref)
	}
	switch {
	case a.Key != nil:
		if strings.TrimSpace(a.Key.Data) == "" {
			return authorityMatch{}, fmt.Errorf("there are no public keys for authority %s", a.Name)
		}
		res, err := e.Verifier.VerifySignature(ctx, check)
		if err != nil {
			return authorityMatch{}, wrapVerify(fmt.Sprintf("signature key validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		return authorityMatch{Signatures: res.Signatures}, nil
	case a.Keyless != nil:
		if !a.Keyless.HasURL() {
			return authorityMatch{}, errors.New("no Keyless URL specified")
		}
		res, err := e.Verifier.VerifySignature(ctx, check)
		if err != nil {
			return authorityMatch{}, wrapVerify(fmt.Sprintf("signature keyless validation failed for authority %s for %s", a.Name, ref.Name()), err)
		}
		return authorityMatch{Signatures: res.Signatures}, nil
	}
	return authorityMatch{}, errors.New("authority has neither key, keyless, or static specified")
}

// checkOpts is checkOptsFromAuthority: what a signature or attestation must verify against
// (key, or keyless identities with Fulcio roots and CT-log keys from the TrustRoot named or the
// public ones; SCTs unless insecureIgnoreSCT), and the transparency-log setting
// (rekorClientAndKeysFromAuthority): keyless without a TrustRoot or ctlog checks the entry
// offline against the public Rekor keys; a ctlog with a TrustRoot against that root's log
// keys (online at its URL when the bundle is missing); a ctlog url alone, online against the
// public keys; otherwise the log is not checked. Errors come unprefixed.
func (e *Engine) checkOpts(a spol.Authority, check *verify.SignatureCheck) error {
	if a.SignatureFormat == "bundle" && a.Keyless == nil {
		return errors.New("when using the new bundle format, the authority must be keyless")
	}
	if a.Key != nil {
		check.PublicKey, check.HashAlgorithm = a.Key.Data, a.Key.HashAlgorithm
	}
	if a.Keyless != nil {
		check.Keyless = true
		for _, id := range a.Keyless.Identities {
			check.Identities = append(check.Identities, verify.Identity{Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
		}
		if name := a.Keyless.TrustRootRef; name != "" {
			tr, err := e.trustRoot(name)
			if err != nil {
				return fmt.Errorf("getting Fulcio certs: %s: %w", a.Name, viaSigstoreKeys(err))
			}
			check.Roots = strings.Join(tr.CAChains, "")
			if len(tr.CTLogKeys) > 0 {
				check.CTLogPubKey = tr.CTLogKeys[0]
			}
		}
		check.SCT = !a.Keyless.InsecureIgnoreSCT
	}
	if err := e.timestamps(a, check); err != nil {
		return err
	}
	switch {
	case a.RFC3161 != nil:
		// Signed timestamps replace the log (the controller turns the log check off).
	case a.Keyless != nil && a.Keyless.TrustRootRef == "" && a.CTLog == nil:
		check.Tlog = true
	case a.CTLog == nil:
	case a.CTLog.TrustRootRef != "":
		tr, err := e.trustRoot(a.CTLog.TrustRootRef)
		if err != nil {
			return fmt.Errorf("getting Rekor public keys: %s: fetching keys for trustRootRef: %w", a.Name, viaSigstoreKeys(err))
		}
		// The root's log URL first, else the authority's (rekorClientAndKeysFromAuthority).
		check.Tlog, check.RekorURL = true, tr.TLogURL
		if check.RekorURL == "" {
			check.RekorURL = a.CTLog.URL
		}
		if len(tr.TLogKeys) > 0 {
			check.RekorPubKey = tr.TLogKeys[0]
		}
	case a.CTLog.HasURL():
		check.Tlog, check.RekorURL = true, a.CTLog.URL
	}
	return nil
}

// timestamps is the rfc3161timestamp part of checkOptsFromAuthority: the TrustRoot's
// timestamping authorities' chains, signed timestamps required. A missing TrustRoot is worded
// without any prefix of the controller's own.
func (e *Engine) timestamps(a spol.Authority, check *verify.SignatureCheck) error {
	if a.RFC3161 == nil || a.RFC3161.TrustRootRef == "" {
		return nil
	}
	tr, err := e.trustRoot(a.RFC3161.TrustRootRef)
	if err != nil {
		return err
	}
	check.TSACertChain = strings.Join(tr.TSAChains, "")
	if check.TSACertChain == "" {
		// No authority in the root: cosign then has nothing to check a timestamp against.
		return &verify.ToolError{Err: fmt.Errorf("TrustRoot %s has no timestampAuthorities", tr.Name)}
	}
	return nil
}

// missingRoot is a trustRootRef the webhook's compiled keys lack; none says it has no keys at
// all (sigstoreKeysFromContext's error, which the Fulcio and Rekor paths prefix).
type missingRoot struct {
	name string
	none bool
}

func (m missingRoot) Error() string {
	if m.none {
		return fmt.Sprintf("trustRootRef %s not found, SigstoreKeys missing", m.name)
	}
	return fmt.Sprintf("trustRootRef %s not found", m.name)
}

// viaSigstoreKeys is a trustRoot error as the Fulcio and Rekor paths word it.
func viaSigstoreKeys(err error) error {
	var m missingRoot
	if errors.As(err, &m) && m.none {
		return fmt.Errorf("getting SigstoreKeys: %w", err)
	}
	return err
}

// trustRoot is the TrustRoot an authority names, as the webhook finds it in its compiled
// config-sigstore-keys; one whose material is a TUF root is a tool error here.
func (e *Engine) trustRoot(name string) (*spol.TrustRoot, error) {
	if len(e.TrustRoots) == 0 {
		return nil, missingRoot{name, true}
	}
	tr, ok := e.TrustRoots[name]
	if !ok {
		return nil, missingRoot{name, false}
	}
	if tr.Unsupported != "" {
		return nil, &verify.ToolError{Err: fmt.Errorf("TrustRoot %s: %s is not replayed", name, tr.Unsupported)}
	}
	return tr, nil
}

// wrapVerify words a verification error as the webhook does; a tool-caused one stays a
// *verify.ToolError so that the check says so.
func wrapVerify(prefix string, err error) error {
	var te *verify.ToolError
	if errors.As(err, &te) {
		return &verify.ToolError{Err: fmt.Errorf("%s: %w", prefix, err)}
	}
	return fmt.Errorf("%s: %s", prefix, pinnedWording.Replace(err.Error()))
}

// pinnedWording turns texts of the libraries this module links into those of the versions
// policy-controller v0.15.1 pins, where they differ: timestamp-authority v2.0.4 checks a
// timestamp's signature and chain in one step and words either failure as one (ours, v2.1,
// checks them apart).
var pinnedWording = strings.NewReplacer(
	"error while verifying signature: ", "error while verifying with chain: ",
	"error while verifying signer certificate chain: ", "error while verifying with chain: ",
)
