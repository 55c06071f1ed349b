package plugin_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-verify/kubectl-verify/plugin"
)

const ivpolFile = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: check-image}
spec:
  validationActions: [Deny, Warn]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchImageReferences:
  - glob: "registry.example/test/*"
  - expression: "ref.startsWith('mirror.example/')"
  attestors:
  - name: k1
    cosign:
      key: {data: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"}
      ctlog: {insecureIgnoreTlog: true}
  attestations:
  - name: sbom
    intoto: {type: https://spdx.dev/Document}
  validations:
  - expression: "images.containers.all(img, verifyImageSignatures(img, [attestors.k1]) > 0)"
    message: image signature verification failed
  - expression: "images.containers.all(img, image(img).registry() == 'registry.example')"
    messageExpression: "'registry of ' + object.metadata.name"
`

// TestImageValidatingPolicies: policies lists an ImageValidatingPolicy with its images,
// attestors and validations; one whose CEL does not compile is refused with the position;
// simulate replays it, and a validation calling a CEL library this tool lacks gives a tool
// error check that denies (fail closed, as a Deny policy's error does), never a pass.
func TestImageValidatingPolicies(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ivpol.yaml")
	write(t, p, ivpolFile)

	out, stderr, code := run(t, "", "policies", "--policy", p, "-o", "json")
	if code != 0 {
		t.Fatalf("policies: exit %d: %s", code, stderr)
	}
	var list plugin.PolicyList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	want := plugin.PolicyRow{
		Engine: "kyverno", Kind: "ImageValidatingPolicy", Name: "check-image", Rule: "check-image", Mode: "deny,warn",
		Images:      []string{"registry.example/test/*", "expression: ref.startsWith('mirror.example/')"},
		Authorities: []string{"k1: cosign public key, transparency log ignored", "attestation sbom: in-toto https://spdx.dev/Document"},
		Validations: []string{
			`images.containers.all(img, verifyImageSignatures(img, [attestors.k1]) > 0) (message: "image signature verification failed")`,
			`images.containers.all(img, image(img).registry() == 'registry.example') (message: 'registry of ' + object.metadata.name)`,
		},
		Unsupported: []string{"spec.validations[1].expression calls image, registry, of a CEL library kubectl-verify does not replay"},
		Source:      p + ":1", Simulated: true,
	}
	if len(list.Policies) != 1 {
		t.Fatalf("policies = %+v, want one", list.Policies)
	}
	if diff := cmp.Diff(want, list.Policies[0]); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if e := list.Engines[0]; !e.Found || !e.Replayed || e.Note != "" {
		t.Errorf("kyverno engine status = %+v", e)
	}

	table, _, _ := run(t, "", "policies", "--policy", p)
	for _, w := range []string{"ImageValidatingPolicy/check-image validations:\n  1. images.containers.all(", "deny,warn"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, strings.Replace(ivpolFile, "[attestors.k1]) > 0)", "[attestors.k1]) > ", 1))
	if code, msg := errorOf(t, "", "policies", "--policy", bad); code != 2 || !strings.Contains(msg, bad+":1: ImageValidatingPolicy/check-image: spec.validations[0].expression: Invalid value:") || !strings.Contains(msg, "ERROR: <input>:1:") {
		t.Errorf("policies on a CEL error = exit %d %q, want 2 naming file, object, field and position", code, msg)
	}

	pod := filepath.Join(dir, "pod.yaml")
	write(t, pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.example/test/app:1}]}\n")
	out, stderr, code = run(t, "", "simulate", "--policy", p, "-f", pod, "-o", "json")
	var rep struct {
		Results []struct {
			Decision, Message string
			Checks            []struct{ Engine, Policy, Rule, Result, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || len(rep.Results) != 1 {
		t.Fatalf("simulate with a not replayed ImageValidatingPolicy = exit %d, %v:\n%s\n%s", code, err, out, stderr)
	}
	r := rep.Results[0]
	notReplayed := "kubectl-verify: policy check-image is not replayed: spec.validations[1].expression calls image, registry,"
	if r.Decision != "deny" || !strings.Contains(r.Message, "denied the request: Policy check-image error: "+notReplayed) ||
		len(r.Checks) != 1 || r.Checks[0].Result != "error" || !strings.HasPrefix(r.Checks[0].Message, notReplayed) {
		t.Errorf("result = %+v, want denied with a tool error check", r)
	}
	if !strings.Contains(stderr, "ImageValidatingPolicy check-image is not replayed") {
		t.Errorf("stderr lacks the load warning:\n%s", stderr)
	}
}
