package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestVerifyInTotoUnverifiedReferrers pins SignatureCheck.UnverifiedInTotoReferrers to
// policy-controller v0.15.1's enable-oci11 attestation path (discoverAttestationsOCI11): an
// in-toto attestation stored as an OCI 1.1 referrer (cosign's WriteAttestationsReferrer) is
// taken whoever signed it and whatever its subject says; a referrer whose envelope has no
// signature gives nothing, and then, as when there is no referrer, the .att tag is verified
// as usual.
func TestVerifyInTotoUnverifiedReferrers(t *testing.T) {
	reg := verifytest.NewRegistry(true)
	defer reg.Close()
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	img := func(n string) string { return reg.Host + "/oci11intoto/" + n + ":v1" }
	// elsewhere is another image, whose digest a misdirected statement names.
	elsewhere, err := verifytest.Push(img("elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	custom := []byte("X")
	// statement is a custom statement about the image at repository n and digest d.
	statement := func(n, d string) ([]byte, error) {
		dig, err := name.NewDigest(reg.Host + "/oci11intoto/" + n + "@" + d)
		if err != nil {
			return nil, err
		}
		return verifytest.Statement(dig, "custom", custom)
	}
	attesters := map[string]func(ref, digest string) error{
		"referrer":           func(ref, _ string) error { return verifytest.AttestReferrer(ref, key, "custom", custom) },
		"referrer-other-key": func(ref, _ string) error { return verifytest.AttestReferrer(ref, other, "custom", custom) },
		"referrer-unsigned": func(ref, digest string) error {
			st, err := statement("referrer-unsigned", digest)
			if err != nil {
				return err
			}
			return verifytest.AttestStatementReferrer(ref, nil, st)
		},
		"referrer-other-subject": func(ref, _ string) error {
			st, err := statement("elsewhere", elsewhere)
			if err != nil {
				return err
			}
			return verifytest.AttestStatementReferrer(ref, other, st)
		},
		"att-tag":           func(ref, _ string) error { return verifytest.Attest(ref, key, "custom", custom) },
		"att-tag-other-key": func(ref, _ string) error { return verifytest.Attest(ref, other, "custom", custom) },
		"both": func(ref, _ string) error {
			if err := verifytest.Attest(ref, key, "custom", custom); err != nil {
				return err
			}
			return verifytest.AttestReferrer(ref, other, "custom", custom)
		},
	}
	for n, attest := range attesters {
		d, err := verifytest.Push(img(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := attest(img(n), d); err != nil {
			t.Fatalf("attesting %s: %v", n, err)
		}
	}
	const noMatch = "no matching attestations: "
	const wrongKey = noMatch + "accepted signatures do not match threshold, Found: 0, Expected 1"
	tests := []struct {
		name       string
		image      string
		unverified bool
		// from is where the one attestation found comes from: "referrer" (payload
		// {"payload": ...} only) or "att" (the whole envelope, as cosign hands it back).
		from    string
		wantErr string // a FailedError with exactly this message (cosign's); "" = found
	}{
		{name: "referrer by the key", image: "referrer", unverified: true, from: "referrer"},
		{name: "referrer by the key, flag off", image: "referrer", wantErr: noMatch},
		{name: "referrer by another key", image: "referrer-other-key", unverified: true, from: "referrer"},
		{name: "referrer by another key, flag off", image: "referrer-other-key", wantErr: noMatch},
		{name: "referrer naming another image, by another key", image: "referrer-other-subject", unverified: true, from: "referrer"},
		{name: "referrer without signatures: falls back, nothing under .att", image: "referrer-unsigned", unverified: true, wantErr: noMatch},
		{name: "no referrer: .att tag by the key verified", image: "att-tag", unverified: true, from: "att"},
		{name: "no referrer: .att tag by another key refused", image: "att-tag-other-key", unverified: true, wantErr: wrongKey},
		{name: ".att by the key and referrer by another: the referrer alone", image: "both", unverified: true, from: "referrer"},
		{name: ".att by the key and referrer by another, flag off: the .att", image: "both", from: "att"},
	}
	v := verify.New(mustRegistry(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// OCI11 as the engine sets it with enable-oci11: it changes nothing for attestations.
			res, err := v.VerifyInToto(context.Background(), verify.SignatureCheck{Image: img(tc.image), PublicKey: key.PublicPEM,
				OCI11: tc.unverified, UnverifiedInTotoReferrers: tc.unverified})
			if tc.wantErr != "" {
				var f *verify.FailedError
				if !errors.As(err, &f) || err.Error() != tc.wantErr {
					t.Fatalf("VerifyInToto = %v, want the failure %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyInToto = %v, want found", err)
			}
			if len(res.Payloads) != 1 || len(res.Digests) != 1 || len(res.Signatures) != 1 {
				t.Fatalf("found %d payloads, %d digests, %d signatures; want one each", len(res.Payloads), len(res.Digests), len(res.Signatures))
			}
			if got := map[bool]string{true: "att", false: "referrer"}[strings.Contains(string(res.Payloads[0]), `"payloadType"`)]; got != tc.from {
				t.Errorf("attestation from %s (%s), want %s", got, res.Payloads[0], tc.from)
			}
			if !strings.HasPrefix(res.Digests[0], "sha256:") || res.Signatures[0].ID == "" {
				t.Errorf("digest %q, signature %+v: want both", res.Digests[0], res.Signatures[0])
			}
			// The predicate checks that follow read it as any other.
			st, got, err := verify.InTotoStatement("custom", res.Payloads[0])
			if err != nil || st == nil || got != verifytest.CustomPredicateType {
				t.Errorf("InTotoStatement = %s, %q, %v; want a custom statement", st, got, err)
			}
		})
	}
}
