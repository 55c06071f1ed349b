package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// updateVerifier passes every signature check with digest d and counts the checks by image.
type updateVerifier struct {
	d     string
	asked map[string]int
}

func (v *updateVerifier) VerifySignature(_ context.Context, c verify.SignatureCheck) (verify.SignatureResult, error) {
	v.asked[c.Image]++
	return verify.SignatureResult{Digest: v.d}, nil
}

func (v *updateVerifier) VerifyAttestations(context.Context, verify.AttestationCheck) (verify.AttestationResult, error) {
	return verify.AttestationResult{}, errors.New("not asked")
}

func (v *updateVerifier) VerifyBundles(context.Context, verify.BundleCheck) (verify.BundleResult, error) {
	return verify.BundleResult{}, errors.New("not asked")
}

func (v *updateVerifier) Digest(context.Context, string, verify.Auth) (string, error) {
	return "", errors.New("not asked")
}

func podObject(image string, annotations map[string]any) map[string]any {
	meta := map[string]any{"name": "web", "namespace": "default"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}
}

// TestPreviouslyVerifiedAcrossRules: Kyverno puts each rule's patched object back into
// request.object before the next rule of the policy runs, but the rule's images come from the
// context's image infos, built before any rule ran. So the second rule compares the image the
// first rule pinned with the old object's, and looks up its evidence under the name the image
// had before it was pinned.
func TestPreviouslyVerifiedAcrossRules(t *testing.T) {
	d := "sha256:" + strings.Repeat("d", 64)
	rule := func(name string) string {
		return `{"name":"` + name + `","match":{"any":[{"resources":{"kinds":["Pod"]}}]},"verifyImages":[{"failureAction":"Enforce","imageReferences":["reg.example/*"],
		"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://keys/cosign","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}`
	}
	p, err := kpol.Parse([]byte(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[`+rule("first")+`,`+rule("second")+`]}}`), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	const tag = "reg.example/app:v1"
	pinned, canonical := tag+"@"+d, "reg.example/app@"+d
	evidence := func(image string) map[string]any {
		b, _ := json.Marshal(map[string]any{"version": 1, "policies": map[string]any{"/p": map[string]any{"second": map[string]any{image: "pass"}}}})
		return map[string]any{annotationScoped: string(b)}
	}
	tests := []struct {
		name         string
		old          map[string]any
		wantAsked    int      // signature checks of the tag
		wantRules    []string // rules with a response
		wantEvidence map[string]string
	}{
		{
			name:      "old object pinned as the first rule pins it, evidence under the tag: trusted",
			old:       podObject(pinned, evidence(tag)),
			wantAsked: 1, wantRules: []string{"first"},
			wantEvidence: map[string]string{tag: "pass"},
		},
		{
			name:      "evidence under the pinned name is not looked up",
			old:       podObject(pinned, evidence(canonical)),
			wantAsked: 2, wantRules: []string{"first", "second"},
			wantEvidence: map[string]string{canonical: "pass"},
		},
		{
			name:      "old object with the tag: what the first rule pinned changed",
			old:       podObject(tag, evidence(tag)),
			wantAsked: 2, wantRules: []string{"first", "second"},
			wantEvidence: map[string]string{canonical: "pass"},
		},
		{
			name:      "CREATE: no old object, no short-circuit",
			wantAsked: 2, wantRules: []string{"first", "second"},
			wantEvidence: map[string]string{canonical: "pass"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &updateVerifier{d: d, asked: map[string]int{}}
			e := &Engine{Policies: []*kpol.Policy{p}, Verifier: v, Config: DefaultConfig()}
			obj := podObject(tag, nil)
			req := Request{Object: obj, Operation: OperationCreate}
			if tc.old != nil {
				req.Operation, req.OldObject = OperationUpdate, tc.old
			}
			resps, _, md := e.verifyPolicy(context.Background(), p, req, obj)
			var rules []string
			for _, r := range resps {
				rules = append(rules, r.rule)
			}
			if d := cmp.Diff(tc.wantRules, rules); d != "" {
				t.Errorf("rules with a response (-want +got):\n%s", d)
			}
			if d := cmp.Diff(map[string]int{tag: tc.wantAsked}, v.asked); d != "" {
				t.Errorf("signature checks by image (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvidence, md.policies["/p"]["second"]); d != "" {
				t.Errorf("second rule's evidence (-want +got):\n%s", d)
			}
		})
	}
}

func TestValueAt(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"a/b": "slash", "c~d": "tilde"},
		"spec": map[string]any{"containers": []any{map[string]any{"image": "x"}}, "empty": nil}}
	tests := []struct {
		name, pointer string
		want          any
		found         bool
	}{
		{"array element", "/spec/containers/0/image", "x", true},
		{"escaped slash", "/metadata/a~1b", "slash", true},
		{"escaped tilde", "/metadata/c~0d", "tilde", true},
		{"index out of range", "/spec/containers/1/image", nil, false},
		{"not an index", "/spec/containers/x/image", nil, false},
		{"missing key", "/spec/initContainers/0/image", nil, false},
		{"null value", "/spec/empty", nil, false},
		{"through a string", "/spec/containers/0/image/x", nil, false},
		{"not a pointer", "spec", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := valueAt(obj, tc.pointer)
			if found != tc.found || !cmp.Equal(got, tc.want) {
				t.Errorf("valueAt(%q) = %v, %t; want %v, %t", tc.pointer, got, found, tc.want, tc.found)
			}
		})
	}
}

func TestStripVerifyAnnotations(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want map[string]any
	}{
		{"both removed, map kept", podObject("a", map[string]any{annotationVerify: "{}", annotationScoped: "{}"}), podObject("a", map[string]any{})},
		{"others kept", podObject("a", map[string]any{annotationVerify: "{}", "team": "x"}), podObject("a", map[string]any{"team": "x"})},
		{"no annotations", podObject("a", nil), podObject("a", nil)},
		{"no metadata", map[string]any{"kind": "Pod"}, map[string]any{"kind": "Pod"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			StripVerifyAnnotations(tc.obj)
			if d := cmp.Diff(tc.want, tc.obj); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
