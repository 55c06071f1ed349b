package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestTagPrefix: policy-controller's source.tagPrefix reads the signature from the prefixed
// tag (pre-sha256-<hex>.sig), as cosign's WithPrefix does.
func TestTagPrefix(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	defer reg.Close()
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	image := reg.Host + "/p/app:v1"
	digest, err := verifytest.Push(image)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(image, key); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.MoveToPrefix(image, "pre-"); err != nil {
		t.Fatal(err)
	}
	v := verify.New(must(verify.NewRegistry("", nil, "test")))
	for _, tc := range []struct {
		prefix, want, msg string
	}{
		{"pre-", "verified", ""},
		{"other-", "failed", "no signatures found"},
		{"", "failed", "no signatures found"},
	} {
		t.Run("prefix "+tc.prefix, func(t *testing.T) {
			_, err := v.VerifySignature(context.Background(), verify.SignatureCheck{Image: reg.Host + "/p/app@" + digest, PublicKey: key.PublicPEM, TagPrefix: tc.prefix})
			if got := outcome(err); got != tc.want || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("prefix %q: %s %v, want %s %q", tc.prefix, got, err, tc.want, tc.msg)
			}
		})
	}
}
