package kubewarden

import (
	"context"
	"testing"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
)

// TestGroups: a policy group as policy-evaluator runs it: members' verdicts combined by the
// expression, a member that would pin an image rejecting, the group's message on rejection.
func TestGroups(t *testing.T) {
	member := func(name, image string, pin bool) kpol.Member {
		return kpol.Member{Name: name, Module: "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1", VerifyImages: true,
			Settings: &kpol.Settings{ModifyImagesWithDigest: pin, Signatures: []kpol.Signature{{Image: image, Kind: kpol.KindPubKeys, PubKeys: []string{"k"}}}}}
	}
	other := kpol.Member{Name: "repos", Module: "registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1"}
	group := func(expr string, members ...kpol.Member) *kpol.Policy {
		return &kpol.Policy{Kind: "ClusterAdmissionPolicyGroup", Name: "g", Mode: "protect", FailurePolicy: "Fail", Rules: podRules, Group: true, VerifyImages: true,
			Expression: expr, Message: "refused by the group", Members: members}
	}
	signed := member("signed", "reg/a:*", false)   // reg/a:v1 verifies
	unsigned := member("unsigned", "reg/*", false) // reg/a:v1 verifies, reg/x:1 does not
	for _, tc := range []struct {
		name    string
		group   *kpol.Policy
		image   string
		allowed bool
		message string
	}{
		{name: "a member no entry of which matches accepts", group: group("signed() && unsigned()", signed, unsigned), image: "reg/x:1", message: "refused by the group"},
		{name: "so this passes", group: group("signed() && !unsigned()", signed, unsigned), image: "reg/x:1", allowed: true},
		{name: "one of two, one passes", group: group("unsigned() || signed()", signed, unsigned), image: "reg/a:v1", allowed: true},
		{name: "both", group: group("signed() && unsigned()", signed, member("unsigned", "reg/*", false)), image: "reg/a:v1", allowed: true},
		{name: "a member that would pin rejects", group: group("pin()", member("pin", "reg/*", true)), image: "reg/a:v1", message: "refused by the group"},
		{name: "its negation then passes", group: group("!pin()", member("pin", "reg/*", true)), image: "reg/a:v1", allowed: true},
		{name: "a member not replayed that does not matter", group: group("signed() || repos()", signed), image: "reg/a:v1", allowed: true},
		{name: "a member not replayed that matters", group: group("signed() && repos()", signed), image: "reg/a:v1",
			message: "kubectl-verify: policy group g: the expression depends on members not replayed: member repos runs registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1, which is not simulated"},
		{name: "a function that is no member", group: group("nope()", signed), image: "reg/a:v1", message: "error evaluating policy group expression: Function not found: nope ()"},
		{name: "comparisons of verdicts", group: group("signed() == true", signed), image: "reg/a:v1", allowed: true},
		{name: "an expression not replayed", group: group("signed() + 1", signed), image: "reg/a:v1",
			message: `kubectl-verify: policy group g: expression "signed() + 1" is not replayed: unexpected "+ 1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.group.Members = append(tc.group.Members, other)
			e := &Engine{Policies: []*kpol.Policy{tc.group}, Namespace: "kubewarden", Verifier: &fakeVerifier{digests: map[string]string{"reg/a:v1": d1}}}
			req := Request{Object: pod("default", nil, []string{tc.image}, nil)}
			out, err := admission.Run(context.Background(), req.Object, e.Webhooks(req, false))
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if !tc.allowed {
				want = `admission webhook "clusterwide-g.kubewarden.admission" denied the request: ` + tc.message
			}
			if out.Allowed != tc.allowed || out.Message != want || len(out.Patch) != 0 {
				t.Fatalf("allowed %v %q patch %v\nwant %v %q and no patch", out.Allowed, out.Message, out.Patch, tc.allowed, want)
			}
		})
	}
}
