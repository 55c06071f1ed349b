package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Fulcio's certificate extensions for the OIDC issuer (testing.md: the first holds the URL's
// raw bytes, the second a DER UTF8String).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// CA is a private certificate authority standing in for Fulcio.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the root certificate, what a policy's roots or a trust root carries.
	PEM string
}

// NewCA makes a root certificate valid for a day around now.
func NewCA() (*CA, error) {
	return NewCAValid(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// NewCAValid makes a root certificate valid from notBefore to notAfter.
func NewCAValid(notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubectl-verify test CA"},
		NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}, nil
}

// Identity is a leaf certificate for one workload identity, as Fulcio issues it.
type Identity struct {
	Key *Key
	// CertPEM is the leaf; ChainPEM the CA above it.
	CertPEM, ChainPEM string
}

// Issue makes a code-signing leaf for subject (a URI SAN) and OIDC issuer, valid for a day
// around now.
func (ca *CA) Issue(subject, issuer string) (*Identity, error) {
	return ca.IssueValid(subject, issuer, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// IssueValid is Issue with the leaf valid from notBefore to notAfter.
func (ca *CA) IssueValid(subject, issuer string, notBefore, notAfter time.Time) (*Identity, error) {
	return ca.IssueWith(subject, issuer, nil, notBefore, notAfter)
}

// IssueWith is IssueValid with further Fulcio extensions, by dotted OID, each holding its value
// as raw bytes as Fulcio's first-generation extensions (1.3.6.1.4.1.57264.1.2 to .6: GitHub
// workflow trigger, sha, name, repository, ref) do.
func (ca *CA) IssueWith(subject, issuer string, extensions map[string]string, notBefore, notAfter time.Time) (*Identity, error) {
	return ca.IssueWithSCT(subject, issuer, extensions, notBefore, notAfter, nil)
}

// IssueWithSCT is IssueWith with an SCT from log embedded when log is not nil.
func (ca *CA) IssueWithSCT(subject, issuer string, extensions map[string]string, notBefore, notAfter time.Time, log *CTLog) (*Identity, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(subject)
	if err != nil {
		return nil, err
	}
	v2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{u},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(issuer)},
			{Id: oidIssuerV2, Value: v2},
		},
	}
	for oid, value := range extensions {
		id, err := parseOID(oid)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: id, Value: []byte(value)})
	}
	var der []byte
	if log != nil {
		der, err = log.embedSCT(tmpl, ca.Cert, k.Private.Public(), ca.key)
	} else {
		der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Private.Public(), ca.key)
	}
	if err != nil {
		return nil, err
	}
	return &Identity{Key: k, CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), ChainPEM: ca.PEM}, nil
}

// SignWithCertificate attaches a legacy signature made by id's key that carries id's
// certificate and chain, as `cosign sign --key --certificate --certificate-chain` does.
func SignWithCertificate(ref string, id *Identity, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	pl, err := (&payload.Cosign{Image: digest}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, err := id.Key.signMessage(pl)
	if err != nil {
		return err
	}
	return attach(digest, "", pl, raw, id.CertPEM, id.ChainPEM, opts...)
}

// Attach stores an arbitrary signature (payload, raw signature bytes, optional certificate
// and chain) under ref's .sig tag: for tests of what must not verify.
func Attach(ref string, payloadJSON, rawSig []byte, certPEM, chainPEM string, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	return attach(digest, "", payloadJSON, rawSig, certPEM, chainPEM, opts...)
}

func parseOID(dotted string) (asn1.ObjectIdentifier, error) {
	var id asn1.ObjectIdentifier
	for _, part := range strings.Split(dotted, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("OID %q: %w", dotted, err)
		}
		id = append(id, n)
	}
	return id, nil
}
