// Package kwcert is Kubewarden's host check of a verify-image-signatures certificate
// (crypto/v1/is_certificate_trusted), shared by settings validation and verification.
package kwcert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Trusted is the certificate checks Kubewarden makes of a certificates
// entry, at settings validation (the host's is_certificate_trusted) and again for each
// request: it parses, is valid at now, and chains to the chain's certificates when a chain
// is given. The errors are the host's reasons.
func Trusted(certPEM string, chain []string, now time.Time) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil, errors.New("Certificate PEM data is not valid: no PEM block found") //nolint:staticcheck // the host's text
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("Certificate PEM data is not valid: %v", err) //nolint:staticcheck // the host's text
	}
	switch {
	case now.After(cert.NotAfter):
		return nil, errors.New("Certificate is being used after its expiration date") //nolint:staticcheck // the host's text
	case now.Before(cert.NotBefore):
		return nil, errors.New("Certificate is being used before its validity date") //nolint:staticcheck // the host's text
	}
	if len(chain) == 0 {
		return cert, nil
	}
	roots := x509.NewCertPool()
	for _, p := range chain {
		if !roots.AppendCertsFromPEM([]byte(p)) {
			return nil, errors.New("Certificate not trusted: the certificate chain is not PEM") //nolint:staticcheck // the host's text
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, errors.New("Certificate is not trusted by the provided cert chain") //nolint:staticcheck // the host's text
	}
	return cert, nil
}
