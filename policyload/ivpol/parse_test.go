package ivpol_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
)

// valid is the translation of a key-based ClusterPolicy (docs/ivpol-research.md §8).
const valid = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: check-image}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchImageReferences:
  - glob: "registry.example/test/*"
  attestors:
  - name: k1
    cosign:
      key: {data: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"}
      ctlog: {insecureIgnoreTlog: true}
  validations:
  - expression: >-
      (images.containers + images.initContainers + images.ephemeralContainers)
      .all(img, verifyImageSignatures(img, [attestors.k1]) > 0)
    message: image signature verification failed
`

func parse(t *testing.T, doc string) (*ivpol.Policy, error) {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return ivpol.Parse(raw, "p.yaml:1", "default")
}

func TestParseDefaults(t *testing.T) {
	p, err := parse(t, valid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key() != "check-image" || *p.Spec.FailurePolicy != "Fail" || !cmp.Equal(p.Spec.ValidationActions, []string{"Deny"}) || len(p.NotReplayed) != 0 {
		t.Errorf("Parse() = key %q, failurePolicy %v, actions %v, not replayed %v; want check-image, Fail, [Deny], none",
			p.Key(), *p.Spec.FailurePolicy, p.Spec.ValidationActions, p.NotReplayed)
	}
	ns, err := parse(t, strings.Replace(strings.Replace(valid, "kind: ImageValidatingPolicy", "kind: NamespacedImageValidatingPolicy", 1), "{name: check-image}", "{name: team, namespace: team-a}", 1))
	if err != nil {
		t.Fatal(err)
	}
	if ns.Key() != "team-a/team" {
		t.Errorf("namespaced Key() = %q, want team-a/team", ns.Key())
	}
}

func TestIsPolicy(t *testing.T) {
	tests := []struct {
		apiVersion, kind string
		want             bool
	}{
		{"policies.kyverno.io/v1", "ImageValidatingPolicy", true},
		{"policies.kyverno.io/v1beta1", "ImageValidatingPolicy", true},
		{"policies.kyverno.io/v1alpha1", "ImageValidatingPolicy", true},
		{"policies.kyverno.io/v1", "NamespacedImageValidatingPolicy", true},
		{"policies.kyverno.io/v1alpha1", "NamespacedImageValidatingPolicy", false},
		{"kyverno.io/v1", "ImageValidatingPolicy", false},
		{"policies.kyverno.io/v1", "ValidatingPolicy", false},
	}
	for _, tt := range tests {
		if got := ivpol.IsPolicy(tt.apiVersion, tt.kind); got != tt.want {
			t.Errorf("IsPolicy(%q, %q) = %v, want %v", tt.apiVersion, tt.kind, got, tt.want)
		}
	}
}

// TestParseRefused: what the API server's schema or Kyverno's policy webhook refuses, with
// the field error Kyverno's compiler writes (CEL's own text, with the position).
func TestParseRefused(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     string
	}{
		{
			name: "validation that does not parse", from: "[attestors.k1]) > 0)", to: "[attestors.k1]) > 0",
			want: `ImageValidatingPolicy/check-image: spec.validations[0].expression: Invalid value: "(images.containers + images.initContainers + images.ephemeralContainers) .all(img, verifyImageSignatures(img, [attestors.k1]) > 0": ERROR: <input>:1:130: Syntax error: missing ')' at '<EOF>'`,
		},
		{
			name: "validation that is not a bool", from: "- expression: >-", to: "- expression: object.metadata.name\n    x: >-",
			want: `spec.validations[0].expression: Invalid value: "object.metadata.name": output is expected to be of type bool`,
		},
		{
			name: "message expression that is not a string", from: "message: image signature verification failed", to: "messageExpression: '1 + 1'",
			want: `spec.validations[0].messageExpression: Invalid value: "1 + 1": output is expected to be of type string`,
		},
		{
			name: "glob that does not compile", from: `glob: "registry.example/test/*"`, to: `glob: "registry.example/[test"`,
			want: `spec.matchImageReferences[0].glob: Invalid value: "registry.example/[test":`,
		},
		{
			name: "image reference with neither glob nor expression", from: `- glob: "registry.example/test/*"`, to: `- {}`,
			want: `spec.matchImageReferences[0]: Invalid value: `,
		},
		{
			name: "ref expression on an undeclared variable", from: `- glob: "registry.example/test/*"`, to: `- expression: "image.startsWith('x')"`,
			want: "spec.matchImageReferences[0].expression: Invalid value: \"image.startsWith('x')\": ERROR: <input>:1:1: undeclared reference to 'image'",
		},
		{
			name: "unknown validation action", from: "  matchConstraints:", to: "  validationActions: [Block]\n  matchConstraints:",
			want: `spec.validationActions[0]: Unsupported value: "Block": supported values: "Deny", "Audit", "Warn"`,
		},
		{
			name: "no attestors", from: "  attestors:\n  - name: k1", to: "  other:\n  - name: k1",
			want: `spec.attestors: Required value`,
		},
		{
			name: "attestor key expression that does not parse", from: `key: {data: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"}`, to: `key: {expression: "'a' +"}`,
			want: `spec.attestors[0]: Invalid value: {"expression":"'a' +"}: ERROR: <input>:1:6: Syntax error`,
		},
		{
			name: "matchCondition that is not a bool", from: "  matchConstraints:", to: "  matchConditions:\n  - {name: c, expression: \"'x'\"}\n  matchConstraints:",
			want: `spec.matchConditions[0].expression: Invalid value: "'x'": output is expected to be of type bool`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(valid, tt.from, tt.to, 1)
			if doc == valid {
				t.Fatalf("%q is not in the policy", tt.from)
			}
			_, err := parse(t, doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}

// TestParseNotReplayed: an expression that calls a library function this tool does not
// declare is listed, not refused (Kyverno has it), and the rest is still checked.
func TestParseNotReplayed(t *testing.T) {
	p, err := parse(t, strings.Replace(valid, "verifyImageSignatures(img, [attestors.k1]) > 0)", "verifyImageSignatures(img, [attestors.k1]) > 0 && image(img).registry() == 'registry.example')", 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spec.validations[0].expression calls image, registry, of a CEL library kubectl-verify does not replay"}
	if diff := cmp.Diff(want, p.NotReplayed); diff != "" {
		t.Errorf("NotReplayed (-want +got):\n%s", diff)
	}
}

// TestParseUnsupported: attestor settings and evaluation modes the engine does not replay are
// listed, so that the policy's result is a tool error, never a verdict.
func TestParseUnsupported(t *testing.T) {
	attestor := "    cosign:\n      key: {data: \"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\"}\n      ctlog: {insecureIgnoreTlog: true}\n"
	tests := []struct {
		name, from, to string
		want           []string
	}{
		{"nothing", "", "", nil},
		{"notary", attestor, "    notary: {certs: {value: c}}\n", []string{"spec.attestors[0].notary: notary signatures are not verified by kubectl-verify"}},
		{"annotations", attestor, attestor + "      annotations: {a: b}\n", []string{"spec.attestors[0].cosign.annotations: signature annotations are not matched by kubectl-verify"}},
		{"trustedRoot", attestor, attestor + "      trustedRoot: {value: r}\n", []string{"spec.attestors[0].cosign: a TUF repository or trustedRoot of its own is not read by kubectl-verify"}},
		{"KMS", "key: {data: \"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\"}", "key: {kms: \"awskms:///alias/k\"}",
			[]string{"spec.attestors[0].cosign.key.kms: KMS keys other than k8s:// are not read by kubectl-verify"}},
		{"k8s:// is read", "key: {data: \"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\"}", "key: {kms: \"k8s://kyverno/cosign\"}", nil},
		{"JSON mode", "  validations:\n", "  evaluation: {mode: JSON}\n  validations:\n", []string{"spec.evaluation.mode: JSON policies (for JSON payloads) are not replayed by kubectl-verify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := valid
			if tt.from != "" {
				if !strings.Contains(doc, tt.from) {
					t.Fatalf("valid lacks %q", tt.from)
				}
				doc = strings.Replace(doc, tt.from, tt.to, 1)
			}
			p, err := parse(t, doc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.NotReplayed); diff != "" {
				t.Errorf("NotReplayed (-want +got):\n%s", diff)
			}
		})
	}
}
