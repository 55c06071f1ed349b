package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/tuf"

	rekorclient "github.com/sigstore/rekor/pkg/client"
)

// TrustRoot is trust material the user gives the run (`--trusted-root trusted_root.json`). It
// stands in for what the engines fetch from the public Sigstore TUF repository when a policy
// does not carry its own: Fulcio roots, Rekor and CT-log keys, timestamping authorities. The
// engines then verify exactly as with TUF-provided material.
type TrustRoot struct {
	// FulcioPEM holds every certificate of every Fulcio CA chain, as a roots PEM.
	FulcioPEM string
	// RekorKeysPEM and CTLogKeysPEM hold the logs' public keys, one PEM block each.
	RekorKeysPEM, CTLogKeysPEM []string
	// material is the whole root, for Sigstore bundle verification.
	material root.TrustedMaterial
	// sum is the sha256 of the trusted_root.json the root was parsed from, for disk-cache
	// keys: the parsed material cannot be printed, and the PEM fields miss parts of it.
	sum string
}

// LoadTrustRoot reads a Sigstore trusted_root.json.
func LoadTrustRoot(path string) (*TrustRoot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tr, err := ParseTrustRoot(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// ParseTrustRoot parses the JSON of a Sigstore trusted_root.json.
func ParseTrustRoot(raw []byte) (*TrustRoot, error) {
	parsed, err := root.NewTrustedRootFromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("not a Sigstore trusted root: %w", err)
	}
	sum := sha256.Sum256(raw)
	out := &TrustRoot{material: parsed, sum: hex.EncodeToString(sum[:])}
	var fulcio bytes.Buffer
	for _, ca := range parsed.FulcioCertificateAuthorities() {
		fca, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			continue
		}
		for _, c := range append(append([]*x509.Certificate{}, fca.Intermediates...), fca.Root) {
			if c != nil {
				_ = pem.Encode(&fulcio, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
		}
	}
	out.FulcioPEM = fulcio.String()
	for _, logs := range []struct {
		from map[string]*root.TransparencyLog
		to   *[]string
	}{{parsed.RekorLogs(), &out.RekorKeysPEM}, {parsed.CTLogs(), &out.CTLogKeysPEM}} {
		for _, l := range logs.from {
			p, err := cryptoutils.MarshalPublicKeyToPEM(l.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("log %s: %w", l.BaseURL, err)
			}
			*logs.to = append(*logs.to, string(p))
		}
	}
	return out, nil
}

// errNeedsPublicTrust is the ToolError for material an engine would fetch over TUF.
func errNeedsPublicTrust(what string) error {
	return &ToolError{fmt.Errorf("%s come from the public Sigstore TUF repository, which this run does not fetch: give --trusted-root", what)}
}

// transparency sets the transparency-log, SCT and timestamp checks as Kyverno's
// buildCosignOptions does, with its texts; keys the policy does not give come from the run's
// trust root in place of TUF.
func (v *Verifier) transparency(c SignatureCheck, co *cosign.CheckOpts) error {
	co.IgnoreTlog = !c.Tlog
	if c.Tlog {
		rc, err := rekorclient.GetRekorClient(c.RekorURL)
		if err != nil {
			return &FailedError{fmt.Errorf("failed to create Rekor client from URL %s: %w", c.RekorURL, err)}
		}
		co.RekorClient = rc
		keys, err := v.logKeys(c.RekorPubKey, func(t *TrustRoot) []string { return t.RekorKeysPEM })
		if err != nil {
			if errors.Is(err, errNoTrust) {
				return errNeedsPublicTrust("Rekor public keys")
			}
			return &FailedError{fmt.Errorf("failed to load Rekor public keys: failed to get rekor public keys: %w", err)}
		}
		co.RekorPubKeys = keys
	}
	co.IgnoreSCT = !c.SCT
	if c.SCT {
		keys, err := v.logKeys(c.CTLogPubKey, func(t *TrustRoot) []string { return t.CTLogKeysPEM })
		if err != nil {
			if errors.Is(err, errNoTrust) {
				return errNeedsPublicTrust("CT-log public keys")
			}
			return &FailedError{fmt.Errorf("failed to load CTLogs public keys: failed to get transparency log public keys: %w", err)}
		}
		co.CTLogPubKeys = keys
	}
	if c.TSACertChain != "" {
		return tsaChain(c.TSACertChain, co)
	}
	return nil
}

var errNoTrust = errors.New("no trust root")

// logKeys is the policy's key when it gives one, else every key of that kind in the trust root.
func (v *Verifier) logKeys(policyKey string, fromRoot func(*TrustRoot) []string) (*cosign.TrustedTransparencyLogPubKeys, error) {
	keys := cosign.NewTrustedTransparencyLogPubKeys()
	if policyKey != "" {
		if err := keys.AddTransparencyLogPubKey([]byte(policyKey), tuf.Active); err != nil {
			return nil, err
		}
		return &keys, nil
	}
	if v.Trust == nil {
		return nil, errNoTrust
	}
	for _, k := range fromRoot(v.Trust) {
		if err := keys.AddTransparencyLogPubKey([]byte(k), tuf.Active); err != nil {
			return nil, err
		}
	}
	return &keys, nil
}

// maxIntermediates bounds user-given chains before they are parsed (Kyverno's guard against
// chain-building blow-up).
const maxIntermediates = 10

// tsaChain takes Kyverno's ctlog.tsaCertChain: leaf (not a CA), intermediates (CAs not
// self-signed) and roots, and turns signed timestamps on.
func tsaChain(chainPEM string, co *cosign.CheckOpts) error {
	if n := bytes.Count([]byte(chainPEM), []byte("-----BEGIN CERTIFICATE-----")); n > maxIntermediates+2 {
		return &FailedError{fmt.Errorf("TSA certificate chain contains too many certificates (%d), maximum allowed is %d", n, maxIntermediates+2)}
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(chainPEM))
	if err != nil {
		return &FailedError{fmt.Errorf("error splitting tsa certificates: %w", err)}
	}
	var leaves []*x509.Certificate
	for _, c := range certs {
		switch {
		case !c.IsCA:
			leaves = append(leaves, c)
		case bytes.Equal(c.RawSubject, c.RawIssuer):
			co.TSARootCertificates = append(co.TSARootCertificates, c)
		default:
			// Kyverno relaxes cosign's EKU rule for intermediates that carry none.
			if len(c.ExtKeyUsage) == 0 {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
			}
			co.TSAIntermediateCertificates = append(co.TSAIntermediateCertificates, c)
		}
	}
	if len(leaves) > 1 {
		return &FailedError{fmt.Errorf("certificate chain must contain at most one TSA certificate")}
	}
	if len(co.TSAIntermediateCertificates) > maxIntermediates {
		return &FailedError{fmt.Errorf("TSA certificate chain contains too many intermediate certificates (%d), maximum allowed is %d", len(co.TSAIntermediateCertificates), maxIntermediates)}
	}
	if len(leaves) == 1 {
		co.TSACertificate = leaves[0]
	}
	co.UseSignedTimestamps = true
	return nil
}
