package verifytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
)

// In-toto and DSSE names cosign writes (pkg/types, in-toto-golang).
const (
	// InTotoPayloadType is the DSSE payloadType of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// DSSEMediaType is the media type of an attestation layer.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// StatementV01 is the statement _type cosign attest writes.
	StatementV01 = "https://in-toto.io/Statement/v0.1"
	// CustomPredicateType is what `--type custom` (cosign's default) stands for.
	CustomPredicateType = "https://cosign.sigstore.dev/attestation/v1"
)

// predicateTypes are the short names `cosign attest --type` accepts; anything else must be a URI.
var predicateTypes = map[string]string{
	"custom":           CustomPredicateType,
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1":  "https://slsa.dev/provenance/v1",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"link":             "https://in-toto.io/Link/v1",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
}

// PredicateTypeURI is the predicateType `cosign attest --type t` writes: t's URI for one of
// cosign's short names, t itself for a URI.
func PredicateTypeURI(t string) (string, error) {
	if uri, ok := predicateTypes[t]; ok {
		return uri, nil
	}
	if !strings.Contains(t, "://") {
		return "", fmt.Errorf("invalid predicate type: %s", t)
	}
	return t, nil
}

// Statement is the in-toto statement `cosign attest --type t --predicate p` makes for the
// image at digest: subject = the repository and its sha256, predicate = p's JSON object, or
// for `custom` p's text wrapped as {Data, Timestamp}. cosign re-encodes SLSA predicates
// through their protobuf types (dropping unknown fields); this keeps p as given.
func Statement(digest name.Digest, predicateType string, predicate []byte) ([]byte, error) {
	uri, err := PredicateTypeURI(predicateType)
	if err != nil {
		return nil, err
	}
	var pred any
	if uri == CustomPredicateType {
		pred = map[string]any{"Data": string(predicate), "Timestamp": time.Now().UTC().Format(time.RFC3339)}
	} else {
		var obj map[string]any
		if err := json.Unmarshal(predicate, &obj); err != nil {
			return nil, fmt.Errorf("invalid JSON payload for predicate type %s: %w", uri, err)
		}
		pred = obj
	}
	return json.Marshal(map[string]any{
		"_type":         StatementV01,
		"predicateType": uri,
		"subject": []any{map[string]any{
			"name":   digest.Repository.String(),
			"digest": map[string]string{"sha256": strings.TrimPrefix(digest.DigestStr(), "sha256:")},
		}},
		"predicate": pred,
	})
}

// Attest attaches an in-toto attestation by key to the image at ref (resolved to its digest),
// as `cosign attest --key --type predicateType --predicate file --tlog-upload=false
// --new-bundle-format=false` stores one: a DSSE envelope layer under the sha256-<digest>.att
// tag, next to the attestations already there.
func Attest(ref string, key *Key, predicateType string, predicate []byte, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	st, err := Statement(digest, predicateType, predicate)
	if err != nil {
		return err
	}
	return AttestStatement(ref, key, st, "", "", opts...)
}

// AttestWithCertificate is Attest by an identity: the envelope is signed by id's key and the
// layer carries id's certificate and chain (`cosign attest --key --certificate
// --certificate-chain`).
func AttestWithCertificate(ref string, id *Identity, predicateType string, predicate []byte, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	st, err := Statement(digest, predicateType, predicate)
	if err != nil {
		return err
	}
	return AttestStatement(ref, id.Key, st, id.CertPEM, id.ChainPEM, opts...)
}

// AttestStatement attaches an arbitrary statement (any subject, any predicate type) signed by
// key under ref's .att tag, with an optional certificate and chain: for tests of what must
// not verify.
func AttestStatement(ref string, key *Key, statement []byte, certPEM, chainPEM string, opts ...remote.Option) error {
	digest, predicateType, err := statementTarget(ref, statement, opts...)
	if err != nil {
		return err
	}
	envelope, err := SignEnvelope(key, InTotoPayloadType, statement)
	if err != nil {
		return err
	}
	sopts := []static.Option{
		static.WithLayerMediaType(DSSEMediaType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType}),
	}
	if certPEM != "" {
		sopts = append(sopts, static.WithCertChain([]byte(certPEM), []byte(chainPEM)))
	}
	att, err := static.NewAttestation(envelope, sopts...)
	if err != nil {
		return err
	}
	ro := []ociremote.Option{ociremote.WithRemoteOptions(opts...)}
	// SignedUnknown reads the attestations already stored, so this one is appended to them.
	se := ociremote.SignedUnknown(digest, ro...)
	attested, err := mutate.AttachAttestationToEntity(se, att)
	if err != nil {
		return err
	}
	if err := ociremote.WriteAttestations(digest.Repository, attested, ro...); err != nil {
		return fmt.Errorf("writing attestation for %s: %w", ref, err)
	}
	return nil
}

// SignEnvelope is a DSSE envelope over payload: one signature by key over the pre-auth
// encoding of payloadType and payload, as cosign's DSSE signer makes it.
func SignEnvelope(key *Key, payloadType string, payload []byte) ([]byte, error) {
	sig, err := key.signMessage(PAE(payloadType, payload))
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"payloadType": payloadType,
		"signatures":  []any{map[string]string{"sig": base64.StdEncoding.EncodeToString(sig)}},
	})
}

// PAE is DSSE's pre-authentication encoding: "DSSEv1 <len type> <type> <len body> <body>".
func PAE(payloadType string, payload []byte) []byte {
	return append([]byte(fmt.Sprintf("DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))), payload...)
}

// statementTarget is what attaching a statement to ref needs: ref's digest, and the
// statement's predicate type (for the layer's annotation).
func statementTarget(ref string, statement []byte, opts ...remote.Option) (name.Digest, string, error) {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return name.Digest{}, "", err
	}
	var head struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(statement, &head); err != nil {
		return name.Digest{}, "", fmt.Errorf("statement: %w", err)
	}
	return digest, head.PredicateType, nil
}
