package kyverno

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// failingVerifier fails every signature check as a wrong key would.
type failingVerifier struct{}

func (failingVerifier) VerifySignature(context.Context, verify.SignatureCheck) (verify.SignatureResult, error) {
	return verify.SignatureResult{}, &verify.FailedError{Err: errors.New("no matching signatures")}
}

func (failingVerifier) VerifyAttestations(context.Context, verify.AttestationCheck) (verify.AttestationResult, error) {
	return verify.AttestationResult{}, errors.New("not asked")
}

func (failingVerifier) VerifyBundles(context.Context, verify.BundleCheck) (verify.BundleResult, error) {
	return verify.BundleResult{}, errors.New("not asked")
}

func (failingVerifier) Digest(context.Context, string, verify.Auth) (string, error) {
	return "", errors.New("not asked")
}

// TestBlockedResponseHasNoWarnings: a Kyverno webhook that blocks answers with the block
// message only; the warnings its rules would have given are dropped (handleVerifyImages and
// HandleValidationEnforce return none when blocked, pkg/webhooks/resource in Kyverno 1.19.1),
// as the real admission controller showed on the unsigned scenario. An allowed answer keeps
// them.
func TestBlockedResponseHasNoWarnings(t *testing.T) {
	policy := func(name, action string, verifyDigest bool) *kpol.Policy {
		t.Helper()
		vd := "false"
		if verifyDigest {
			vd = "true"
		}
		p, err := kpol.Parse([]byte(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"`+name+`"},"spec":{"rules":[
		{"name":"check","match":{"any":[{"resources":{"kinds":["Pod"]}}]},"verifyImages":[{"failureAction":"`+action+`","imageReferences":["reg.example/*"],
		"mutateDigest":false,"verifyDigest":`+vd+`,"required":false,
		"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://keys/cosign","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`), "test", "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const image = "reg.example/app:v1"
	auditFailure := "policy audit.check: failed to verify image " + image + ": .attestors[0].entries[0].keys: no matching signatures"
	tests := []struct {
		name         string
		policies     []*kpol.Policy
		hook         string
		wantAllowed  bool
		wantWarnings []string
	}{
		{
			name:         "mutating: audit failure alone is allowed with its warning",
			policies:     []*kpol.Policy{policy("audit", "Audit", false)},
			hook:         "mutate.kyverno.svc-fail",
			wantAllowed:  true,
			wantWarnings: []string{auditFailure},
		},
		{
			name:        "mutating: an enforced failure in the same call drops every warning",
			policies:    []*kpol.Policy{policy("audit", "Audit", false), policy("enforce", "Enforce", false)},
			hook:        "mutate.kyverno.svc-fail",
			wantAllowed: false,
		},
		{
			name:         "validating: missing digest under Audit is a warning",
			policies:     []*kpol.Policy{policy("audit", "Audit", true)},
			hook:         "validate.kyverno.svc-fail",
			wantAllowed:  true,
			wantWarnings: []string{"policy audit.check: missing digest for " + image},
		},
		{
			name:        "validating: missing digest under Enforce blocks, without warnings",
			policies:    []*kpol.Policy{policy("audit", "Audit", true), policy("enforce", "Enforce", true)},
			hook:        "validate.kyverno.svc-fail",
			wantAllowed: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{Policies: tc.policies, Verifier: failingVerifier{}, Config: DefaultConfig()}
			req := Request{Object: podObject(image, nil), Operation: "CREATE"}
			called := false
			for _, h := range e.Webhooks(req, false) {
				if h.Name != tc.hook {
					continue
				}
				called = true
				r := h.Call(context.Background(), req.Object)
				if r.Allowed != tc.wantAllowed {
					t.Fatalf("allowed = %v, want %v (message %q)", r.Allowed, tc.wantAllowed, r.Message)
				}
				if !r.Allowed && !strings.Contains(r.Message, "was blocked due to the following policies") {
					t.Errorf("message = %q, want the block message", r.Message)
				}
				if d := cmp.Diff(tc.wantWarnings, r.Warnings); d != "" {
					t.Errorf("warnings (-want +got):\n%s", d)
				}
			}
			if !called {
				t.Fatalf("no webhook %s", tc.hook)
			}
		})
	}
}
