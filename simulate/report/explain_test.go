package report

import "testing"

func TestExplaining(t *testing.T) {
	audit := Check{Engine: "kyverno", Policy: "audit-team", Result: ResultFail, Mode: "audit", Message: "audit failure"}
	enforced := Check{Engine: "sigstore", Policy: "trusted-key", Result: ResultFail, Mode: "enforce", Message: "what denied"}
	pass := Check{Engine: "kyverno", Policy: "p", Result: ResultPass, Mode: "enforce"}
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"denied: the enforcing failure, not an earlier audit one", Result{Decision: Deny, Checks: []Check{pass, audit, enforced}}, "what denied"},
		{"allowed: the first failure, audit included", Result{Decision: Allow, Checks: []Check{pass, audit}}, "audit failure"},
		{"denied with no failing check: the deny message", Result{Decision: Deny, Message: "admission webhook ...", Checks: []Check{pass}}, "admission webhook ..."},
		{"denied, only audit failures: the first of them", Result{Decision: Deny, Checks: []Check{audit}}, "audit failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason(tt.r); got != tt.want {
				t.Errorf("reason() = %q, want %q", got, tt.want)
			}
		})
	}
}
