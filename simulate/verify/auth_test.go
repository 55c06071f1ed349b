package verify_test

import (
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

func TestAuthPlus(t *testing.T) {
	tests := []struct {
		name string
		got  verify.Auth
		want string
	}{
		{"no pull secrets", verify.PullSecretAuth("team", nil), ""},
		{"pull secrets in the pod's namespace, sorted", verify.PullSecretAuth("team", []string{"b", "a"}), "team/a,team/b"},
		{"policy secrets in Kyverno's namespace unless qualified", verify.PullSecretAuth("team", []string{"a"}).Plus("kyverno", []string{"cred", "other/x", "/y"}), "kyverno/cred,kyverno/y,other/x,team/a"},
		{"the same Secret once", verify.PullSecretAuth("team", []string{"a"}).Plus("kyverno", []string{"team/a"}), "team/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Secrets != tt.want {
				t.Errorf("Secrets = %q, want %q", tt.got.Secrets, tt.want)
			}
		})
	}
}
