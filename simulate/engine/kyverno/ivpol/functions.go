package ivpol

import (
	"context"
	"fmt"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// evalState is one evaluation of one compiled policy: what the verification functions reach.
type evalState struct {
	ctx  context.Context
	e    *Engine
	c    *compiled
	ev   *evidence
	ic   *imageContext
	auth verify.Auth
	// payloads are the in-toto statements verifyAttestationSignatures verified, by image and
	// attestation name, for extractPayload.
	payloads map[string]map[string]any
	// notReplayed is set when the policy asked for what this tool cannot replay: the result
	// is then a tool error, never a verdict.
	notReplayed string
}

// evidence is Kyverno's request-scoped ImageVerificationResults (spec/kyverno.md §8,
// docs/ivpol-research.md §4.3): which image strings a verification function checked, and
// whether one passed. Shared by the policies one webhook call (or one `kyverno apply`
// resource) evaluates.
type evidence struct {
	verified, attempted map[string]bool
}

func newEvidence() *evidence {
	return &evidence{verified: map[string]bool{}, attempted: map[string]bool{}}
}

func (ev *evidence) record(image string, ok bool) {
	ev.attempted[image] = true
	ev.verified[image] = ev.verified[image] || ok
}

func stringArg(v ref.Val) (string, ref.Val) {
	s, ok := v.(types.String)
	if !ok {
		return "", types.NewErr("type conversion error from '%s' to 'string'", v.Type().TypeName())
	}
	return string(s), nil
}

func (st *evalState) notReplayedErr(what string) ref.Val {
	if st.notReplayed == "" {
		st.notReplayed = what
	}
	return types.NewErr("%s%s", report.ToolErrorPrefix, what)
}

// verifying is what both verification functions do before any attestor: read the attestors,
// answer 0 for an image matchImageReferences do not select, and fetch the image (a registry
// fault is the expression's error). done, when not nil, is the function's answer.
func (st *evalState) verifying(image string, attestorsV ref.Val) (attestors []*attestorVal, done ref.Val) {
	attestors, err := attestorsOf(attestorsV)
	if err != nil {
		return nil, types.WrapErr(err)
	}
	if ok, err := st.c.selects(st.ctx, image); err != nil {
		return nil, types.WrapErr(err)
	} else if !ok {
		return nil, types.Int(0)
	}
	if _, err := st.ic.get(st.ctx, st.e.Verifier, image, st.auth); err != nil {
		return nil, types.NewErr("failed to get imagedata: %v", err)
	}
	return attestors, nil
}

// verifyImageSignatures counts the attestors that verify image (impl.go
// verify_image_signature_string_stringarray): 0 without registry access for an image the
// policy's matchImageReferences do not select; every attestor tried; a failure's reason only
// logged, so unsigned and signed-by-another-key read the same.
func (st *evalState) verifyImageSignatures(imageV, attestorsV ref.Val) ref.Val {
	image, bad := stringArg(imageV)
	if bad != nil {
		return bad
	}
	attestors, done := st.verifying(image, attestorsV)
	if done != nil {
		return done
	}
	count := 0
	for _, a := range attestors {
		if a.a.Cosign == nil {
			continue
		}
		c, why := st.signatureCheck(a, image)
		if why != "" {
			return st.notReplayedErr(why)
		}
		ok, why := st.verifySignature(a, c)
		if why != "" {
			return st.notReplayedErr(why)
		}
		if ok {
			count++
		}
	}
	if len(attestors) > 0 {
		st.ev.record(image, count > 0)
	}
	return types.Int(count)
}

// imageAttestation reads the image and attestation arguments: the attestation must be one
// of the policy's.
func (st *evalState) imageAttestation(imageV, attestationV ref.Val) (string, *ivpol.Attestation, ref.Val) {
	image, bad := stringArg(imageV)
	if bad != nil {
		return "", nil, bad
	}
	name, bad := stringArg(attestationV)
	if bad != nil {
		return "", nil, bad
	}
	att := st.c.attestation(name)
	if att == nil {
		return "", nil, types.NewErr("attestation not found in policy: %s", name)
	}
	return image, att, nil
}

// verifySignature is one cosign attestor's signature check (verifier.go VerifyImageSignature):
// where cosign finds Sigstore bundles (cosign v3's default format) only those are verified,
// else the legacy .sig signatures. why names what is not replayed.
func (st *evalState) verifySignature(a *attestorVal, c verify.SignatureCheck) (ok bool, why string) {
	if !st.e.Verifier.HasBundles(st.ctx, c.Image, c.Repository, st.auth) {
		_, err := st.e.Verifier.VerifySignature(st.ctx, c)
		return err == nil, ""
	}
	if c.Repository != "" || c.TagPrefix != "" || c.Certificate != "" || c.CertificateChain != "" {
		return false, "attestor " + a.a.Name + ": Sigstore bundles in a signature repository, or by a certificate, are not verified by kubectl-verify"
	}
	b := verify.BundleCheck{Image: c.Image, PublicKey: c.PublicKey, HashAlgorithm: c.HashAlgorithm, Tlog: c.Tlog, SCT: c.SCT, Auth: c.Auth}
	if !c.Keyless {
		_, err := st.e.Verifier.VerifyBundles(st.ctx, b)
		return err == nil, ""
	}
	for _, id := range c.Identities {
		b.Subject, b.SubjectRegExp, b.Issuer, b.IssuerRegExp = id.Subject, id.SubjectRegExp, id.Issuer, id.IssuerRegExp
		if _, err := st.e.Verifier.VerifyBundles(st.ctx, b); err == nil {
			return true, ""
		}
	}
	return false, ""
}

// verifyAttestationSignatures counts the attestors whose in-toto attestation of the named
// attestation's type verifies (impl.go verify_image_attestations_string_string_stringarray);
// the statement is kept for extractPayload.
func (st *evalState) verifyAttestationSignatures(imageV, attestationV, attestorsV ref.Val) ref.Val {
	image, att, bad := st.imageAttestation(imageV, attestationV)
	if bad != nil {
		return bad
	}
	attestors, done := st.verifying(image, attestorsV)
	if done != nil {
		return done
	}
	count := 0
	for _, a := range attestors {
		// The cosign verifier takes in-toto attestations only; a referrer one is a logged
		// failure (verifier.go "cosgin verifier only supports intoto referrers").
		if a.a.Cosign == nil || att.InToto == nil {
			continue
		}
		c, why := st.signatureCheck(a, image)
		if why != "" {
			return st.notReplayedErr(why)
		}
		if st.e.Verifier.HasBundles(st.ctx, image, c.Repository, st.auth) {
			return st.notReplayedErr("attestor " + a.a.Name + ": attestations in Sigstore bundles are not verified by kubectl-verify for ImageValidatingPolicies")
		}
		// Unlike signatures, an attestation passes only with cosign's bundle verified
		// (verifier.go VerifyAttestationSignature: "cosign bundle verification failed"):
		// insecureIgnoreTlog skips the bundle, so nothing ever verifies.
		if !c.Tlog {
			continue
		}
		res, err := st.e.Verifier.VerifyAttestations(st.ctx, verify.AttestationCheck{SignatureCheck: c, Type: att.InToto.Type})
		if err != nil {
			continue
		}
		for _, s := range res.Statements {
			if pt, _ := s["predicateType"].(string); pt == att.InToto.Type {
				st.payloads[image+"\x00"+att.Name] = statement(s)
				count++
				break
			}
		}
	}
	if len(attestors) > 0 {
		st.ev.record(image, count > 0)
	}
	return types.Int(count)
}

// statement is the in-toto statement as extractPayload gives it: the verifier's decoding
// adds "type" for ClusterPolicy conditions, which the statement itself does not carry.
func statement(s map[string]any) map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		if k != "type" {
			out[k] = v
		}
	}
	return out
}

// extractPayload is the statement a verifyAttestationSignatures call of this evaluation
// verified (impl.go payload_string_string).
func (st *evalState) extractPayload(imageV, attestationV ref.Val) ref.Val {
	image, att, bad := st.imageAttestation(imageV, attestationV)
	if bad != nil {
		return bad
	}
	if _, err := st.ic.get(st.ctx, st.e.Verifier, image, st.auth); err != nil {
		return types.NewErr("failed to get imagedata: %v", err)
	}
	if att.InToto == nil {
		return st.notReplayedErr("attestation " + att.Name + ": referrer payloads are not read by kubectl-verify")
	}
	s, ok := st.payloads[image+"\x00"+att.Name]
	if !ok {
		return types.NewErr("failed to get payload: intoto attestation payload cannot be fetch before verifying intoto attestation")
	}
	return types.DefaultTypeAdapter.NativeToValue(s)
}

// getImageData is the image's reference parts and digest (impl.go get_image_data_string);
// the manifest and config fields Kyverno also gives are not read.
func (st *evalState) getImageData(imageV ref.Val) ref.Val {
	image, bad := stringArg(imageV)
	if bad != nil {
		return bad
	}
	digest, err := st.ic.get(st.ctx, st.e.Verifier, image, st.auth)
	if err != nil {
		return types.NewErr("failed to get imagedata: %v", err)
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return types.NewErr("failed to get imagedata: %v", err)
	}
	data := map[string]any{
		"image":         image,
		"resolvedImage": ref.Context().Name() + "@" + digest,
		"registry":      ref.Context().RegistryStr(),
		"repository":    ref.Context().RepositoryStr(),
		"identifier":    ref.Identifier(),
		"digest":        digest,
	}
	if t, ok := ref.(name.Tag); ok {
		data["tag"] = t.TagStr()
	}
	return types.DefaultTypeAdapter.NativeToValue(data)
}

// signatureCheck is the verify package's question for a cosign attestor (Kyverno's
// checkOptions, pkg/image/verifiers/ivpol/cosign/opts.go): key, else certificate, else
// keyless; the transparency log unless ctlog.insecureIgnoreTlog; SCTs for keyless unless
// insecureIgnoreSCT. why names what of the attestor this tool does not replay (what Parse
// lists as not replayed never gets here: annotations, TUF, other KMS keys, notary).
func (st *evalState) signatureCheck(a *attestorVal, image string) (c verify.SignatureCheck, why string) {
	co := a.a.Cosign
	c = verify.SignatureCheck{Image: image, Auth: st.auth}
	switch {
	case co.Key != nil:
		c.PublicKey, c.HashAlgorithm = a.key, co.Key.HashAlgorithm
		if c.PublicKey == "" {
			// Only k8s:// references get here: other KMS keys are not replayed (Parse).
			c.PublicKey = co.Key.KMS
		}
	case co.Certificate != nil:
		c.Certificate, c.CertificateChain = a.cert, a.certChain
	case co.Keyless != nil:
		c.Keyless, c.Roots = true, co.Keyless.Roots
		for _, id := range co.Keyless.Identities {
			c.Identities = append(c.Identities, verify.Identity{Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
		}
	default:
		return c, fmt.Sprintf("attestor %s: a cosign attestor with neither key, certificate nor keyless", a.a.Name)
	}
	if s := co.Source; s != nil {
		c.Repository, c.TagPrefix = s.Repository, s.TagPrefix
	}
	log := co.CTLog
	if log == nil {
		log = &ivpol.CTLog{}
	}
	c.Tlog = !log.InsecureIgnoreTlog
	c.RekorURL, c.RekorPubKey = log.URL, log.RekorPubKey
	c.SCT = co.Keyless != nil && !log.InsecureIgnoreSCT
	c.CTLogPubKey, c.TSACertChain = log.CTLogPubKey, log.TSACertChain
	return c, ""
}
