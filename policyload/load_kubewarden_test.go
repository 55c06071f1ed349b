package policyload

import (
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// TestFromObjectsKubewarden: Kubewarden policies and groups are loaded, and keyless entries
// without --trusted-root are announced.
func TestFromObjectsKubewarden(t *testing.T) {
	const doc = `apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: keyless}
spec:
  module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
  mutating: true
  rules: [{apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}]
  settings:
    signatures:
    - image: "*"
      keyless: [{issuer: i, subject: s}]
    - image: "*"
      pubKeys: ["-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQoj8o6wIxaPHR6QbY4B/oMO+Cm25\nEG/iu2CEQ6t9zybBKnyDjCAXes4G+qgfTD6F/0dVWnvh9QyLddF0yYlYxQ==\n-----END PUBLIC KEY-----\n"]
---
apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicyGroup
metadata: {name: group}
spec:
  rules: [{apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}]
  expression: "a()"
  message: refused
  policies:
    a: {module: "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1", settings: {signatures: [{image: "*", pubKeys: []}]}}
`
	objs, err := manifest.Parse([]byte(doc), "policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, trusted := range []bool{false, true} {
		set, err := FromObjects(objs, "default")
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Kubewarden) != 2 || set.Kubewarden[0].Settings == nil || !set.Kubewarden[1].Group || len(set.Gaps) != 0 {
			t.Fatalf("loaded %+v, gaps %+v: want the policy and the group", set.Kubewarden, set.Gaps)
		}
		set.RequirePublicTrust(trusted)
		warned := strings.Contains(strings.Join(set.Warnings, "\n"), "ClusterAdmissionPolicy keyless: signatures[0] (keyless) needs the Fulcio roots")
		if warned == trusted {
			t.Errorf("trusted root given %v: warned %v\n%s", trusted, warned, strings.Join(set.Warnings, "\n"))
		}
		if strings.Contains(strings.Join(set.Warnings, "\n"), "signatures[1]") {
			t.Errorf("a pubKeys entry needs no trust root:\n%s", strings.Join(set.Warnings, "\n"))
		}
	}
}
