package kubewarden

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"time"
)

// certs are a CA, a leaf it issued (valid now), an expired leaf, and an unrelated CA, as PEM.
type certs struct{ ca, leaf, expired, otherCA string }

var testCerts = sync.OnceValue(func() certs {
	mk := func(cn string, ca bool, from, to time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: to,
			IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, EmailAddresses: []string{cn + "@example.com"}}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			panic(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		return cert, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	now := time.Now()
	caCert, caKey, caPEM := mk("ca", true, now.Add(-48*time.Hour), now.Add(48*time.Hour), nil, nil)
	_, _, leaf := mk("leaf", false, now.Add(-time.Hour), now.Add(time.Hour), caCert, caKey)
	_, _, expired := mk("old", false, now.Add(-3*time.Hour), now.Add(-2*time.Hour), caCert, caKey)
	_, _, other := mk("other", true, now.Add(-time.Hour), now.Add(time.Hour), nil, nil)
	return certs{ca: caPEM, leaf: leaf, expired: expired, otherCA: other}
})
