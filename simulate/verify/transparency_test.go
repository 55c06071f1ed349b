package verify_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// Legacy GitHub workflow extensions, as Fulcio's first generation wrote them.
const (
	oidWorkflowTrigger    = "1.3.6.1.4.1.57264.1.2"
	oidWorkflowRepository = "1.3.6.1.4.1.57264.1.5"
)

// TestTransparency covers the signing-time proofs: Rekor bundles checked offline against a
// policy's key or a trust root, the online lookup when there is none, SCTs, trust roots
// standing in for TUF, and Kyverno's additionalExtensions.
func TestTransparency(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			key := must(verifytest.NewKey())
			rekor := must(verifytest.NewRekor())
			otherRekor := must(verifytest.NewRekor())
			ca := must(verifytest.NewCAValid(time.Now().Add(-72*time.Hour), time.Now().Add(24*time.Hour)))
			past := time.Now().Add(-48 * time.Hour)
			// A leaf that expired yesterday, valid when the log recorded its signature.
			expired := must(ca.IssueWith(subject, issuer, map[string]string{oidWorkflowTrigger: "push", oidWorkflowRepository: "acme/app"}, past, past.Add(10*time.Minute)))
			img := func(n string) string { return reg.Host + "/t/" + n + ":v1" }
			digests := map[string]string{}
			for _, n := range []string{"logged", "other-log", "unlogged", "expired-logged", "expired-late", "expired-unlogged"} {
				digests[n] = must(verifytest.Push(img(n)))
			}
			signings := []struct {
				image      string
				key        *verifytest.Key
				id         *verifytest.Identity
				log        *verifytest.Rekor
				integrated time.Time
			}{
				{"logged", key, nil, rekor, time.Now()},
				{"other-log", key, nil, otherRekor, time.Now()},
				{"unlogged", key, nil, nil, time.Time{}},
				{"expired-logged", nil, expired, rekor, past.Add(5 * time.Minute)},
				{"expired-late", nil, expired, rekor, past.Add(time.Hour)},
				{"expired-unlogged", nil, expired, nil, time.Time{}},
			}
			for _, s := range signings {
				k, cert, chain := s.key, "", ""
				if s.id != nil {
					k, cert, chain = s.id.Key, s.id.CertPEM, s.id.ChainPEM
				}
				if err := verifytest.SignDetached(img(s.image), verifytest.Detached{Key: k, CertPEM: cert, ChainPEM: chain, Log: s.log, LoggedAt: s.integrated}); err != nil {
					t.Fatalf("signing %s: %v", s.image, err)
				}
			}
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			deadLog := "http://" + l.Addr().String()
			l.Close() //nolint:errcheck // freeing the port is the point

			trust := must(verify.ParseTrustRoot(must(verifytest.TrustedRootJSON(ca, rekor))))
			keyTlog := func(image, rekorKey string) verify.SignatureCheck {
				return verify.SignatureCheck{Image: image, PublicKey: key.PublicPEM, Tlog: true, RekorURL: deadLog, RekorPubKey: rekorKey}
			}
			keyless := func(image string, tlog bool) verify.SignatureCheck {
				return verify.SignatureCheck{Image: image, Keyless: true, Roots: ca.PEM, Subject: subject, Issuer: issuer, Tlog: tlog, RekorURL: deadLog, RekorPubKey: rekor.PublicPEM}
			}
			withExt := func(ext map[string]string) verify.SignatureCheck {
				c := keyless(img("expired-logged"), true)
				c.Extensions = ext
				return c
			}
			tests := []struct {
				name    string
				trust   *verify.TrustRoot
				check   verify.SignatureCheck
				want    string
				wantMsg string
			}{
				{"bundle by the policy's log key", nil, keyTlog(img("logged"), rekor.PublicPEM), "verified", ""},
				{"bundle by another log", nil, keyTlog(img("other-log"), rekor.PublicPEM), "failed", "rekor log public key not found for payload"},
				{"bundle checked with the trust root's log key", trust, keyTlog(img("logged"), ""), "verified", ""},
				{"log key neither in policy nor given", nil, keyTlog(img("logged"), ""), "tool", "give --trusted-root"},
				{"invalid log key in policy", nil, keyTlog(img("logged"), "not a key"), "failed", "failed to load Rekor public keys"},
				{"no bundle: online lookup at the log", nil, keyTlog(img("unlogged"), rekor.PublicPEM), "failed", "connection refused"},
				{"tlog ignored: no bundle needed", nil, verify.SignatureCheck{Image: img("unlogged"), PublicKey: key.PublicPEM}, "verified", ""},
				{"expired leaf, logged while valid", nil, keyless(img("expired-logged"), true), "verified", ""},
				{"expired leaf, logged after expiry", nil, keyless(img("expired-late"), true), "failed", "checking expiry on certificate with bundle: certificate expired before observed time"},
				{"expired leaf, tlog ignored", nil, keyless(img("expired-logged"), false), "failed", "expected a signed timestamp to verify an expired certificate"},
				{"expired leaf, nothing logged", nil, keyless(img("expired-unlogged"), true), "failed", "connection refused"},
				{"SCT required, certificate has none", nil, func() verify.SignatureCheck {
					c := keyless(img("expired-logged"), true)
					c.SCT, c.CTLogPubKey = true, rekor.PublicPEM
					return c
				}(), "failed", "certificate does not include required embedded SCT and no detached SCT was set"},
				{"SCT required, no CT key anywhere", nil, func() verify.SignatureCheck {
					c := keyless(img("expired-logged"), true)
					c.SCT = true
					return c
				}(), "tool", "CT-log public keys"},
				{"keyless roots from the trust root", trust, func() verify.SignatureCheck {
					c := keyless(img("expired-logged"), true)
					c.Roots, c.RekorPubKey = "", ""
					return c
				}(), "verified", ""},
				{"extensions match by name and OID", nil, withExt(map[string]string{"githubWorkflowTrigger": "push", oidWorkflowRepository: "acme/*"}), "verified", ""},
				{"extension mismatch", nil, withExt(map[string]string{"githubWorkflowRepository": "other/app"}), "failed", "extension mismatch: expected other/app for key githubWorkflowRepository, received acme/app"},
				{"unknown extension", nil, withExt(map[string]string{"color": "blue"}), "failed", "invalid certificate extension color"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v := verify.New(must(verify.NewRegistry("", nil, "test")))
					v.Trust = tt.trust
					res, err := v.VerifySignature(context.Background(), tt.check)
					if got := outcome(err); got != tt.want || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
						t.Fatalf("VerifySignature = %s %v, want %s containing %q", got, err, tt.want, tt.wantMsg)

					}
					if err == nil && res.Digest != digests[strings.TrimSuffix(strings.TrimPrefix(tt.check.Image, reg.Host+"/t/"), ":v1")] {
						t.Errorf("digest = %s", res.Digest)
					}
				})
			}
		})
	}
}

func TestLoadTrustRoot(t *testing.T) {
	ca := must(verifytest.NewCA())
	rekor := must(verifytest.NewRekor())
	dir := t.TempDir()
	good := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(good, must(verifytest.TrustedRootJSON(ca, rekor)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"mediaType": "something else"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := verify.LoadTrustRoot(good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.FulcioPEM, strings.TrimSpace(ca.PEM)) || len(tr.RekorKeysPEM) != 1 || tr.RekorKeysPEM[0] != rekor.PublicPEM {
		t.Errorf("trust root read as %+v", tr)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := verify.LoadTrustRoot(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadTrustRoot(%s) = %v, want an error naming the file", path, err)
		}
	}
}

// TestTimestamps covers RFC 3161 timestamps (Kyverno ctlog.tsaCertChain): the stamped time
// is the time a certificate's validity is checked at; a stamp by another authority fails.
func TestTimestamps(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			tsa := must(verifytest.NewTSA())
			otherTSA := must(verifytest.NewTSA())
			key := must(verifytest.NewKey())
			ca := must(verifytest.NewCAValid(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour)))
			past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			expired := must(ca.IssueValid(subject, issuer, past, past.Add(10*time.Minute)))
			img := func(n string) string { return reg.Host + "/ts/" + n + ":v1" }
			signings := map[string]verifytest.Detached{
				"in-time":   {Key: expired.Key, CertPEM: expired.CertPEM, ChainPEM: expired.ChainPEM, TSA: tsa, StampedAt: past.Add(5 * time.Minute)},
				"late":      {Key: expired.Key, CertPEM: expired.CertPEM, ChainPEM: expired.ChainPEM, TSA: tsa, StampedAt: past.Add(time.Hour)},
				"other-tsa": {Key: expired.Key, CertPEM: expired.CertPEM, ChainPEM: expired.ChainPEM, TSA: otherTSA, StampedAt: past.Add(5 * time.Minute)},
				"keyed":     {Key: key, TSA: tsa, StampedAt: time.Now()},
				"unstamped": {Key: key},
			}
			for n, d := range signings {
				if _, err := verifytest.Push(img(n)); err != nil {
					t.Fatal(err)
				}
				if err := verifytest.SignDetached(img(n), d); err != nil {
					t.Fatalf("signing %s: %v", n, err)
				}
			}
			keyless := func(n string) verify.SignatureCheck {
				return verify.SignatureCheck{Image: img(n), Keyless: true, Roots: ca.PEM, Subject: subject, Issuer: issuer, TSACertChain: tsa.ChainPEM}
			}
			keyed := func(n string) verify.SignatureCheck {
				return verify.SignatureCheck{Image: img(n), PublicKey: key.PublicPEM, TSACertChain: tsa.ChainPEM}
			}
			tests := []struct {
				name    string
				check   verify.SignatureCheck
				want    string
				wantMsg string
			}{
				{"expired leaf stamped while valid", keyless("in-time"), "verified", ""},
				{"expired leaf stamped after expiry", keyless("late"), "failed", "checking expiry on certificate with timestamp: certificate expired before observed time: 2026-01-01T00:10:00Z is before 2026-01-01T01:00:00Z"},
				{"stamped by another authority", keyless("other-tsa"), "failed", "unable to verify RFC3161 timestamp bundle"},
				{"expired leaf, timestamps not asked for", func() verify.SignatureCheck { c := keyless("in-time"); c.TSACertChain = ""; return c }(), "failed", "expected a signed timestamp to verify an expired certificate"},
				{"key with a valid stamp", keyed("keyed"), "verified", ""},
				{"key without a stamp: the stamp is optional", keyed("unstamped"), "verified", ""},
				{"two leaves in the chain", func() verify.SignatureCheck {
					c := keyed("keyed")
					c.TSACertChain = tsa.ChainPEM + otherTSA.ChainPEM
					return c
				}(), "failed", "certificate chain must contain at most one TSA certificate"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v := verify.New(must(verify.NewRegistry("", nil, "test")))
					_, err := v.VerifySignature(context.Background(), tt.check)
					if got := outcome(err); got != tt.want || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
						t.Fatalf("VerifySignature = %s %v, want %s containing %q", got, err, tt.want, tt.wantMsg)
					}
				})
			}
		})
	}
}

// TestEmbeddedSCT: a leaf carrying an SCT from a CT log passes the SCT check with that log's
// key, and fails with another's.
func TestEmbeddedSCT(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	defer reg.Close()
	ctlog := must(verifytest.NewCTLog())
	other := must(verifytest.NewCTLog())
	ca := must(verifytest.NewCA())
	id := must(ca.IssueWithSCT(subject, issuer, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ctlog))
	ref := reg.Host + "/sct/app:v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.SignWithCertificate(ref, id); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ctKey, want, wantMsg string
	}{
		{"the log's key", ctlog.PublicPEM, "verified", ""},
		{"another log's key", other.PublicPEM, "failed", "ctfe public key not found for payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verify.New(must(verify.NewRegistry("", nil, "test")))
			_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, Keyless: true, Roots: ca.PEM, Subject: subject, Issuer: issuer, SCT: true, CTLogPubKey: tt.ctKey})
			if got := outcome(err); got != tt.want || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Fatalf("VerifySignature = %s %v, want %s containing %q", got, err, tt.want, tt.wantMsg)
			}
		})
	}
}
