package plugin_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-verify/kubectl-verify/plugin"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// kubewardenPolicies are (Cluster)AdmissionPolicies of every kind `policies` tells apart.
func kubewardenPolicies(t *testing.T) string {
	t.Helper()
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := verifytest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	// A certificates entry is checked at settings validation: it must be a real certificate.
	leaf, err := ca.Issue("https://github.com/acme/app/.github/workflows/release.yaml@refs/tags/v1", "https://token.actions.githubusercontent.com")
	if err != nil {
		t.Fatal(err)
	}
	pem := strings.ReplaceAll(strings.TrimSpace(key.PublicPEM), "\n", "\n        ")
	rules := `  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE, UPDATE]}
`
	return `apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: pin}
spec:
  module: registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
  mutating: true
` + rules + `  settings:
    signatures:
    - image: "registry.example/app*"
      pubKeys:
      - |
        ` + pem + `
      annotations: {env: prod}
---
apiVersion: policies.kubewarden.io/v1
kind: AdmissionPolicy
metadata: {name: watch}
spec:
  module: mirror.example.com/kubewarden/verify-image-signatures@sha256:1111111111111111111111111111111111111111111111111111111111111111
  mode: monitor
  mutating: true
` + rules + `  settings:
    signatures:
    - {image: "registry.example/kl*", keyless: [{issuer: "https://accounts.google.com", subject: "dev@example.com"}]}
    - {image: "registry.example/gh*", githubActions: {owner: acme, repo: app}}
    - {image: "registry.example/kp*", keylessPrefix: [{issuer: "https://token.actions.githubusercontent.com", url_prefix: "https://github.com/acme"}]}
    - {image: "registry.example/ce*", certificates: ["` + strings.ReplaceAll(strings.TrimSpace(leaf.CertPEM), "\n", `\n`) + `"], certificateChain: ["` + strings.ReplaceAll(strings.TrimSpace(ca.PEM), "\n", `\n`) + `"], requireRekorBundle: true}
    - {image: "registry.example/empty*", keyless: []}
    - {image: "registry.example/cn*", certificates: ["` + strings.ReplaceAll(strings.TrimSpace(leaf.CertPEM), "\n", `\n`) + `"], certificateChain: ["` + strings.ReplaceAll(strings.TrimSpace(ca.PEM), "\n", `\n`) + `"], requireRekorBundle: false}
---
apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: repos}
spec:
  module: registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1.0.0
  mutating: false
` + rules + `  settings: {allowedRegistries: [registry.example]}
---
apiVersion: policies.kubewarden.io/v1alpha2
kind: ClusterAdmissionPolicy
metadata: {name: fork}
spec:
  module: registry://ghcr.io/acme/verify-image-signatures-fork:v1
  mutating: true
` + rules + `  settings: {signatures: []}
---
apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: broken}
spec:
  module: ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
  mutating: true
` + rules + `  settings:
    signatures:
    - {image: "*", keylessPrefix: [{issuer: "https://token.actions.githubusercontent.com", urlPrefix: "https://github.com/acme"}]}
---
apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata: {name: cel}
spec:
  module: ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11
  mutating: true
  matchConditions:
  - {name: admins, expression: "authorizer.group('').resource('pods').check('create').allowed()"}
` + rules + `  settings:
    signatures:
    - {image: "*", githubActions: {owner: acme}}
`
}

// TestPoliciesKubewarden: every (Cluster)AdmissionPolicy is listed with its mode and whether
// it is simulated; verify-image-signatures rows name the signature shapes not replayed yet,
// other modules are listed as not simulated, never dropped.
func TestPoliciesKubewarden(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kubewarden.yaml")
	write(t, p, kubewardenPolicies(t))
	out, stderr, code := run(t, "", "policies", "--policy", p, "-n", "team-a", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list plugin.PolicyList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var kw plugin.EngineStatus
	for _, e := range list.Engines {
		if e.Name == "kubewarden" {
			kw = e
		}
	}
	wantKinds := []string{"policies.kubewarden.io/v1 AdmissionPolicy", "policies.kubewarden.io/v1 ClusterAdmissionPolicy", "policies.kubewarden.io/v1alpha2 ClusterAdmissionPolicy"}
	wantNote := "verify-image-signatures replayed, signatures pubKeys, certificates; keyless, githubActions, keylessPrefix, certificates with requireRekorBundle need --trusted-root (else a kubectl-verify error check); other modules listed, not simulated"
	if !kw.Found || !kw.Replayed || !cmp.Equal(kw.Kinds, wantKinds) || !strings.HasPrefix(kw.Note, wantNote) {
		t.Errorf("kubewarden engine = %+v, want found and replayed, kinds %q, a note naming what is replayed", kw, wantKinds)
	}

	type row struct {
		kind, namespace, mode, module string
		simulated                     bool
		images                        []string
		// authorities and unsupported: substrings, one per entry.
		authorities, unsupported []string
	}
	tests := []struct {
		name string
		want row
	}{
		{"pin", row{kind: "ClusterAdmissionPolicy", mode: "protect", simulated: true,
			module:      "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11",
			images:      []string{"registry.example/app*"},
			authorities: []string{"signatures[0]: 1 public key(s) (all must verify), annotations env=prod"},
			unsupported: []string{}}},
		{"watch", row{kind: "AdmissionPolicy", namespace: "team-a", mode: "monitor", simulated: true,
			module: "mirror.example.com/kubewarden/verify-image-signatures@sha256:1111111111111111111111111111111111111111111111111111111111111111",
			images: []string{"registry.example/kl*", "registry.example/gh*", "registry.example/kp*", "registry.example/ce*", "registry.example/empty*", "registry.example/cn*"},
			authorities: []string{"signatures[0]: keyless, 1 issuer/subject pair(s) (all must verify)", "signatures[1]: GitHub Actions owner acme, repo app",
				"signatures[2]: keyless prefix, 1 issuer/URL prefix pair(s) (all must verify)", "signatures[3]: 1 certificate(s) (all must verify), chain of 1, Rekor bundle required",
				"signatures[4]: keyless, 0 issuer/subject pair(s)", "signatures[5]: 1 certificate(s) (all must verify), chain of 1"},
			unsupported: []string{"signatures[0].keyless (needs the Fulcio roots and Rekor keys Kubewarden reads over TUF: give --trusted-root",
				"signatures[1].githubActions (needs the Fulcio roots", "signatures[2].keylessPrefix (needs the Fulcio roots",
				"signatures[3].certificates (needs the Fulcio roots"}}},
		{"repos", row{kind: "ClusterAdmissionPolicy", mode: "protect",
			module: "registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1.0.0", images: []string{}, authorities: []string{},
			unsupported: []string{"module registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1.0.0 is not verify-image-signatures: not simulated"}}},
		{"fork", row{kind: "ClusterAdmissionPolicy", mode: "protect",
			module: "registry://ghcr.io/acme/verify-image-signatures-fork:v1", images: []string{}, authorities: []string{},
			unsupported: []string{"is not verify-image-signatures: not simulated"}}},
		{"broken", row{kind: "ClusterAdmissionPolicy", mode: "protect", simulated: true,
			module: "ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11", images: []string{},
			authorities: []string{"never active: Policy settings are invalid: data did not match any variant of untagged enum Signature"},
			unsupported: []string{}}},
		{"cel", row{kind: "ClusterAdmissionPolicy", mode: "protect", simulated: true,
			module: "ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11", images: []string{"*"},
			authorities: []string{"signatures[0]: GitHub Actions owner acme"},
			unsupported: []string{"spec.matchConditions", "signatures[0].githubActions (needs the Fulcio roots"}}},
	}
	byName := map[string]plugin.PolicyRow{}
	for _, r := range list.Policies {
		if r.Engine != "kubewarden" {
			t.Errorf("row of engine %q: %+v", r.Engine, r)
		}
		byName[r.Name] = r
	}
	if len(list.Policies) != len(tests) {
		t.Errorf("%d rows, want one per policy (%d): %+v", len(list.Policies), len(tests), list.Policies)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := byName[tt.name]
			if !ok {
				t.Fatalf("policy %s not listed", tt.name)
			}
			if got.Kind != tt.want.kind || got.Namespace != tt.want.namespace || got.Mode != tt.want.mode || got.Module != tt.want.module ||
				got.Simulated != tt.want.simulated || got.Rule != "" || got.Source == "" {
				t.Errorf("row = %+v, want %+v", got, tt.want)
			}
			if !cmp.Equal(got.Images, tt.want.images) {
				t.Errorf("images = %q, want %q", got.Images, tt.want.images)
			}
			containsEach(t, "authorities", got.Authorities, tt.want.authorities)
			containsEach(t, "unsupported", got.Unsupported, tt.want.unsupported)
		})
	}

	table, _, code := run(t, "", "policies", "--policy", p)
	if code != 0 {
		t.Fatalf("table: exit %d", code)
	}
	for _, want := range []string{
		"kubewarden: found: policies.kubewarden.io/v1 AdmissionPolicy, policies.kubewarden.io/v1 ClusterAdmissionPolicy",
		"verify-image-signatures replayed, signatures pubKeys, certificates;",
		"ClusterAdmissionPolicy/pin", "AdmissionPolicy/default/watch", "ClusterAdmissionPolicy/repos",
		"allowed-image-repositories:v1.0.0 is not verify-image-signatures: not simulated",
		"monitor",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestPoliciesKubewardenTrustedRoot: with --trusted-root the keyless shapes and certificates
// with requireRekorBundle are replayed too.
func TestPoliciesKubewardenTrustedRoot(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kubewarden.yaml")
	write(t, p, kubewardenPolicies(t))
	root := filepath.Join(dir, "trusted_root.json")
	rootJSON, err := verifytest.TrustedRootJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, string(rootJSON))
	out, stderr, code := run(t, "", "policies", "--policy", p, "--trusted-root", root, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list plugin.PolicyList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	wantNote := "verify-image-signatures replayed, signatures pubKeys, keyless, githubActions, keylessPrefix, certificates; other modules listed, not simulated"
	if kw := list.Engines[2]; kw.Name != "kubewarden" || !strings.HasPrefix(kw.Note, wantNote) {
		t.Errorf("engine = %+v, want a note starting %q", kw, wantNote)
	}
	tests := []struct {
		name        string
		unsupported []string
	}{
		{"pin", []string{}},
		{"watch", []string{}},
		{"cel", []string{"spec.matchConditions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range list.Policies {
				if r.Name == tt.name {
					containsEach(t, "unsupported", r.Unsupported, tt.unsupported)
					return
				}
			}
			t.Errorf("policy %s not listed", tt.name)
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

// TestPoliciesKubewardenEngineStatus: what the engine line says depends on the kinds found.
func TestPoliciesKubewardenEngineStatus(t *testing.T) {
	group := `apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicyGroup
metadata: {name: g}
spec:
  expression: "a() || b()"
  message: "no"
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}
  policies:
    a: {module: "registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11", settings: {signatures: []}}
    b: {module: "registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1"}
`
	tests := []struct {
		name         string
		policies     string
		wantReplayed bool
		wantNote     string
		wantTable    string
		wantRows     int
	}{
		{"only a policy group", group, true, "policy groups replayed over their verify-image-signatures members", "policy groups replayed", 1},
		{"a policy and a group", kubewardenPolicies(t) + "---\n" + group, true, "policy groups replayed", "verify-image-signatures replayed, signatures pubKeys, certificates;", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "policies.yaml")
			write(t, p, tt.policies)
			out, stderr, code := run(t, "", "policies", "--policy", p, "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var list plugin.PolicyList
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			kw := list.Engines[2]
			if kw.Name != "kubewarden" || !kw.Found || kw.Replayed != tt.wantReplayed || !strings.Contains(kw.Note, tt.wantNote) {
				t.Errorf("engine = %+v, want replayed %v and a note with %q", kw, tt.wantReplayed, tt.wantNote)
			}
			if len(list.Policies) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(list.Policies), tt.wantRows)
			}
			var group *plugin.PolicyRow
			for i := range list.Policies {
				if list.Policies[i].Kind == "ClusterAdmissionPolicyGroup" {
					group = &list.Policies[i]
				}
			}
			if group == nil || !group.Simulated || group.Authorities[0] != "expression: a() || b()" ||
				!strings.Contains(strings.Join(group.Authorities, "\n"), "policies.a: invalid settings") ||
				!strings.Contains(strings.Join(group.Unsupported, "\n"), "policies.b (module registry://ghcr.io/kubewarden/policies/allowed-image-repositories:v1 is not verify-image-signatures: not simulated)") {
				t.Errorf("group row = %+v, want its expression, the invalid member and the member not simulated", group)
			}
			table, _, _ := run(t, "", "policies", "--policy", p)
			if !strings.Contains(table, tt.wantTable) {
				t.Errorf("table lacks %q:\n%s", tt.wantTable, table)
			}
		})
	}
}

// TestPoliciesKubewardenRefused: a policy the API server or the controller would refuse
// exits 2, naming the object and field; invalid settings do not (policy-server rejects
// requests instead).
func TestPoliciesKubewardenRefused(t *testing.T) {
	tests := []struct {
		name, spec, want string
	}{
		{"missing module", "  mutating: true\n  rules: [{apiGroups: [\"\"], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\n",
			"ClusterAdmissionPolicy/p is invalid: spec.module: Required value"},
		{"bad mode", "  module: ghcr.io/kubewarden/policies/verify-image-signatures:v1\n  mode: audit\n  mutating: true\n" +
			"  rules: [{apiGroups: [\"\"], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\n",
			`spec.mode: Unsupported value: "audit"`},
		{"rule without resources", "  module: ghcr.io/kubewarden/policies/verify-image-signatures:v1\n  mutating: true\n" +
			"  rules: [{apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE]}]\n",
			"spec.rules[0].resources: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "p.yaml")
			write(t, p, "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n"+tt.spec)
			if code, msg := errorOf(t, "", "policies", "--policy", p); code != 2 || !strings.Contains(msg, tt.want) || !strings.Contains(msg, p) {
				t.Errorf("exit %d %q, want 2 naming %s and %q", code, msg, p, tt.want)
			}
		})
	}
}
