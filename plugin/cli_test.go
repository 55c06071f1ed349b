package plugin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/plugin"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// fixture writes a signed image, a policy trusting its key and a Pod using it.
func fixture(t *testing.T) (dir, policy, pod string) {
	t.Helper()
	reg := verifytest.NewRegistry(false)
	t.Cleanup(reg.Close)
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/cli/app:v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	data, err := os.ReadFile(keyPolicy(t, dir, reg.Host, key))
	if err != nil {
		t.Fatal(err)
	}
	policy = string(data)
	pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: " + ref + "}\n"
	write(t, filepath.Join(dir, "pod.yaml"), pod)
	write(t, filepath.Join(dir, "kustomization.yaml"), "resources: [pod.yaml]\n")
	return dir, policy, pod
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestInputsAndExitCodes(t *testing.T) {
	dir, policy, pod := fixture(t)
	p, f := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "pod.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n")
	audit := filepath.Join(dir, "audit.yaml")
	write(t, audit, strings.Replace(policy, "    - failureAction: Enforce\n", "    - failureAction: Audit\n", 1))
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantOut    string // substring of stdout
		wantErr    string // substring of the error/stderr
		wantSource string // resource.source of the single result
	}{
		{name: "files", args: []string{"simulate", "--policy", p, "-f", f, "-o", "json"}, wantCode: 0, wantSource: f + ":1"},
		{name: "resources on stdin", stdin: pod, args: []string{"simulate", "--policy", p, "-f", "-", "-o", "json"}, wantCode: 0, wantSource: "-:1"},
		{name: "policies on stdin", stdin: policy, args: []string{"simulate", "--policy", "-", "-f", f, "-o", "json"}, wantCode: 0, wantSource: f + ":1"},
		{name: "kustomize", args: []string{"simulate", "--policy", p, "-k", dir, "-o", "json"}, wantCode: 0, wantSource: "kustomize:" + dir},
		{name: "directory recursive", args: []string{"simulate", "--policy", p, "-f", dir, "-R", "-o", "json"}, wantCode: 2, wantErr: "bad.yaml"},
		{name: "yaml that does not parse", args: []string{"simulate", "--policy", p, "-f", bad}, wantCode: 2, wantErr: bad},
		{name: "missing file", args: []string{"simulate", "--policy", p, "-f", filepath.Join(dir, "nope.yaml")}, wantCode: 2, wantErr: "does not exist"},
		{name: "policy kyverno refuses", args: []string{"simulate", "--policy", audit, "-f", f}, wantCode: 2, wantErr: "spec.rules[0].verifyImages[0].mutateDigest: mutateDigest must be set to false"},
		{name: "resource as policy", args: []string{"simulate", "--policy", f, "-f", f}, wantCode: 2, wantErr: "Pod/web: not a policy kind"},
		{name: "update of files without old objects asks the cluster", args: []string{"simulate", "--policy", p, "-f", f, "--operation=UPDATE", "--kubeconfig", filepath.Join(dir, "no-kubeconfig")}, wantCode: 2, wantErr: "cannot reach the cluster"},
		{name: "TYPE with -f", args: []string{"simulate", "--policy", p, "-f", f, "pods"}, wantCode: 2, wantErr: "without -f/-k"},
		{name: "-A with -f", args: []string{"simulate", "--policy", p, "-f", f, "-A"}, wantCode: 2, wantErr: "without -f/-k"},
		{name: "bad output", args: []string{"simulate", "--policy", p, "-f", f, "-o", "xml"}, wantCode: 2, wantErr: "--output"},
		{name: "unknown flag", args: []string{"simulate", "--nope"}, wantCode: 2, wantErr: "unknown flag"},
		{name: "table", args: []string{"simulate", "--policy", p, "-f", f}, wantCode: 0, wantOut: "NAMESPACE   RESOURCE   DECISION   IF-ENFORCED   REASON"},
		{name: "images json", args: []string{"images", "--policy", p, "-f", f, "-o", "json"}, wantCode: 0, wantOut: `"kind": "ImageReport"`},
		{name: "images table", args: []string{"images", "--policy", p, "-f", f}, wantCode: 0, wantOut: "CONTAINER"},
		{name: "version", args: []string{"version"}, wantCode: 0, wantOut: "Kyverno 1.19, policy-controller 0.15, verify-image-signatures 1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("kubectl verify %v: exit %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr)
			}
			if tt.wantOut != "" && !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", out, tt.wantOut)
			}
			if tt.wantErr != "" {
				// Execute returns the error to main, which prints it; the message is what run sees.
				_, errText := errorOf(t, tt.stdin, tt.args...)
				if !strings.Contains(errText+stderr, tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", errText+stderr, tt.wantErr)
				}
			}
			if tt.wantSource != "" {
				var rep report.SimulationReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("report does not parse: %v", err)
				}
				if len(rep.Results) != 1 || rep.Results[0].Resource.Source != tt.wantSource || rep.Results[0].Decision != report.Allow {
					t.Errorf("results = %+v, want one allowed result from %s", rep.Results, tt.wantSource)
				}
			}
		})
	}
}

func TestYAMLOwnerAndInputWarnings(t *testing.T) {
	dir, _, _ := fixture(t)
	p := filepath.Join(dir, "policy.yaml")
	res := filepath.Join(dir, "owned.yaml")
	write(t, res, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: ""}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: default
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: ""}
`)
	jsonOut, _, code := run(t, "", "simulate", "--policy", p, "-f", res, "-o", "json")
	yamlOut, stderr, code2 := run(t, "", "simulate", "--policy", p, "-f", res, "-o", "yaml")
	if code != 0 || code2 != 0 {
		t.Fatalf("exit %d/%d: %s", code, code2, stderr)
	}
	var fromJSON, fromYAML report.SimulationReport
	if err := json.Unmarshal([]byte(jsonOut), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(yamlOut), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fromJSON, fromYAML); d != "" {
		t.Errorf("-o yaml is not the -o json document (-json +yaml):\n%s", d)
	}
	var rs *report.Result
	for i := range fromJSON.Results {
		if fromJSON.Results[i].Resource.Kind == "ReplicaSet" {
			rs = &fromJSON.Results[i]
		}
	}
	if rs == nil || rs.Resource.Owner == nil || *rs.Resource.Owner != (report.Owner{Kind: "Deployment", Name: "web"}) {
		t.Errorf("ReplicaSet owner = %+v, want Deployment/web", rs)
	}
	if s := fromJSON.Summary; s.Resources != 2 || s.Workloads != 1 || s.WorkloadsDenied != 0 {
		t.Errorf("summary = %+v, want 2 resources, 1 top-level workload (the ReplicaSet is the Deployment's)", s)
	}
	_, tableErr, _ := run(t, "", "simulate", "--policy", p, "-f", res)
	if want := "0 of 1 workloads would be denied if enforced (0 now)"; !strings.Contains(tableErr, want) {
		t.Errorf("table stderr = %q, want the impact line %q", tableErr, want)
	}
	want := `/spec/template/spec/containers/0/image: container "app" has an empty image`
	if len(rs.InputWarnings) != 1 || rs.InputWarnings[0] != want {
		t.Errorf("inputWarnings = %q, want [%q]", rs.InputWarnings, want)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want the input warning there too", stderr)
	}
}

// TestUnreachableCluster: when the cluster is needed and cannot be reached, exit 2 naming
// the server, for each way the cluster is needed.
func TestUnreachableCluster(t *testing.T) {
	dir, _, _ := fixture(t)
	dead := deadHost(t)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	write(t, kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://`+dead+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`)
	t.Setenv("KUBECONFIG", kubeconfig)
	p, f := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "pod.yaml")
	for name, args := range map[string][]string{
		"cluster policies":  {"simulate", "-f", f},
		"cluster resources": {"simulate", "--policy", p, "pods"},
		"both":              {"images"},
	} {
		t.Run(name, func(t *testing.T) {
			code, msg := errorOf(t, "", args...)
			if code != 2 || !strings.Contains(msg, "cannot reach the cluster at https://"+dead) {
				t.Errorf("kubectl verify %v = exit %d %q, want exit 2 naming https://%s", args, code, msg, dead)
			}
		})
	}
}

func TestPoliciesCommand(t *testing.T) {
	dir, policy, _ := fixture(t)
	p := filepath.Join(dir, "policy.yaml")
	out, stderr, code := run(t, "", "policies", "--policy", p, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list plugin.PolicyList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	wantEngines := []plugin.EngineStatus{
		{Name: "kyverno", Found: true, Kinds: []string{"kyverno.io ClusterPolicy"}, Replayed: true},
		{Name: "sigstore", Kinds: []string{}, Replayed: true},
		{Name: "kubewarden", Kinds: []string{}, Replayed: true},
	}
	if d := cmp.Diff(wantEngines, list.Engines); d != "" {
		t.Errorf("engines (-want +got):\n%s", d)
	}
	if len(list.Policies) != 1 {
		t.Fatalf("policies = %+v, want one rule", list.Policies)
	}
	row := list.Policies[0]
	if row.Name != "check-image" || row.Mode != "enforce" || len(row.Authorities) != 1 || row.Authorities[0] != "1 public key(s) (all must verify)" || len(row.Unsupported) != 0 {
		t.Errorf("row = %+v", row)
	}
	table, _, _ := run(t, "", "policies", "--policy", p)
	for _, want := range []string{"kyverno: found: kyverno.io ClusterPolicy", "sigstore: not found", "ENGINE", "ClusterPolicy/check-image"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	bad := filepath.Join(dir, "audit.yaml")
	write(t, bad, strings.Replace(policy, "    - failureAction: Enforce\n", "    - failureAction: Audit\n", 1))
	if code, msg := errorOf(t, "", "policies", "--policy", bad); code != 2 || !strings.Contains(msg, "mutateDigest must be set to false") {
		t.Errorf("policies on a refused policy = exit %d %q, want 2 naming the field", code, msg)
	}
}

// TestSecretKeyWithoutCluster: a key held in a Secret cannot be read in files x files mode
// (which never contacts the cluster): a kubectl-verify error, fail closed, once on stderr.
func TestSecretKeyWithoutCluster(t *testing.T) {
	dir, policy, _ := fixture(t)
	i := strings.Index(policy, "            publicKeys: |-")
	j := strings.Index(policy, "            rekor:")
	p := filepath.Join(dir, "secret-policy.yaml")
	write(t, p, policy[:i]+"            secret: {name: cosign-key, namespace: kyverno}\n"+policy[j:])
	rep, code, stderr := simulateJSON(t, "--policy", p, "-f", filepath.Join(dir, "pod.yaml"))
	if code != 1 || rep.Summary.Incomplete != 1 || rep.Results[0].Decision != report.Deny {
		t.Fatalf("exit %d, summary %+v: want a fail-closed, incomplete denial", code, rep.Summary)
	}
	c := rep.Results[0].Checks
	want := "kubectl-verify: k8s://kyverno/cosign-key: keys from Kubernetes Secrets are read from the cluster"
	if len(c) == 0 || !strings.HasPrefix(c[0].Message, want) {
		t.Errorf("checks = %+v, want a kubectl-verify error about the Secret", c)
	}
	if n := strings.Count(stderr, "keys from Kubernetes Secrets are read from the cluster"); n != 1 {
		t.Errorf("stderr mentions it %d times, want once:\n%s", n, stderr)
	}
}

// TestPoliciesAuthorities: attestations, Sigstore bundles and what needs a trust root are
// shown per rule, and --trusted-root takes the last off the unsupported list.
func TestPoliciesAuthorities(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.yaml")
	write(t, p, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: mixed}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["registry.example/*"]
      failureAction: Enforce
      type: SigstoreBundle
      attestors:
      - entries:
        - keys: {publicKeys: "k8s://ns/key", rekor: {ignoreTlog: true}, ctlog: {ignoreSCT: true}}
    - imageReferences: ["other.example/*"]
      failureAction: Enforce
      attestations:
      - type: https://slsa.dev/provenance/v1
        attestors:
        - entries:
          - keyless: {subject: s, issuer: i, rekor: {url: https://rekor.sigstore.dev}, ctlog: {ignoreSCT: true}}
`)
	root := filepath.Join(dir, "trusted_root.json")
	rootJSON, err := verifytest.TrustedRootJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, string(rootJSON))
	tests := []struct {
		name            string
		args            []string
		wantUnsupported int
	}{
		{"without a trust root", nil, 2},
		{"with a trust root", []string{"--trusted-root", root}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, "", append([]string{"policies", "--policy", p, "-o", "json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var list plugin.PolicyList
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			want := []string{"Sigstore bundle: key k8s://ns/key (all must verify)", "attestation https://slsa.dev/provenance/v1: keyless (all must verify)"}
			if len(list.Policies) != 1 || !cmp.Equal(list.Policies[0].Authorities, want) {
				t.Fatalf("policies = %+v, want authorities %q", list.Policies, want)
			}
			if got := list.Policies[0].Unsupported; len(got) != tt.wantUnsupported {
				t.Errorf("unsupported = %q, want %d entries (the attestation's Fulcio roots and Rekor keys need a trust root)", got, tt.wantUnsupported)
			}
		})
	}
}
