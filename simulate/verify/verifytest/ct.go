package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// CTLog is a private certificate-transparency log's signing key: it issues the SCTs Fulcio
// embeds in its certificates.
type CTLog struct {
	key *ecdsa.PrivateKey
	// PublicPEM is what a policy's ctlog.pubkey or a trust root holds.
	PublicPEM string
}

// NewCTLog makes a log key (ECDSA P-256).
func NewCTLog() (*CTLog, error) {
	key, _, pub, err := newLogKey()
	if err != nil {
		return nil, err
	}
	return &CTLog{key: key, PublicPEM: pub}, nil
}

// newLogKey is a transparency log's ECDSA P-256 key, its public DER and PEM.
func newLogKey() (*ecdsa.PrivateKey, []byte, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, "", err
	}
	return key, der, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// embedSCT issues the certificate tmpl describes with an SCT from l embedded, as Fulcio does:
// the log signs the certificate's TBS without the SCT list (what a verifier rebuilds), and the
// list goes in as the last extension. Issuing the same template twice keeps every other byte
// of the TBS equal.
func (l *CTLog) embedSCT(tmpl *x509.Certificate, issuer *x509.Certificate, pub any, issuerKey *ecdsa.PrivateKey) ([]byte, error) {
	bare, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, issuerKey)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParseCertificate(bare)
	if err != nil {
		return nil, err
	}
	// The precertificate entry a verifier rebuilds from the final certificate: its TBS without
	// the SCT list, and the issuer's key hash.
	ts := uint64(time.Now().UnixMilli())
	leaf := &ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType, TimestampedEntry: &ct.TimestampedEntry{
		Timestamp: ts, EntryType: ct.PrecertLogEntryType,
		PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(issuer.RawSubjectPublicKeyInfo), TBSCertificate: parsed.RawTBSCertificate},
	}}
	der, err := x509.MarshalPKIXPublicKey(&l.key.PublicKey)
	if err != nil {
		return nil, err
	}
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: sha256.Sum256(der)}, Timestamp: ts}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, l.key, digest[:])
	if err != nil {
		return nil, err
	}
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: sig}
	one, err := cttls.Marshal(sct)
	if err != nil {
		return nil, err
	}
	list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: one}}})
	if err != nil {
		return nil, err
	}
	value, err := asn1.Marshal(list)
	if err != nil {
		return nil, err
	}
	withSCT := *tmpl
	withSCT.ExtraExtensions = append(append([]pkix.Extension{}, tmpl.ExtraExtensions...), pkix.Extension{Id: oidSCTList, Value: value})
	return x509.CreateCertificate(rand.Reader, &withSCT, issuer, pub, issuerKey)
}
