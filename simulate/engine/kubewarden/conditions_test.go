package kubewarden

import (
	"context"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/admissioncel"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
)

// TestMatchConditions: the API server calls the webhook only when no condition is false; a
// condition that fails to evaluate refuses the request (failurePolicy Fail) with the API
// server's Forbidden message, or skips the webhook (Ignore).
func TestMatchConditions(t *testing.T) {
	compile := func(exprs ...string) []*admissioncel.Program {
		var out []*admissioncel.Program
		for _, e := range exprs {
			p, err := admissioncel.Compile(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	const denied = `admission webhook "clusterwide-p.kubewarden.admission" denied the request: Resource web is not accepted: verification of image reg/x:1 failed: ` +
		"error invoking host capability oci.verify: Host error: Callback evaluation failure: no signatures found for image: reg/x:1 "
	for _, tc := range []struct {
		name      string
		exprs     []string
		ignore    bool
		labels    map[string]any
		allowed   bool
		message   string
		notCalled bool
	}{
		{name: "true: called", exprs: []string{"request.namespace != 'kube-system'"}, message: denied},
		{name: "false: not called", exprs: []string{"request.namespace == 'kube-system'"}, allowed: true, notCalled: true},
		{name: "on the object's labels", exprs: []string{"!('skip' in object.metadata.labels)"}, labels: map[string]any{"skip": "yes"}, allowed: true, notCalled: true},
		{name: "one false wins over an error", exprs: []string{"object.metadata.labels.missing == 'x'", "false"}, allowed: true, notCalled: true},
		{name: "an error, failurePolicy Fail: refused by the API server", exprs: []string{"object.metadata.labels.missing == 'x'"}, labels: map[string]any{"a": "b"},
			message: `pods "web" is forbidden: expression 'object.metadata.labels.missing == 'x'' resulted in error: no such key: missing`},
		{name: "an error, failurePolicy Ignore: not called", exprs: []string{"object.metadata.labels.missing == 'x'"}, labels: map[string]any{"a": "b"}, ignore: true,
			allowed: true, notCalled: true},
		{name: "the operation", exprs: []string{"request.operation == 'CREATE' && request.kind.kind == 'Pod'"}, message: denied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy("p", func(p *kpol.Policy) {
				p.Conditions = compile(tc.exprs...)
				if tc.ignore {
					p.FailurePolicy = "Ignore"
				}
			})
			v := &fakeVerifier{}
			e := &Engine{Policies: []*kpol.Policy{p}, Namespace: "kubewarden", Verifier: v}
			req := Request{Object: pod("default", tc.labels, []string{"reg/x:1"}, nil)}
			out, err := admission.Run(context.Background(), req.Object, e.Webhooks(req, false))
			if err != nil {
				t.Fatal(err)
			}
			if out.Allowed != tc.allowed || (!tc.allowed && out.Message != tc.message) {
				t.Fatalf("allowed %v %q\nwant %v %q", out.Allowed, out.Message, tc.allowed, tc.message)
			}
			if tc.notCalled && v.calls != 0 {
				t.Errorf("the webhook verified %d image(s); it must not be called", v.calls)
			}
			checks := e.Checks(context.Background(), req)
			if tc.notCalled && (len(checks.Checks) != 0 || len(checks.NotChecked) != 1 || checks.NotChecked[0].Reason != "excluded") {
				t.Errorf("checks %+v, notChecked %+v: want the image excluded", checks.Checks, checks.NotChecked)
			}
		})
	}
}
