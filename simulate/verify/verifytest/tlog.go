package verifytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	jsoncanonicalizer "github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Rekor is a private transparency log's signing key. It makes the Rekor bundle (signed entry
// timestamp over a hashedrekord entry) that `cosign sign` stores with a signature after
// uploading it to rekor.sigstore.dev, so tests can prove a signing time offline.
type Rekor struct {
	key *ecdsa.PrivateKey
	// PublicPEM is the log's public key, what a policy's rekor.pubkey or a trust root holds.
	PublicPEM string
	// LogID is the hex SHA-256 of the key's DER, as Rekor names its log.
	LogID string
	// URL is the log's base URL, recorded in trust roots (nothing listens there).
	URL string
}

// NewRekor makes a log key (ECDSA P-256, as Rekor's).
func NewRekor() (*Rekor, error) {
	key, der, pub, err := newLogKey()
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	return &Rekor{key: key, PublicPEM: pub, LogID: hex.EncodeToString(id[:]), URL: "https://rekor.test.invalid"}, nil
}

// Bundle is the Rekor bundle for a signature of payloadJSON (raw signature bytes) by the
// holder of verifierPEM (a PEM public key or certificate), logged at integrated.
func (r *Rekor) Bundle(payloadJSON, rawSig []byte, verifierPEM string, integrated time.Time) (*bundle.RekorBundle, error) {
	sum := sha256.Sum256(payloadJSON)
	body, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1", "kind": "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{
				"content":   base64.StdEncoding.EncodeToString(rawSig),
				"publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(verifierPEM))},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	pl := bundle.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: integrated.Unix(), LogIndex: 1, LogID: r.LogID}
	raw, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	canonical, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(canonical)
	set, err := ecdsa.SignASN1(rand.Reader, r.key, digest[:])
	if err != nil {
		return nil, err
	}
	return &bundle.RekorBundle{SignedEntryTimestamp: set, Payload: pl}, nil
}

// Signed is one signature made outside the registry: what `cosign attach signature` takes.
type Signed struct {
	Payload []byte
	// Signature is the raw signature; Base64 the same as cosign prints it.
	Signature []byte
	// Bundle, when set, is the Rekor bundle (`--rekor-response`, as cosign's
	// LocalSignedPayload JSON from RekorResponseJSON).
	Bundle *bundle.RekorBundle
	// Timestamp, when set, is the DER RFC 3161 response over Signature (`--tsr`).
	Timestamp []byte
}

// Base64 is the signature as `cosign sign-blob` prints it.
func (s Signed) Base64() string { return base64.StdEncoding.EncodeToString(s.Signature) }

// RekorResponseJSON is the file `cosign attach signature --rekor-response` reads.
func (s Signed) RekorResponseJSON(certPEM string) ([]byte, error) {
	return json.Marshal(map[string]any{"base64Signature": s.Base64(), "cert": certPEM, "rekorBundle": s.Bundle})
}

// Detached says how a signature made outside the registry is made and proven: by Key (with
// its certificate and chain when CertPEM is set), logged in Log at LoggedAt and/or stamped
// by TSA at StampedAt (either may be nil).
type Detached struct {
	Key               *Key
	CertPEM, ChainPEM string
	Log               *Rekor
	LoggedAt          time.Time
	TSA               *TSA
	StampedAt         time.Time
}

// SignDetached signs the image at ref as d says and attaches the signature with its Rekor
// bundle and timestamp, as `cosign sign` with a transparency log and a TSA leaves it.
func SignDetached(ref string, d Detached, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	pl, err := (&payload.Cosign{Image: digest}).MarshalJSON()
	if err != nil {
		return err
	}
	s, err := SignPayload(pl, d)
	if err != nil {
		return err
	}
	var sopts []static.Option
	if d.CertPEM != "" {
		sopts = append(sopts, static.WithCertChain([]byte(d.CertPEM), []byte(d.ChainPEM)))
	}
	if s.Bundle != nil {
		sopts = append(sopts, static.WithBundle(s.Bundle))
	}
	if s.Timestamp != nil {
		sopts = append(sopts, static.WithRFC3161Timestamp(bundle.TimestampToRFC3161Timestamp(s.Timestamp)))
	}
	return attachWith(digest, "", pl, s.Signature, sopts, opts...)
}

// SignPayload signs payloadJSON with d.Key, then logs it (under d.CertPEM, else the key's
// public PEM) and stamps it as d says.
func SignPayload(payloadJSON []byte, d Detached) (Signed, error) {
	raw, err := d.Key.signMessage(payloadJSON)
	if err != nil {
		return Signed{}, err
	}
	s := Signed{Payload: payloadJSON, Signature: raw}
	if d.Log != nil {
		verifier := d.CertPEM
		if verifier == "" {
			verifier = d.Key.PublicPEM
		}
		if s.Bundle, err = d.Log.Bundle(payloadJSON, raw, verifier, d.LoggedAt); err != nil {
			return Signed{}, err
		}
	}
	if d.TSA != nil {
		if s.Timestamp, err = d.TSA.Stamp(raw, d.StampedAt); err != nil {
			return Signed{}, err
		}
	}
	return s, nil
}

// TrustedRootJSON is a Sigstore trusted_root.json declaring ca as the Fulcio CA and the given
// logs as Rekor logs: what `--trusted-root` reads.
func TrustedRootJSON(ca *CA, logs ...*Rekor) ([]byte, error) {
	return TrustedRoot{CA: ca, Logs: logs}.JSON()
}

// TrustedRoot is the material of a test trusted_root.json.
type TrustedRoot struct {
	CA     *CA
	Logs   []*Rekor
	CTLogs []*CTLog
}

// JSON is the trusted_root.json.
func (t TrustedRoot) JSON() ([]byte, error) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var cas []root.CertificateAuthority
	if t.CA != nil {
		cas = append(cas, &root.FulcioCertificateAuthority{Root: t.CA.Cert, ValidityPeriodStart: start, URI: "https://fulcio.test.invalid"})
	}
	logOf := func(url string, pub *ecdsa.PublicKey) (string, *root.TransparencyLog, error) {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", nil, err
		}
		id := sha256.Sum256(der)
		return hex.EncodeToString(id[:]), &root.TransparencyLog{
			BaseURL: url, ID: id[:], ValidityPeriodStart: start, HashFunc: crypto.SHA256,
			PublicKey: pub, SignatureHashFunc: crypto.SHA256,
		}, nil
	}
	tlogs, ctlogs := map[string]*root.TransparencyLog{}, map[string]*root.TransparencyLog{}
	for _, l := range t.Logs {
		id, tl, err := logOf(l.URL, &l.key.PublicKey)
		if err != nil {
			return nil, err
		}
		tlogs[id] = tl
	}
	for _, l := range t.CTLogs {
		id, tl, err := logOf("https://ctfe.test.invalid", &l.key.PublicKey)
		if err != nil {
			return nil, err
		}
		ctlogs[id] = tl
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ctlogs, nil, tlogs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}
