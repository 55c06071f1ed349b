package kubewarden

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// fakeVerifier answers pubKeys checks from a table: image -> digest, or an error.
type fakeVerifier struct {
	digests map[string]string
	calls   int
	keyless []verify.KubewardenKeylessCheck
}

func (f *fakeVerifier) VerifyKubewardenKeys(_ context.Context, c verify.KubewardenKeyCheck) (verify.KubewardenResult, error) {
	f.calls++
	d, ok := f.digests[c.Image]
	if !ok {
		return verify.KubewardenResult{}, &verify.FailedError{Err: errors.New("no signatures found for image: " + c.Image + " ")}
	}
	return verify.KubewardenResult{Digest: d}, nil
}

func (f *fakeVerifier) VerifyKubewardenKeyless(_ context.Context, c verify.KubewardenKeylessCheck) (verify.KubewardenResult, error) {
	f.keyless = append(f.keyless, c)
	return f.VerifyKubewardenKeys(context.Background(), verify.KubewardenKeyCheck{Image: c.Image})
}

func (f *fakeVerifier) VerifyKubewardenCertificate(_ context.Context, c verify.KubewardenCertificateCheck) (verify.KubewardenResult, error) {
	if c.Certificate == "bad" {
		f.calls++
		return verify.KubewardenResult{}, &verify.FailedError{Err: errors.New("verification failed: Several Signature Layers failed verification")}
	}
	return f.VerifyKubewardenKeys(context.Background(), verify.KubewardenKeyCheck{Image: c.Image})
}

const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

var podRules = []kpol.Rule{{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Operations: []string{"CREATE", "UPDATE"}}}

func policy(name string, mod ...func(*kpol.Policy)) *kpol.Policy {
	p := &kpol.Policy{Kind: "ClusterAdmissionPolicy", Name: name, Mode: "protect", Mutating: true, FailurePolicy: "Fail", Rules: append([]kpol.Rule(nil), podRules...), VerifyImages: true,
		Settings: &kpol.Settings{ModifyImagesWithDigest: true, Signatures: []kpol.Signature{{Image: "reg/*", Kind: kpol.KindPubKeys, PubKeys: []string{"k"}}}}}
	for _, m := range mod {
		m(p)
	}
	return p
}

func pod(ns string, labels map[string]any, containers, inits []string) map[string]any {
	list := func(images []string) []any {
		var out []any
		for _, i := range images {
			out = append(out, map[string]any{"name": "c", "image": i})
		}
		return out
	}
	spec := map[string]any{"containers": list(containers)}
	if len(inits) > 0 {
		spec["initContainers"] = list(inits)
	}
	meta := map[string]any{"name": "web", "namespace": ns}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
}

func TestAdmission(t *testing.T) {
	signed := map[string]string{"reg/a:v1": d1, "reg/a:v1@" + d1: d1, "reg/b:v1": "sha256:2222222222222222222222222222222222222222222222222222222222222222", "reg/empty:v1": ""}
	const host = "error invoking host capability oci.verify: Host error: Callback evaluation failure: "
	tests := []struct {
		name      string
		policies  []*kpol.Policy
		req       Request
		allowed   bool
		message   string
		patch     map[string]string // path -> value
		enforced  *bool
		wantCalls int
	}{
		{name: "verified and pinned", policies: []*kpol.Policy{policy("p")}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			allowed: true, patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1}, wantCalls: 1},
		{name: "two containers both verified: both pinned (row 11)", policies: []*kpol.Policy{policy("p")},
			req:     Request{Object: pod("default", nil, []string{"reg/a:v1"}, []string{"reg/b:v1"})},
			allowed: true, patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1, "/spec/initContainers/0/image": "reg/b:v1@" + signed["reg/b:v1"]}, wantCalls: 2},
		{name: "containers before initContainers in the message (row 10)", policies: []*kpol.Policy{policy("p")},
			req:     Request{Object: pod("default", nil, []string{"reg/x:1"}, []string{"reg/y:1"})},
			message: "Resource web is not accepted: verification of image reg/x:1 failed: " + host + "no signatures found for image: reg/x:1 , verification of image reg/y:1 failed: " + host + "no signatures found for image: reg/y:1 "},
		{name: "an empty digest pins nothing (row 15)", policies: []*kpol.Policy{policy("p")}, req: Request{Object: pod("default", nil, []string{"reg/empty:v1"}, nil)},
			allowed: true, wantCalls: 1},
		{name: "no entry matches: no host call (row 9)", policies: []*kpol.Policy{policy("p")}, req: Request{Object: pod("default", nil, []string{"other/a:v1"}, nil)},
			allowed: true, wantCalls: 0},
		{name: "every matching entry is checked", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = append(p.Settings.Signatures, kpol.Signature{Image: "reg/a:*", Kind: kpol.KindPubKeys, PubKeys: []string{"k2"}})
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)}, allowed: true, patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1}, wantCalls: 2},
		{name: "Kubewarden's namespace is left out", policies: []*kpol.Policy{policy("p")}, req: Request{Object: pod("kubewarden", nil, []string{"reg/x:1"}, nil)}, allowed: true},
		{name: "unless the policy allows it", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.AllowInsideAdmissionControllerNamespace = true })},
			req: Request{Object: pod("kubewarden", nil, []string{"reg/x:1"}, nil)}, message: "Resource web is not accepted: verification of image reg/x:1 failed: " + host + "no signatures found for image: reg/x:1 "},
		{name: "a cluster policy's namespace matchLabels are dropped by the controller", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.NamespaceSelector = &kpol.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
		})}, req: Request{Object: pod("dev", nil, []string{"reg/x:1"}, nil), NamespaceLabels: map[string]string{"env": "dev"}},
			message: "Resource web is not accepted: verification of image reg/x:1 failed: " + host + "no signatures found for image: reg/x:1 "},
		{name: "its matchExpressions are kept", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.NamespaceSelector = &kpol.LabelSelector{MatchExpressions: []kpol.LabelRequirement{{Key: "env", Operator: "In", Values: []string{"prod"}}}}
		})}, req: Request{Object: pod("dev", nil, []string{"reg/x:1"}, nil), NamespaceLabels: map[string]string{"env": "dev"}}, allowed: true},
		{name: "objectSelector", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.ObjectSelector = &kpol.LabelSelector{MatchLabels: map[string]string{"verify": "yes"}}
		})}, req: Request{Object: pod("default", map[string]any{"verify": "no"}, []string{"reg/x:1"}, nil)}, allowed: true},
		{name: "an AdmissionPolicy sees its namespace only", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Kind, p.Namespace = "AdmissionPolicy", "team" })},
			req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, allowed: true},
		{name: "rules: DELETE is not registered", policies: []*kpol.Policy{policy("p")}, req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil), Operation: "DELETE"}, allowed: true},
		{name: "another module is not replayed", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.VerifyImages = false })},
			req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, allowed: true},
		{name: "monitor admits, protect would deny", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Mode = "monitor" })},
			req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, allowed: true, enforced: new(bool), wantCalls: 2},
		{name: "mutating: false refuses the pin", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Mutating = false })},
			req:     Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			message: "Request rejected by policy clusterwide-p. The policy attempted to mutate the request, but it is currently configured to not allow mutations."},
		{name: "mutating: false, nothing to pin", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Mutating = false })},
			req: Request{Object: pod("default", nil, []string{"reg/a:v1@" + d1}, nil)}, allowed: true, wantCalls: 1},
		{name: "keyless: [] fails at the host (row 5)", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindKeyless}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			message: "Resource web is not accepted: verification of image reg/a:v1 failed: " + host + "Must provide keyless info"},
		{name: "a shape not replayed fails closed", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: "future-shape"}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			message: "kubectl-verify: verify-image-signatures future-shape signatures are not replayed yet"},
		{name: "certificates: every one must pass, in order (rows 7, 8)", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindCertificate, Certificates: []string{"good", "bad", "good2"}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)}, wantCalls: 2,
			message: "Resource web is not accepted: verification of image reg/a:v1 failed: " + host + "verification failed: Several Signature Layers failed verification"},
		{name: "certificates, all good", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindCertificate, Certificates: []string{"good", "good2"}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)}, wantCalls: 2, allowed: true, patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1}},
		{name: "failurePolicy Ignore lets what the tool cannot replay through", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.FailurePolicy = "Ignore"
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: "future-shape"}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)}, allowed: true},
		{name: "namespace labels unknown, a selector on them: fail closed", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.NamespaceSelector = &kpol.LabelSelector{MatchExpressions: []kpol.LabelRequirement{{Key: "env", Operator: "Exists"}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil), NamespaceUnknown: "forbidden"},
			message: "kubectl-verify: whether policy p sees namespace default is unknown: its labels could not be read: forbidden"},
		{name: "namespace labels unknown, the name is enough", policies: []*kpol.Policy{policy("p")},
			req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil), NamespaceUnknown: "forbidden"}, allowed: true,
			patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1}, wantCalls: 1},
		{name: "keyless entries go to the host as constraints", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindKeyless, Keyless: []kpol.KeylessInfo{{Issuer: "i", Subject: "s"}}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)}, allowed: true, patch: map[string]string{"/spec/containers/0/image": "reg/a:v1@" + d1}, wantCalls: 1},
		{name: "githubActions without an owner (the host refuses)", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindGitHubActions, GitHubActions: &kpol.GitHubActions{}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			message: "Resource web is not accepted: verification of image reg/a:v1 failed: " + host + "Must provide owner info"},
		{name: "a keylessPrefix that is not a URL", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = []kpol.Signature{{Image: "reg/*", Kind: kpol.KindKeylessPrefix, KeylessPrefix: []kpol.KeylessPrefixInfo{{Issuer: "i", URLPrefix: "not a url"}}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)},
			message: "Resource web is not accepted: verification of image reg/a:v1 failed: " + host + "Cannot build url prefix"},
		{name: "custom message", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Message = "sign your images" })},
			req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, message: "sign your images"},
		{name: "settings invalid: policy-server never serves it", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Settings, p.SettingsError = nil, "Signatures must not be empty"
		})}, req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, allowed: true},
		{name: "a certain rejection stands beside an entry not replayed", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.FailurePolicy = "Ignore"
			p.Settings.Signatures = append(p.Settings.Signatures, kpol.Signature{Image: "reg/*", Kind: "future-shape"})
		})}, req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)},
			message: "Resource web is not accepted: verification of image reg/x:1 failed: " + host + "no signatures found for image: reg/x:1 "},
		{name: "monitor with the namespace unknown: admitted", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) {
			p.Mode = "monitor"
			p.NamespaceSelector = &kpol.LabelSelector{MatchExpressions: []kpol.LabelRequirement{{Key: "env", Operator: "Exists"}}}
		})}, req: Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil), NamespaceUnknown: "forbidden"}, allowed: true},
		{name: "rule scope Cluster does not match a Pod", policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Rules[0].Scope = "Cluster" })},
			req: Request{Object: pod("default", nil, []string{"reg/x:1"}, nil)}, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{digests: signed}
			e := &Engine{Policies: tt.policies, Namespace: "kubewarden", Verifier: v}
			out, err := admission.Run(context.Background(), tt.req.Object, e.Webhooks(tt.req, false))
			if err != nil {
				t.Fatal(err)
			}
			wantMsg := ""
			if !tt.allowed {
				wantMsg = `admission webhook "` + tt.policies[0].WebhookName() + `" denied the request: ` + tt.message
			}
			if out.Allowed != tt.allowed || out.Message != wantMsg {
				t.Fatalf("allowed %v %q\nwant %v %q", out.Allowed, out.Message, tt.allowed, wantMsg)
			}
			got := map[string]string{}
			for _, op := range out.Patch {
				got[op.Path], _ = op.Value.(string)
			}
			if len(got) != len(tt.patch) {
				t.Fatalf("patch %v, want %v", got, tt.patch)
			}
			for k, want := range tt.patch {
				if got[k] != want {
					t.Errorf("patch %s = %q, want %q", k, got[k], want)
				}
			}
			if tt.enforced != nil {
				enf, err := admission.Run(context.Background(), tt.req.Object, e.Webhooks(tt.req, true))
				if err != nil {
					t.Fatal(err)
				}
				if enf.Allowed != *tt.enforced {
					t.Errorf("if enforced: allowed %v, want %v", enf.Allowed, *tt.enforced)
				}
			}
			if tt.wantCalls > 0 && v.calls != tt.wantCalls {
				t.Errorf("%d host calls, want %d", v.calls, tt.wantCalls)
			}
			if tt.wantCalls == 0 && tt.allowed && v.calls != 0 && len(tt.patch) == 0 && tt.enforced == nil {
				t.Errorf("%d host calls, want none", v.calls)
			}
		})
	}
}

// TestChecks: one check per (policy, image, matching entry), rule signatures[i], mode the
// policy's; an image no entry selects is reported once, unless another policy checked it.
func TestChecks(t *testing.T) {
	e := &Engine{Namespace: "kubewarden", Verifier: &fakeVerifier{digests: map[string]string{"reg/a:v1": d1}}, Policies: []*kpol.Policy{
		policy("p", func(p *kpol.Policy) {
			p.Settings.Signatures = append(p.Settings.Signatures, kpol.Signature{Image: "reg/a:*", Kind: kpol.KindPubKeys, PubKeys: []string{"k2"}})
		}),
		policy("q", func(p *kpol.Policy) { p.Mode = "monitor"; p.Settings.Signatures[0].Image = "none/*" }),
	}}
	out := e.Checks(context.Background(), Request{Object: pod("default", nil, []string{"reg/a:v1", "free/x:1"}, nil)})
	var got []string
	for _, c := range out.Checks {
		got = append(got, strings.Join([]string{c.Policy, c.Rule, c.Image, c.Result, c.Mode}, " "))
	}
	want := []string{"p signatures[0] reg/a:v1 pass protect", "p signatures[1] reg/a:v1 pass protect"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var nc []string
	for _, n := range out.NotChecked {
		nc = append(nc, n.Policy+" "+n.Image+" "+n.Reason)
	}
	wantNC := []string{"p free/x:1 image-not-selected", "q free/x:1 image-not-selected"}
	if strings.Join(nc, "\n") != strings.Join(wantNC, "\n") {
		t.Errorf("notChecked:\n%s\nwant:\n%s", strings.Join(nc, "\n"), strings.Join(wantNC, "\n"))
	}
	if out.Checks[0].Digest != d1 || out.Checks[0].Path != "/spec/containers/0/image" {
		t.Errorf("check %+v: want the digest and the image's path", out.Checks[0])
	}
}

// TestKeylessConstraints: each keyless-like entry reaches the host as its constraints, with
// the entry's annotations.
func TestKeylessConstraints(t *testing.T) {
	repo := "app"
	ann := map[string]string{"env": "prod"}
	for _, tc := range []struct {
		name string
		sig  kpol.Signature
		want []verify.KubewardenConstraint
	}{
		{"keyless", kpol.Signature{Kind: kpol.KindKeyless, Keyless: []kpol.KeylessInfo{{Issuer: "i1", Subject: "s1"}, {Issuer: "i2", Subject: "s2"}}},
			[]verify.KubewardenConstraint{verify.KeylessExact{Issuer: "i1", Subject: "s1", Annotations: ann}, verify.KeylessExact{Issuer: "i2", Subject: "s2", Annotations: ann}}},
		{"keylessPrefix", kpol.Signature{Kind: kpol.KindKeylessPrefix, KeylessPrefix: []kpol.KeylessPrefixInfo{{Issuer: "i", URLPrefix: "https://github.com/acme"}}},
			[]verify.KubewardenConstraint{verify.KeylessPrefix{Issuer: "i", URLPrefix: "https://github.com/acme", Annotations: ann}}},
		{"githubActions with repo", kpol.Signature{Kind: kpol.KindGitHubActions, GitHubActions: &kpol.GitHubActions{Owner: "acme", Repo: &repo}},
			[]verify.KubewardenConstraint{verify.GitHubActions{Owner: "acme", Repo: "app", Annotations: ann}}},
		{"githubActions without repo", kpol.Signature{Kind: kpol.KindGitHubActions, GitHubActions: &kpol.GitHubActions{Owner: "acme"}},
			[]verify.KubewardenConstraint{verify.GitHubActions{Owner: "acme", Annotations: ann}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sig.Image, tc.sig.Annotations = "reg/*", ann
			v := &fakeVerifier{digests: map[string]string{"reg/a:v1": d1}}
			e := &Engine{Namespace: "kubewarden", Verifier: v, Policies: []*kpol.Policy{policy("p", func(p *kpol.Policy) { p.Settings.Signatures = []kpol.Signature{tc.sig} })}}
			e.Checks(context.Background(), Request{Object: pod("default", nil, []string{"reg/a:v1"}, nil)})
			if len(v.keyless) != 1 || !reflect.DeepEqual(v.keyless[0].Constraints, tc.want) || !reflect.DeepEqual(v.keyless[0].Annotations, ann) {
				t.Fatalf("host calls %+v, want constraints %+v", v.keyless, tc.want)
			}
		})
	}
}
