package verifytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/digitorus/timestamp"
)

// TSA is a private RFC 3161 timestamping authority: a root and a leaf whose extended key
// usage is timeStamping, marked critical as RFC 3161 requires.
type TSA struct {
	Leaf    *x509.Certificate
	leafKey *ecdsa.PrivateKey
	// ChainPEM is the leaf, then the root: what Kyverno's ctlog.tsaCertChain takes.
	ChainPEM string
}

var (
	oidExtKeyUsage   = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidTimestampRule = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}
)

// NewTSA makes a TSA valid from 2020 until a day from now, so that it can stamp past times.
func NewTSA() (*TSA, error) {
	from, to := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubectl-verify test TSA root"},
		NotBefore: from, NotAfter: to, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kubectl-verify test TSA"},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	var chain bytes.Buffer
	for _, der := range [][]byte{leafDER, rootDER} {
		if err := pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			return nil, err
		}
	}
	return &TSA{Leaf: leaf, leafKey: leafKey, ChainPEM: chain.String()}, nil
}

// Stamp is the DER timestamp response over sig at the given time: what `cosign sign
// --timestamp-server-url` stores, and `cosign attach signature --tsr` reads.
func (t *TSA) Stamp(sig []byte, at time.Time) ([]byte, error) {
	reqDER, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	req, err := timestamp.ParseRequest(reqDER)
	if err != nil {
		return nil, err
	}
	ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: at, Policy: oidTimestampRule}
	return ts.CreateResponseWithOpts(t.Leaf, t.leafKey, crypto.SHA256)
}
