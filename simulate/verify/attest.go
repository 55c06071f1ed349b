package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// cosignCustomStatement is the statement _type for which Kyverno unwraps cosign's custom
// predicate ({Data: "<json text>", Timestamp}) into a JSON object. cosign writes this URI as
// the predicateType, never as the _type, so the unwrapping is kept exactly as narrow.
const cosignCustomStatement = "https://cosign.sigstore.dev/attestation/v1"

// AttestationCheck is one attestation check of one image: the trust its SignatureCheck names
// (key, certificate or keyless identity; transparency as asked) applied to the image's
// in-toto attestations, DSSE envelopes under the .att tag as `cosign attest` stores them.
type AttestationCheck struct {
	SignatureCheck
	// Type is the predicate type whose attestations must each carry the keyless identity
	// (Kyverno checks identities only on attestations of the type it asks for); "" checks
	// none. Attestations of every type are returned either way.
	Type string
}

// AttestationResult is a passed AttestationCheck.
type AttestationResult struct {
	// Digest is the image digest the attestations were verified against.
	Digest string
	// PayloadDigest is the docker-manifest-digest Kyverno reads from the last attestation's
	// payload as if it were a signature payload. A DSSE envelope has no such field, so this
	// is "" for what `cosign attest` writes, and Kyverno then resolves the digest itself.
	PayloadDigest string
	// Statements are the in-toto statements of every verified attestation, of any predicate
	// type, in layer order, decoded as Kyverno decodes them: the statement as a JSON object
	// (_type, predicateType, subject, predicate) plus "type" = predicateType. Shared by every
	// caller in the run: read only.
	Statements []map[string]any
}

// VerifyAttestations checks the legacy (.att tag) in-toto attestations of c.Image by the key,
// certificate or keyless identity c names, and returns their statements.
func (v *Verifier) VerifyAttestations(ctx context.Context, c AttestationCheck) (AttestationResult, error) {
	return v.attested.Do(ctx, checkKey(c), func() (AttestationResult, error) {
		if !c.diskCacheable() {
			return v.verifyAttestations(ctx, c)
		}
		return diskCached(ctx, v, "attestation", c.Image, c.Auth,
			func(digestRef string) any { k := c; k.Image = digestRef; return k },
			func() (AttestationResult, error) { return v.verifyAttestations(ctx, c) })
	})
}

func (v *Verifier) verifyAttestations(ctx context.Context, c AttestationCheck) (AttestationResult, error) {
	// Kyverno's attestation path builds its cosign options before it parses the image: a
	// policy error wins over an image error.
	co, regOpts, unread, err := v.checkOpts(ctx, c.SignatureCheck, cosign.IntotoSubjectClaimVerifier)
	if err != nil {
		return AttestationResult{}, err
	}
	ref, err := name.ParseReference(c.Image, v.reg.nameOptions(c.Image)...)
	if err != nil {
		return AttestationResult{}, &FailedError{fmt.Errorf("failed to parse image: %w", err)}
	}
	if _, isTag := ref.(name.Tag); isTag {
		d, err := v.resolve(ctx, ref, c.Auth)
		if err != nil {
			return AttestationResult{}, classify(refusedWithout(tagNotFoundCause(err), unread))
		}
		ref = ref.Context().Digest(d)
	}
	co.RegistryClientOpts = regOpts
	atts, _, err := cosign.VerifyImageAttestations(ctx, ref, co)
	if err != nil {
		return AttestationResult{}, classify(refusedWithout(err, unread))
	}
	res, err := decodeAttestations(atts, c)
	if err != nil {
		return AttestationResult{}, &FailedError{err}
	}
	res.Digest = ref.Identifier()
	return res, nil
}

// tagNotFoundCause undoes the "image tag not found" wrapping the shared tag resolution gives
// (cosign's signature path says it; its attestation path returns the registry's error as is).
func tagNotFoundCause(err error) error {
	var u *UnavailableError
	if errors.As(err, &u) && strings.HasPrefix(u.Err.Error(), "image tag not found: ") {
		if cause := errors.Unwrap(u.Err); cause != nil {
			return cause
		}
	}
	return err
}

// decodeAttestations is what Kyverno's FetchAttestations does once cosign has verified: each
// payload must parse, each attestation of the asked type must match the identity, and every
// statement is decoded; the payload digest is the last attestation's.
func decodeAttestations(atts []oci.Signature, c AttestationCheck) (AttestationResult, error) {
	for _, att := range atts {
		pld, err := att.Payload()
		if err != nil {
			return AttestationResult{}, fmt.Errorf("failed to get payload: %w", err)
		}
		var sci payload.SimpleContainerImage
		if err := json.Unmarshal(pld, &sci); err != nil {
			return AttestationResult{}, fmt.Errorf("error decoding the payload: %w", err)
		}
	}
	if c.Type != "" {
		for _, att := range atts {
			st, _, err := decodeStatement(att)
			if err != nil {
				return AttestationResult{}, fmt.Errorf("failed to decode type: %w", err)
			}
			if t, _ := st["type"].(string); t != c.Type {
				continue
			}
			// Unlike signatures, every attestation of the type must match, not just one.
			if err := matchSignatures([]oci.Signature{att}, c.SignatureCheck); err != nil {
				return AttestationResult{}, err
			}
		}
	}
	res := AttestationResult{Statements: make([]map[string]any, 0, len(atts))}
	for _, att := range atts {
		st, d, err := decodeStatement(att)
		if err != nil {
			return AttestationResult{}, err
		}
		res.Statements = append(res.Statements, st)
		res.PayloadDigest = d
	}
	return res, nil
}

// decodeStatement reads one attestation's DSSE envelope into its statement (with Kyverno's
// "type" key) and the payload digest Kyverno looks for there; errors read as Kyverno's.
func decodeStatement(att oci.Signature) (map[string]any, string, error) {
	pld, err := att.Payload()
	if err != nil {
		return nil, "", fmt.Errorf("failed to decode payload: %w", err)
	}
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(pld, &sci); err != nil {
		return nil, "", fmt.Errorf("error decoding the payload: %w", err)
	}
	var envelope map[string]any
	if err := json.Unmarshal(pld, &envelope); err != nil {
		return nil, "", fmt.Errorf("failed to unmarshal JSON payload: %w", err)
	}
	raw, ok := envelope["payload"]
	if !ok {
		return nil, "", fmt.Errorf("missing payload in %v", envelope)
	}
	encoded, ok := raw.(string)
	if !ok {
		// Kyverno's unchecked type assertion panics here; the envelope verified, so cosign
		// read a string payload from it and this cannot happen.
		return nil, "", fmt.Errorf("payload in %v is not a string", envelope)
	}
	st, err := decodeInToto(encoded)
	if err != nil {
		return nil, "", fmt.Errorf("failed to decode statement %s: %w", pld, err)
	}
	st["type"] = st["predicateType"]
	return st, sci.Critical.Image.DockerManifestDigest, nil
}

// inTotoStatement is the in-toto v0.1 statement as in-toto-golang's struct reads it: fields
// beyond these are dropped, absent ones come back empty or null.
type inTotoStatement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []inTotoSubject `json:"subject"`
	Predicate     any             `json:"predicate"`
}

type inTotoSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

func decodeInToto(encoded string) (map[string]any, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("failed to base64 decode payload for %v: %w", raw, err)
	}
	var st inTotoStatement
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	if st.Type == cosignCustomStatement {
		pred, ok := st.Predicate.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("failed to decode CosignCustomProvenanceV01")
		}
		if pred["Data"] == nil {
			return nil, fmt.Errorf("missing predicate in CosignCustomProvenanceV01")
		}
		// Data that is JSON text of an object becomes that object; anything else stays.
		if s, ok := pred["Data"].(string); ok {
			obj := map[string]any{}
			if json.Unmarshal([]byte(s), &obj) == nil {
				pred["Data"] = obj
			}
		}
	}
	round, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(round, &out); err != nil {
		return nil, err
	}
	return out, nil
}
