package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/in-toto/in-toto-golang/in_toto"
	slsa02 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v0.2"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/cosign/attestation"
)

// InTotoResult is the attestations (legacy .att tag) of an image that verified, as
// policy-controller reads them: each one's payload (the DSSE envelope cosign hands back) and
// digest, in the order cosign returns them. Under SignatureCheck.UnverifiedInTotoReferrers they
// may instead be the unverified referrer attestations, payload {"payload": ...}.
type InTotoResult struct {
	Payloads [][]byte
	Digests  []string
	// Signatures are each one's signature as policy-controller records it.
	Signatures []PolicySignature
}

// VerifyInToto is policy-controller's validAttestations: cosign's VerifyImageAttestations with
// the in-toto subject claim check and nothing of Kyverno's decoding, so that errors read as
// cosign's (e.g. "no matching attestations: ...").
func (v *Verifier) VerifyInToto(ctx context.Context, c SignatureCheck) (InTotoResult, error) {
	return v.intoto.Do(ctx, checkKey(c), func() (InTotoResult, error) {
		// Unverified referrers are not a verification, and which ones exist changes as
		// they are pushed: never kept on disk.
		if !c.diskCacheable() || c.UnverifiedInTotoReferrers {
			return v.verifyInToto(ctx, c)
		}
		return diskCached(ctx, v, "intoto", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (InTotoResult, error) { return v.verifyInToto(ctx, c) })
	})
}

func (v *Verifier) verifyInToto(ctx context.Context, c SignatureCheck) (InTotoResult, error) {
	co, regOpts, unread, err := v.checkOpts(ctx, c, cosign.IntotoSubjectClaimVerifier)
	if err != nil {
		return InTotoResult{}, err
	}
	ref, err := name.ParseReference(c.Image, v.reg.nameOptions(c.Image)...)
	if err != nil {
		return InTotoResult{}, &FailedError{fmt.Errorf("failed to parse image: %w", err)}
	}
	co.RegistryClientOpts = regOpts
	atts := v.unverifiedInTotoReferrers(ctx, c, ref, regOpts)
	if atts == nil {
		if atts, _, err = cosign.VerifyImageAttestations(ctx, ref, co); err != nil {
			return InTotoResult{}, classify(refusedWithout(err, unread))
		}
	}
	var res InTotoResult
	for _, att := range atts {
		p, err := att.Payload()
		if err != nil {
			continue
		}
		d, err := att.Digest()
		if err != nil {
			// policy-controller skips an attestation whose digest it cannot read.
			continue
		}
		ps, _ := policySignature(att)
		res.Payloads = append(res.Payloads, p)
		res.Digests = append(res.Digests, d.String())
		res.Signatures = append(res.Signatures, ps)
	}
	return res, nil
}

// predicateURIs is cosign's PredicateTypeMap (cmd/cosign/cli/options, not linked here): the
// short names an attestation's predicateType may use.
var predicateURIs = map[string]string{
	"custom":           attestation.CosignCustomProvenanceV01,
	"slsaprovenance":   slsa02.PredicateSLSAProvenance,
	"slsaprovenance02": slsa02.PredicateSLSAProvenance,
	"slsaprovenance1":  slsa1.PredicateSLSAProvenance,
	"spdx":             in_toto.PredicateSPDX,
	"spdxjson":         in_toto.PredicateSPDX,
	"cyclonedx":        in_toto.PredicateCycloneDX,
	"link":             in_toto.PredicateLinkV1,
	"vuln":             attestation.CosignVulnProvenanceV01,
	"openvex":          attestation.OpenVexNamespace,
}

// InTotoStatement is cosign's AttestationToPayloadJSON (pkg/policy) as policy-controller
// calls it: the in-toto statement of one verified attestation as JSON, decoded into the
// statement type of predicateType's short name when it has one (fields that type lacks are
// dropped), and the statement's predicate type. A nil statement with no error means the
// attestation is of another type. Its error texts are cosign's.
func InTotoStatement(predicateType string, payload []byte) ([]byte, string, error) {
	if predicateType == "" {
		return nil, "", errors.New("missing predicate type")
	}
	uri, ok := predicateURIs[predicateType]
	if !ok {
		uri = predicateType
	}
	var envelope map[string]any
	if err := json.Unmarshal(payload, &envelope); err != nil {
		return nil, "", errors.New("unmarshaling payload data")
	}
	val, ok := envelope["payload"]
	if !ok {
		return nil, "", errors.New("could not find payload in payload data")
	}
	encoded, ok := val.(string)
	if !ok {
		return nil, "", fmt.Errorf("invalid payload: payload field is not a string (got %T)", val)
	}
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, "", fmt.Errorf("decoding payload: %w", err)
	}
	// The deprecated type on purpose: cosign decodes into it, and its JSON is what policies see.
	var statement in_toto.Statement //nolint:staticcheck // SA1019, see above
	if err := json.Unmarshal(decoded, &statement); err != nil {
		return nil, "", fmt.Errorf("unmarshal in-toto statement: %w", err)
	}
	if statement.PredicateType != uri {
		return nil, statement.PredicateType, nil
	}
	// Through the short name's statement type, as cosign does (its unmarshaling message for
	// SLSA v0.2 has a stray parenthesis).
	retype := func(into any, unmarshaling, marshaling string) ([]byte, string, error) {
		if err := json.Unmarshal(decoded, into); err != nil {
			return nil, statement.PredicateType, fmt.Errorf("unmarshaling %s: %w", unmarshaling, err)
		}
		out, err := json.Marshal(into)
		if err != nil {
			return nil, statement.PredicateType, fmt.Errorf("marshaling %s: %w", marshaling, err)
		}
		return out, statement.PredicateType, nil
	}
	switch predicateType {
	case "link":
		return retype(&in_toto.LinkStatement{}, "LinkStatement", "LinkStatement")
	case "slsaprovenance":
		return retype(&in_toto.ProvenanceStatementSLSA02{}, "ProvenanceStatementSLSA02)", "ProvenanceStatementSLSA02")
	case "spdx", "spdxjson":
		return retype(&in_toto.SPDXStatement{}, "SPDXStatement", "SPDXStatement")
	case "cyclonedx":
		return retype(&in_toto.CycloneDXStatement{}, "CycloneDXStatement", "CycloneDXStatement")
	case "vuln":
		return retype(&attestation.CosignVulnStatement{}, "CosignVulnStatement", "CosignVulnStatement")
	}
	out, err := json.Marshal(statement)
	if err != nil {
		what := "Statement"
		if predicateType == "custom" {
			what = "CosignStatement"
		}
		return nil, statement.PredicateType, fmt.Errorf("generating %s: %w", what, err)
	}
	return out, statement.PredicateType, nil
}
