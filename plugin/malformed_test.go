package plugin_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// TestMalformedPolicies: a policy the engine would refuse at creation, or that does not read,
// is exit 2 naming the file, the object and the field; never a panic, never a run.
func TestMalformedPolicies(t *testing.T) {
	dir := t.TempDir()
	pod := writeFile(t, dir, "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers:\n  - {name: a, image: reg.example/app:v1}\n")
	kw := func(extra string) string {
		return "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: kw}\nspec:\n  module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11\n  mutating: true\n" +
			"  rules: [{apiGroups: [\"\"], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\n" + extra +
			"  settings: {signatures: [{image: \"reg.example/*\", pubKeys: [\"x\"]}]}\n"
	}
	tests := []struct {
		name, policy string
		want         []string // in the error, besides the file name
	}{
		{"YAML that does not parse", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x\n", []string{"error parsing", "line 3"}},
		{"an unknown apiVersion", "apiVersion: kyverno.io/v9\nkind: ClusterPolicy\nmetadata: {name: v9}\nspec: {rules: []}\n", []string{"ClusterPolicy/v9", "kyverno.io/v9 ClusterPolicy"}},
		{"a missing field", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: no-images}\nspec:\n  authorities: [{static: {action: pass}}]\n", []string{"ClusterImagePolicy/no-images", "spec.images"}},
		{"a key that is not PEM", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: bad-key}\nspec:\n  images: [{glob: \"reg.example/**\"}]\n  authorities: [{key: {data: \"not a pem\"}}]\n", []string{"ClusterImagePolicy/bad-key", "spec.authorities[0].key.data"}},
		{"a regex that does not compile", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: bad-regex}\nspec:\n  images: [{glob: \"reg.example/**\"}]\n  authorities:\n  - keyless:\n      url: https://fulcio.example\n      identities: [{issuerRegExp: \"(\", subjectRegExp: \".*\"}]\n", []string{"ClusterImagePolicy/bad-regex", "issuerRegExp", "missing closing )"}},
		{"CEL that does not compile", kw("  matchConditions: [{name: c, expression: \"object.metadata.(\"}]\n"), []string{"ClusterAdmissionPolicy/kw", "spec.matchConditions[0].expression", "compilation failed"}},
		{"a field the engine requires", strings.Replace(kw(""), "  mutating: true\n", "", 1), []string{"ClusterAdmissionPolicy/kw", "spec.mutating"}},
		{"Kyverno's Audit with mutateDigest", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: audit}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages:\n    - imageReferences: [\"reg.example/*\"]\n      failureAction: Audit\n      attestors: [{entries: [{keys: {publicKeys: \"k8s://ns/key\"}}]}]\n", []string{"ClusterPolicy/audit", "mutateDigest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml", tt.policy)
			for _, cmd := range [][]string{{"simulate"}, {"policies"}} {
				args := append(cmd, "--policy", file)
				if cmd[0] == "simulate" {
					args = append(args, "-f", pod)
				}
				code, msg := errorOf(t, "", args...)
				if code != 2 {
					t.Errorf("%s: exit %d (%s), want 2", cmd[0], code, msg)
					continue
				}
				for _, w := range append([]string{filepath.Base(file)}, tt.want...) {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: error %q does not say %q", cmd[0], msg, w)
					}
				}
			}
		})
	}
}

// TestMalformedImages: images that do not parse, empty images and repeated container names
// are replayed as each engine treats them, with an inputWarnings entry each; never a pass an
// engine would not give, never exit 2.
func TestMalformedImages(t *testing.T) {
	dir := t.TempDir()
	pod := writeFile(t, dir, "pod.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {policy.sigstore.dev/include: "true"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod}
spec:
  containers:
  - {name: a, image: "reg.example/App:V1:bad"}
  - {name: b, image: ""}
  - {name: a, image: "reg.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"}
`)
	cip := writeFile(t, dir, "cip.yaml", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n")
	rep, code, stderr := simulateJSON(t, "--policy", cip, "-f", pod)
	if code != 1 || len(rep.Results) != 1 {
		t.Fatalf("exit %d, %+v (%s): want the Pod denied (policy-controller refuses references that do not parse)", code, rep.Results, stderr)
	}
	r := rep.Results[0]
	for _, c := range r.Checks {
		if c.Path != "/spec/containers/2/image" && c.Result == report.ResultPass {
			t.Errorf("a pass for an image that does not parse or is empty: %+v", c)
		}
	}
	if !strings.Contains(r.Message, "could not parse reference: reg.example/App:V1:bad: spec.containers[0].image") {
		t.Errorf("denial %q should be policy-controller's `could not parse reference`", r.Message)
	}
	for _, w := range []string{`/spec/containers/1/image: container "b" has an empty image`, `/spec/containers/2/name: container name "a" is used twice`, `/spec/containers/0/image: image "reg.example/App:V1:bad" does not parse`} {
		found := false
		for _, iw := range r.InputWarnings {
			found = found || strings.HasPrefix(iw, w)
		}
		if !found {
			t.Errorf("inputWarnings %q lack %q", r.InputWarnings, w)
		}
		if !strings.Contains(stderr, strings.SplitN(w, ": ", 2)[1]) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}
