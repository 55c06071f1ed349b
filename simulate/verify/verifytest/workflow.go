package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Workflow is what Fulcio records about a GitHub Actions run. Each field goes into its
// first-generation extension (1.3.6.1.4.1.57264.1.2 to .6, the value's raw bytes) and, where
// one exists, its current counterpart (1.1.12 to .1.20, a DER UTF8String), as Fulcio writes
// both today.
type Workflow struct {
	Trigger, SHA, Name, Repository, Ref string
	// OmitLegacy leaves the first-generation extensions out, as a Fulcio that no longer wrote
	// them would; engines that read only those then see no workflow at all.
	OmitLegacy bool
}

// Extensions are the workflow's extension values by dotted OID, as IssueWith takes them.
func (w Workflow) Extensions() (map[string]string, error) {
	out := map[string]string{}
	raw := func(oid, v string) {
		if v != "" && !w.OmitLegacy {
			out[oid] = v
		}
	}
	raw("1.3.6.1.4.1.57264.1.2", w.Trigger)
	raw("1.3.6.1.4.1.57264.1.3", w.SHA)
	raw("1.3.6.1.4.1.57264.1.4", w.Name)
	raw("1.3.6.1.4.1.57264.1.5", w.Repository)
	raw("1.3.6.1.4.1.57264.1.6", w.Ref)
	current := map[string]string{
		"1.3.6.1.4.1.57264.1.20": w.Trigger, // build trigger
		"1.3.6.1.4.1.57264.1.13": w.SHA,     // source repository digest
		"1.3.6.1.4.1.57264.1.14": w.Ref,     // source repository ref
	}
	if w.Repository != "" {
		current["1.3.6.1.4.1.57264.1.12"] = "https://github.com/" + w.Repository
		if owner, _, ok := strings.Cut(w.Repository, "/"); ok {
			current["1.3.6.1.4.1.57264.1.16"] = "https://github.com/" + owner
		}
	}
	for oid, v := range current {
		if v == "" {
			continue
		}
		der, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			return nil, err
		}
		out[oid] = string(der)
	}
	return out, nil
}

// Leaf describes a certificate's identity part by part, for tests of how each engine reads an
// identity out of a certificate. It is self-signed: identity matching never looks at the chain.
type Leaf struct {
	// SANs, in this order, each "email:<address>", "uri:<uri>" or "dns:<name>"; none leaves the
	// SAN extension out.
	SANs []string
	// Issuer, when set, goes into both OIDC issuer extensions (1.1.1 raw, 1.1.8 UTF8String).
	Issuer string
	// Workflow, when set, adds its extensions.
	Workflow *Workflow
	// Extensions are further extensions by dotted OID, holding these raw bytes.
	Extensions map[string][]byte
}

// NewLeaf makes the certificate l describes, valid for a day around now.
func NewLeaf(l Leaf) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if len(l.SANs) > 0 {
		// Written by hand because crypto/x509 orders SANs by kind, and the order is under test.
		san, err := marshalSANs(l.SANs)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, san)
	}
	if l.Issuer != "" {
		v2, err := asn1.MarshalWithParams(l.Issuer, "utf8")
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions,
			pkix.Extension{Id: oidIssuerV1, Value: []byte(l.Issuer)}, pkix.Extension{Id: oidIssuerV2, Value: v2})
	}
	exts := map[string][]byte{}
	if l.Workflow != nil {
		w, err := l.Workflow.Extensions()
		if err != nil {
			return nil, err
		}
		for oid, v := range w {
			exts[oid] = []byte(v)
		}
	}
	for oid, v := range l.Extensions {
		exts[oid] = v
	}
	for oid, v := range exts {
		id, err := parseOID(oid)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: id, Value: v})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

func marshalSANs(sans []string) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, s := range sans {
		kind, v, _ := strings.Cut(s, ":")
		tag := map[string]int{"email": 1, "dns": 2, "uri": 6}[kind]
		if tag == 0 {
			return pkix.Extension{}, fmt.Errorf("SAN %q: want an email:, dns: or uri: prefix", s)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: []byte(v)})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSAN, Value: der}, nil
}
