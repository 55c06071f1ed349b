package sigstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestEnableOCI11Attestations is policy-controller v0.15.1's enable-oci11 attestation path
// through the webhook, on a real verifier and a registry with the referrers API: an in-toto
// attestation stored as an OCI 1.1 referrer is taken without checking who signed it, so one
// by a key the authority does not name admits; without enable-oci11 it is not found. The
// predicate type and the attestation's policy are still checked, and an image with no
// in-toto referrer has its .att tag verified as usual.
func TestEnableOCI11Attestations(t *testing.T) {
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
	attesters := map[string]func(ref string) error{
		"referrer-other-key": func(ref string) error { return verifytest.AttestReferrer(ref, other, "custom", []byte("X")) },
		"att-key":            func(ref string) error { return verifytest.Attest(ref, key, "custom", []byte("X")) },
		"att-other-key":      func(ref string) error { return verifytest.Attest(ref, other, "custom", []byte("X")) },
	}
	images := map[string]string{}
	for n, attest := range attesters {
		tag := reg.Host + "/oci11/" + n + ":v1"
		d, err := verifytest.Push(tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := attest(tag); err != nil {
			t.Fatalf("attesting %s: %v", n, err)
		}
		images[n] = reg.Host + "/oci11/" + n + "@" + d
	}
	custom := spol.Attestation{Name: "a", PredicateType: "custom", Policy: &spol.PolicyRef{Type: "cue", Data: `predicate: Data: "X"`}}
	vuln := spol.Attestation{Name: "a", PredicateType: "vuln"}
	const noMatch = "no matching attestations: "
	const wrongKey = noMatch + "accepted signatures do not match threshold, Found: 0, Expected 1"
	tests := []struct {
		name        string
		image       string
		want        spol.Attestation
		enableOCI11 bool
		fail        string // the authority's error after "<image> " (%s: the image); "" admits
	}{
		{name: "referrer by another key, enable-oci11", image: "referrer-other-key", want: custom, enableOCI11: true},
		{name: "referrer by another key", image: "referrer-other-key", want: custom,
			fail: "attestation key validation failed for authority authority-0 for %s: " + noMatch},
		{name: "referrer by another key of another type, enable-oci11", image: "referrer-other-key", want: vuln, enableOCI11: true,
			fail: `no matching attestations with type vuln, checked the following predicateTypes: "https://cosign.sigstore.dev/attestation/v1"`},
		{name: ".att by the key, enable-oci11", image: "att-key", want: custom, enableOCI11: true},
		{name: ".att by the key", image: "att-key", want: custom},
		{name: ".att by another key, enable-oci11", image: "att-other-key", want: custom, enableOCI11: true,
			fail: "attestation key validation failed for authority authority-0 for %s: " + wrongKey},
	}
	r, err := verify.NewRegistry("", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := images[tt.image]
			policy := cip("c", func(p *spol.Policy) {
				p.Spec.Images = []spol.ImagePattern{{Glob: reg.Host + "/**"}}
				p.Spec.Authorities[0].Key.Data = key.PublicPEM
				p.Spec.Authorities[0].Attestations = []spol.Attestation{tt.want}
			})
			cfg := spol.DefaultConfig()
			cfg.EnableOCI11 = tt.enableOCI11
			e := &Engine{Policies: []*spol.Policy{policy}, Config: cfg, Verifier: verify.New(r), Active: true}
			obj := pod(img)
			out, err := admission.Run(context.Background(), obj, e.Webhooks(Request{Object: obj, Operation: "CREATE", NamespaceLabels: includedNS}, false))
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail == "" {
				if !out.Allowed {
					t.Errorf("denied: %s", out.Message)
				}
				return
			}
			fail := tt.fail
			if strings.Contains(fail, "%s") {
				fail = fmt.Sprintf(fail, img)
			}
			want := `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: c: spec.containers[0].image` + "\n" + img + " " + fail
			if out.Allowed || out.Message != want {
				t.Errorf("allowed %v, message =\n%q\nwant\n%q", out.Allowed, out.Message, want)
			}
		})
	}
}
