package verifytest

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/cosign/v3/pkg/oci/empty"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
)

// AttestReferrer attaches an in-toto attestation by key to the image at ref as cosign's
// library function ociremote.WriteAttestationsReferrer (cosign v3.1.3) stores one: an OCI 1.1
// referrer of the image, artifactType InTotoPayloadType over an empty config, whose one layer
// is the DSSE envelope (with its predicateType annotation), and no .att tag. The envelope is
// the one Attest makes. The cosign CLI v3.1.3 does not write this; policy-controller's
// enable-oci11 reads it.
func AttestReferrer(ref string, key *Key, predicateType string, predicate []byte, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	st, err := Statement(digest, predicateType, predicate)
	if err != nil {
		return err
	}
	return AttestStatementReferrer(ref, key, st, opts...)
}

// AttestStatementReferrer is AttestReferrer for an arbitrary statement; a nil key makes an
// envelope with no signatures at all.
func AttestStatementReferrer(ref string, key *Key, statement []byte, opts ...remote.Option) error {
	digest, predicateType, err := statementTarget(ref, statement, opts...)
	if err != nil {
		return err
	}
	var envelope []byte
	if key != nil {
		envelope, err = SignEnvelope(key, InTotoPayloadType, statement)
	} else {
		envelope, err = unsignedEnvelope(statement)
	}
	if err != nil {
		return err
	}
	att, err := static.NewAttestation(envelope,
		static.WithLayerMediaType(DSSEMediaType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType}))
	if err != nil {
		return err
	}
	// Only this attestation: not the ones under the .att tag, which cosign's SignedEntity
	// for the image would add.
	attested, err := mutate.AttachAttestationToEntity(bareEntity{digest: digest.DigestStr()}, att)
	if err != nil {
		return err
	}
	if err := ociremote.WriteAttestationsReferrer(digest, attested, ociremote.WithRemoteOptions(opts...)); err != nil {
		return fmt.Errorf("writing referrer attestation for %s: %w", ref, err)
	}
	return nil
}

// unsignedEnvelope is a DSSE envelope over an in-toto statement with an empty signature list.
func unsignedEnvelope(statement []byte) ([]byte, error) {
	return json.Marshal(map[string]any{
		"payload":     statement, // []byte marshals as base64, as DSSE wants
		"payloadType": InTotoPayloadType,
		"signatures":  []any{},
	})
}

// bareEntity is an image with nothing attached yet.
type bareEntity struct{ digest string }

func (b bareEntity) Digest() (v1.Hash, error)            { return v1.NewHash(b.digest) }
func (bareEntity) Signatures() (oci.Signatures, error)   { return empty.Signatures(), nil }
func (bareEntity) Attestations() (oci.Signatures, error) { return empty.Signatures(), nil }
func (bareEntity) Attachment(name string) (oci.File, error) {
	return nil, fmt.Errorf("no attachment %s", name)
}
