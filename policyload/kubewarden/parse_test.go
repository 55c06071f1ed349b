package kubewarden

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// fromYAML is the JSON of a YAML document, as policyload hands objects to Parse.
func fromYAML(t *testing.T, doc string) []byte {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	return raw
}

// testKey is a PEM block: settings parsing checks the PEM framing only.
const testKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaVHnbSPsaCrFBdxnd3Wq1KQ8yGw4
Vw7Q8vbtVw3Ffu0XDnlTP0nZdT4AXzbQfmTzjyCHFprFUBd2EvuBXiRp6Q==
-----END PUBLIC KEY-----`

// policyDoc is a policy of kind with spec lines (indented by two spaces) after metadata.
func policyDoc(apiVersion, kind, metadata, spec string) string {
	return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: " + metadata + "\nspec:\n" + spec
}

const (
	visModule = "  module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11\n"
	podRules  = "  rules:\n  - {apiGroups: [\"\"], apiVersions: [v1], resources: [pods], operations: [CREATE, UPDATE]}\n"
)

// keySettings are settings with one pubKeys entry.
var keySettings = `  settings:
    signatures:
    - image: "ghcr.io/acme/*"
      pubKeys:
      - |
` + "        " + strings.ReplaceAll(testKey, "\n", "\n        ") + "\n"

// visSpec is a valid verify-image-signatures spec with extra lines.
func visSpec(extra string) string {
	return visModule + "  mutating: true\n" + podRules + keySettings + extra
}

// parsed is what a Parse case checks.
type parsed struct {
	kind, apiVersion, namespace          string
	key, uniqueName, webhookName         string
	mode, failurePolicy                  string
	mutating, verifyImages, haveSettings bool
	settingsError                        string
}

func summarize(p *Policy) parsed {
	return parsed{
		kind: p.Kind, apiVersion: p.APIVersion, namespace: p.Namespace,
		key: p.Key(), uniqueName: p.UniqueName(), webhookName: p.WebhookName(),
		mode: p.Mode, failurePolicy: p.FailurePolicy,
		mutating: p.Mutating, verifyImages: p.VerifyImages, haveSettings: p.Settings != nil,
		settingsError: p.SettingsError,
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		defaultNS string
		want      parsed
		// unsupported and warnings: substrings, one per expected entry.
		unsupported, warnings []string
	}{
		{
			name: "cluster policy defaults: protect, Fail, clusterwide names",
			doc:  policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: pin, namespace: ignored}", visSpec("")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "pin", uniqueName: "clusterwide-pin", webhookName: "clusterwide-pin.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name:      "admission policy without namespace gets the default one",
			doc:       policyDoc("policies.kubewarden.io/v1", "AdmissionPolicy", "{name: pin}", visSpec("")),
			defaultNS: "team-a",
			want: parsed{kind: "AdmissionPolicy", apiVersion: "policies.kubewarden.io/v1", namespace: "team-a",
				key: "team-a/pin", uniqueName: "namespaced-team-a-pin", webhookName: "namespaced-team-a-pin.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name:      "admission policy keeps its own namespace",
			doc:       policyDoc("policies.kubewarden.io/v1", "AdmissionPolicy", "{name: pin, namespace: prod}", visSpec("")),
			defaultNS: "team-a",
			want: parsed{kind: "AdmissionPolicy", apiVersion: "policies.kubewarden.io/v1", namespace: "prod",
				key: "prod/pin", uniqueName: "namespaced-prod-pin", webhookName: "namespaced-prod-pin.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name: "v1alpha2 is read like v1",
			doc:  policyDoc("policies.kubewarden.io/v1alpha2", "ClusterAdmissionPolicy", "{name: old}", visSpec("")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1alpha2",
				key: "old", uniqueName: "clusterwide-old", webhookName: "clusterwide-old.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name: "v1alpha2 admission policy",
			doc:  policyDoc("policies.kubewarden.io/v1alpha2", "AdmissionPolicy", "{name: old, namespace: ns}", visSpec("")),
			want: parsed{kind: "AdmissionPolicy", apiVersion: "policies.kubewarden.io/v1alpha2", namespace: "ns",
				key: "ns/old", uniqueName: "namespaced-ns-old", webhookName: "namespaced-ns-old.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name: "monitor mode, failurePolicy Ignore, not mutating",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: watch}",
				visModule+"  mutating: false\n  mode: monitor\n  failurePolicy: Ignore\n"+podRules+keySettings),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "watch", uniqueName: "clusterwide-watch", webhookName: "clusterwide-watch.kubewarden.admission",
				mode: "monitor", failurePolicy: "Ignore", verifyImages: true, haveSettings: true},
		},
		{
			name: "explicit protect and Fail",
			doc:  policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  mode: protect\n  failurePolicy: Fail\n")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "p", uniqueName: "clusterwide-p", webhookName: "clusterwide-p.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name: "matchConditions are compiled",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: cel}",
				visSpec("  matchConditions:\n  - {name: not-system, expression: \"request.namespace != 'kube-system'\"}\n")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "cel", uniqueName: "clusterwide-cel", webhookName: "clusterwide-cel.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
		},
		{
			name: "a condition on the authorizer is not replayed",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: cel}",
				visSpec("  matchConditions:\n  - {name: admins, expression: \"authorizer.group('').resource('pods').check('create').allowed()\"}\n")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "cel", uniqueName: "clusterwide-cel", webhookName: "clusterwide-cel.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
			unsupported: []string{"spec.matchConditions[0]"},
		},
		{
			name: "a condition using Kubernetes' CEL libraries is not replayed",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: cel}",
				visSpec("  matchConditions:\n  - {name: q, expression: \"quantity('1Gi').isGreaterThan(quantity('1Mi'))\"}\n")),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "cel", uniqueName: "clusterwide-cel", webhookName: "clusterwide-cel.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true, haveSettings: true},
			unsupported: []string{"spec.matchConditions[0]"},
		},
		{
			name: "another module is kept, not simulated, with a warning",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: repos}",
				"  module: registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1.0.0\n  mutating: false\n"+podRules+
					"  settings: {allowedRegistries: [ghcr.io]}\n"),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "repos", uniqueName: "clusterwide-repos", webhookName: "clusterwide-repos.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail"},
			warnings: []string{"module registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1.0.0 is not verify-image-signatures: not simulated"},
		},
		{
			name: "invalid settings are a SettingsError, not a Parse error",
			doc: policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: empty}",
				visModule+"  mutating: true\n"+podRules+"  settings: {signatures: []}\n"),
			want: parsed{kind: "ClusterAdmissionPolicy", apiVersion: "policies.kubewarden.io/v1",
				key: "empty", uniqueName: "clusterwide-empty", webhookName: "clusterwide-empty.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true,
				settingsError: "Signatures must not be empty"},
			warnings: []string{"its webhook is never registered (it stays pending): Policy settings are invalid: Signatures must not be empty"},
		},
		{
			name: "no settings at all is a SettingsError",
			doc: policyDoc("policies.kubewarden.io/v1", "AdmissionPolicy", "{name: bare, namespace: ns}",
				visModule+"  mutating: true\n"+podRules),
			want: parsed{kind: "AdmissionPolicy", apiVersion: "policies.kubewarden.io/v1", namespace: "ns",
				key: "ns/bare", uniqueName: "namespaced-ns-bare", webhookName: "namespaced-ns-bare.kubewarden.admission",
				mode: "protect", failurePolicy: "Fail", mutating: true, verifyImages: true,
				settingsError: "Signatures must not be empty"},
			warnings: []string{"Signatures must not be empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(fromYAML(t, tt.doc), "policies.yaml:1", tt.defaultNS)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := summarize(p); got != tt.want {
				t.Errorf("Parse =\n %+v\nwant\n %+v", got, tt.want)
			}
			if p.Source != "policies.yaml:1" {
				t.Errorf("Source = %q", p.Source)
			}
			containsEach(t, "Unsupported", p.Unsupported, tt.unsupported)
			containsEach(t, "Warnings", p.Warnings, tt.warnings)
		})
	}
}

// containsEach checks that got has one entry per want, each containing its substring.
func containsEach(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %q, want %d entries like %q", what, got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%s[%d] = %q, want it to contain %q", what, i, got[i], want[i])
		}
	}
}

// TestParseSelectors: cluster policies keep their namespaceSelector and the controller-namespace
// flag; an AdmissionPolicy has neither (the controller pins it to its namespace).
func TestParseSelectors(t *testing.T) {
	extra := "  namespaceSelector: {matchLabels: {team: a}}\n  objectSelector: {matchLabels: {app: web}}\n" +
		"  allowInsideAdmissionControllerNamespace: true\n  message: signed images only\n"
	tests := []struct {
		name         string
		kind         string
		wantNSSel    bool
		wantAllowKWN bool
	}{
		{"cluster policy", "ClusterAdmissionPolicy", true, true},
		{"admission policy", "AdmissionPolicy", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(fromYAML(t, policyDoc("policies.kubewarden.io/v1", tt.kind, "{name: sel, namespace: ns}", visSpec(extra))), "", "default")
			if err != nil {
				t.Fatal(err)
			}
			if (p.NamespaceSelector != nil) != tt.wantNSSel || p.AllowInsideAdmissionControllerNamespace != tt.wantAllowKWN {
				t.Errorf("namespaceSelector %+v, allowInside %v; want selector %v, allowInside %v",
					p.NamespaceSelector, p.AllowInsideAdmissionControllerNamespace, tt.wantNSSel, tt.wantAllowKWN)
			}
			if p.ObjectSelector == nil || p.ObjectSelector.MatchLabels["app"] != "web" || p.Message != "signed images only" {
				t.Errorf("objectSelector %+v, message %q", p.ObjectSelector, p.Message)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	rule := func(r string) string { return "  rules:\n  - " + r + "\n" }
	spec := func(lines string) string { return lines + keySettings }
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"missing module",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", spec("  mutating: true\n"+podRules)),
			"ClusterAdmissionPolicy/p is invalid: spec.module: Required value"},
		{"a condition that does not compile",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  matchConditions:\n  - {name: c, expression: \"object.metadata.name ==\"}\n")),
			"ClusterAdmissionPolicy/p is invalid: spec.matchConditions[0].expression: Invalid value: \"object.metadata.name ==\": compilation failed: "},
		{"two conditions of one name",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  matchConditions:\n  - {name: c, expression: \"true\"}\n  - {name: c, expression: \"true\"}\n")),
			"ClusterAdmissionPolicy/p is invalid: spec.matchConditions[1].name: Duplicate value: \"c\""},
		{"missing mutating",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", spec(visModule+podRules)),
			"ClusterAdmissionPolicy/p is invalid: spec.mutating: Required value"},
		{"missing rules",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", spec(visModule+"  mutating: true\n")),
			"ClusterAdmissionPolicy/p is invalid: spec.rules: Required value"},
		{"empty rules",
			policyDoc("policies.kubewarden.io/v1", "AdmissionPolicy", "{name: p}", spec(visModule+"  mutating: true\n  rules: []\n")),
			"AdmissionPolicy/p is invalid: spec.rules: Required value"},
		{"rule without operations",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+rule(`{apiGroups: [""], apiVersions: [v1], resources: [pods]}`))),
			"spec.rules[0].operations: Required value"},
		{"rule without apiVersions",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+rule(`{apiGroups: [""], resources: [pods], operations: [CREATE]}`))),
			"spec.rules[0].apiVersions: Required value"},
		{"rule without resources",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+rule(`{apiGroups: [""], apiVersions: [v1], operations: [CREATE]}`))),
			"spec.rules[0].resources: Required value"},
		{"empty operation",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+rule(`{apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [""]}`))),
			`spec.rules[0].operations: Invalid value: "": must not be empty`},
		{"empty apiVersion in the second rule",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+podRules+`  - {apiGroups: [apps], apiVersions: [""], resources: [deployments], operations: [CREATE]}`+"\n")),
			`spec.rules[1].apiVersions: Invalid value: "": must not be empty`},
		{"empty resource",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}",
				spec(visModule+"  mutating: true\n"+rule(`{apiGroups: [""], apiVersions: [v1], resources: [pods, ""], operations: [CREATE]}`))),
			`spec.rules[0].resources: Invalid value: "": must not be empty`},
		{"bad mode",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  mode: audit\n")),
			`spec.mode: Unsupported value: "audit": supported values: "protect", "monitor"`},
		{"mode is case-sensitive",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  mode: Monitor\n")),
			`spec.mode: Unsupported value: "Monitor"`},
		{"bad failurePolicy",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("  failurePolicy: Warn\n")),
			`spec.failurePolicy: Unsupported value: "Warn"`},
		{"no spec",
			"apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\n",
			"ClusterAdmissionPolicy/p is invalid: spec: Required value"},
		{"no name",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicy", "{}", visSpec("")),
			"ClusterAdmissionPolicy: metadata.name: Required value"},
		{"a policy group without an expression",
			policyDoc("policies.kubewarden.io/v1", "ClusterAdmissionPolicyGroup", "{name: g}", visSpec("")),
			"ClusterAdmissionPolicyGroup/g is invalid: spec.expression: Required value"},
		{"another group's kind",
			policyDoc("example.com/v1", "ClusterAdmissionPolicy", "{name: p}", visSpec("")),
			"not a Kubewarden policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(fromYAML(t, tt.doc), "", "default")
			if err == nil {
				t.Fatalf("Parse = %+v, want an error containing %q", p, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestIsVerifyImageSignatures(t *testing.T) {
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	tests := []struct {
		name   string
		module string
		want   bool
	}{
		{"registry with tag", "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11", true},
		{"registry with digest", "registry://ghcr.io/kubewarden/policies/verify-image-signatures@" + digest, true},
		{"registry with tag and digest", "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11@" + digest, true},
		{"registry without tag", "registry://ghcr.io/kubewarden/policies/verify-image-signatures", true},
		{"no scheme", "ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11", true},
		{"no scheme, digest", "ghcr.io/kubewarden/verify-image-signatures@" + digest, true},
		{"archived repository", "registry://ghcr.io/kubewarden/verify-image-signatures:v0.2.8", true},
		{"mirror registry with a port", "registry://mirror.example.com:5000/kubewarden/verify-image-signatures:v1.0.5", true},
		{"mirror without scheme", "localhost:5000/verify-image-signatures:v1", true},
		{"different module", "registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1", false},
		{"different module without scheme", "ghcr.io/kubewarden/policies/pod-privileged:v1.0.0", false},
		{"name only contains the string: a fork", "registry://ghcr.io/acme/verify-image-signatures-fork:v1", false},
		{"name only contains the string: prefixed", "registry://ghcr.io/acme/my-verify-image-signatures:v1", false},
		{"the string is a parent path segment", "registry://ghcr.io/verify-image-signatures/other:v1", false},
		{"the string is the tag", "registry://ghcr.io/acme/policy:verify-image-signatures", false},
		{"https wasm file", "https://example.com/policies/verify-image-signatures.wasm", true},
		{"https versioned wasm file", "https://example.com/verify-image-signatures-v1.0.11.wasm", true},
		{"http versioned without v", "http://example.com/verify-image-signatures_1.0.11.wasm", true},
		{"https GitHub release asset", "https://github.com/kubewarden/verify-image-signatures/releases/download/v0.2.8/policy.wasm", true},
		{"https another policy's release asset", "https://github.com/kubewarden/pod-privileged-policy/releases/download/v0.2.1/policy.wasm", false},
		{"https fork file", "https://example.com/verify-image-signatures-fork.wasm", false},
		{"https another module", "https://example.com/allowed-image-repositories.wasm", false},
		{"file wasm", "file:///var/lib/kubewarden/verify-image-signatures.wasm", true},
		{"file versioned", "file:///tmp/verify-image-signatures-v1.0.11.wasm", true},
		{"file another module", "file:///tmp/allowed-image-repositories.wasm", false},
		{"file in a directory of that name", "file:///srv/verify-image-signatures/other.wasm", false},
		{"unknown scheme", "oci://ghcr.io/kubewarden/policies/verify-image-signatures:v1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsVerifyImageSignatures(tt.module); got != tt.want {
				t.Errorf("IsVerifyImageSignatures(%q) = %v, want %v", tt.module, got, tt.want)
			}
		})
	}
}

// TestParseGroup: a policy group's members by name, each recognized and its settings parsed;
// groups never mutate.
func TestParseGroup(t *testing.T) {
	const doc = `apiVersion: policies.kubewarden.io/v1
kind: AdmissionPolicyGroup
metadata: {name: g}
spec:
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}
  expression: "signed() || (allowed_repos() && !bad())"
  message: images must be signed
  policies:
    signed:
      module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
      settings:
        modifyImagesWithDigest: false
        signatures: [{image: "*", keyless: [{issuer: i, subject: s}]}]
    bad:
      module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
      settings: {signatures: []}
    allowed_repos:
      module: registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1
`
	p, err := Parse(fromYAML(t, doc), "g.yaml:1", "team")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Group || p.Mutating || p.Namespace != "team" || p.UniqueName() != "namespaced-team-g" || p.Message != "images must be signed" || !p.VerifyImages {
		t.Fatalf("group = %+v", p)
	}
	var names []string
	for _, m := range p.Members {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "allowed_repos,bad,signed" {
		t.Errorf("members %v, want them by name", names)
	}
	if m := p.Members[0]; m.VerifyImages || m.Settings != nil {
		t.Errorf("allowed_repos = %+v, want not simulated", m)
	}
	if m := p.Members[1]; m.SettingsError != "Signatures must not be empty" {
		t.Errorf("bad = %+v, want its settings refused", m)
	}
	if m := p.Members[2]; m.Settings == nil || m.Settings.ModifyImagesWithDigest || m.Settings.Signatures[0].Kind != KindKeyless {
		t.Errorf("signed = %+v", m)
	}
}

// TestParseGroupExpression: the controller refuses a group whose expression calls what is no
// member, or whose member cannot be called; what this tool does not parse is not replayed.
func TestParseGroupExpression(t *testing.T) {
	doc := func(expr, member string) string {
		return `apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicyGroup
metadata: {name: g}
spec:
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}
  expression: "` + expr + `"
  message: refused
  policies:
    ` + member + `: {module: "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1", settings: {signatures: [{image: "*", keyless: [{issuer: i, subject: s}]}]}}
`
	}
	for _, tc := range []struct {
		name, expr, member, wantErr, unsupported string
	}{
		{name: "a call of a member", expr: "signed() == true", member: "signed"},
		{name: "a call of no member", expr: "signed() || other()", member: "signed", wantErr: `spec.expression: Invalid value: "signed() || other()": other() is not a policy of the group`},
		{name: "a member that cannot be called", expr: "true", member: "in", wantErr: "spec.policies.in: Invalid value"},
		{name: "a member name that is no identifier", expr: "true", member: "sig-ned", wantErr: "spec.policies.sig-ned: Invalid value"},
		{name: "Rhai beyond the common form", expr: "signed() && 1 < 2", member: "signed", unsupported: "spec.expression ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(fromYAML(t, doc(tc.expr, tc.member)), "g.yaml:1", "default")
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tc.unsupported == "" && len(p.Unsupported) > 0, tc.unsupported != "" && (len(p.Unsupported) != 1 || !strings.HasPrefix(p.Unsupported[0], tc.unsupported)):
				t.Errorf("Unsupported = %q, want %q", p.Unsupported, tc.unsupported)
			}
		})
	}
}
