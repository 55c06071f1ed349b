package plugin_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestSigstoreConfigFile: --sigstore-config may hold policy-controller's compiled
// config-image-policies, which is how a KMS key or a remote policy is given offline: the
// entry's inlined data is replayed, and a policy without an entry is not enforced, as the
// webhook enforces only what its reconciler compiled.
func TestSigstoreConfigFile(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	t.Cleanup(reg.Close)
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/cfg/app:v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const remote = "package sigstore\nisCompliant { count(input.authorityMatches) == 1 }\n"
	write(t, filepath.Join(dir, "policies.yaml"), fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: kms-key}
spec:
  images: [{glob: "%s/cfg/**"}]
  authorities:
  - key: {kms: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"}
  policy:
    type: rego
    remote: {url: "https://policies.example.com/one.rego", sha256sum: "%x"}
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: retired}
spec:
  images: [{glob: "%s/cfg/**"}]
  authorities:
  - static: {action: fail}
`, reg.Host, sha256.Sum256([]byte(remote)), reg.Host))
	write(t, filepath.Join(dir, "pod.yaml"), `apiVersion: v1
kind: Namespace
metadata:
  name: secure
  labels: {policy.sigstore.dev/include: "true"}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: secure}
spec:
  containers:
  - {name: app, image: `+ref+`}
`)
	compiled := func(pub string) string {
		entry, err := json.Marshal(map[string]any{
			"images":      []any{map[string]any{"glob": reg.Host + "/cfg/**"}},
			"authorities": []any{map[string]any{"name": "authority-0", "key": map[string]any{"data": pub, "hashAlgorithm": "sha256"}}},
			"policy":      map[string]any{"type": "rego", "data": remote},
		})
		if err != nil {
			t.Fatal(err)
		}
		quoted, _ := json.Marshal(string(entry))
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-image-policies, namespace: cosign-system}\ndata:\n  kms-key: " + string(quoted) + "\n"
	}
	settings := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-policy-controller, namespace: cosign-system}\ndata: {no-match-policy: allow}\n"
	for _, tc := range []struct {
		name     string
		config   string // --sigstore-config content; "" = no flag
		decision string
		exit     int
		message  string // a substring of the denial, or of the exit-2 error
		stderr   string
	}{
		{name: "without the compiled policies the KMS key is not replayed", decision: report.Deny, exit: 1,
			message: "kubectl-verify: ", stderr: "key.kms"},
		{name: "compiled entry: the inlined key verifies, the policy without an entry is not enforced", config: settings + "---\n" + compiled(key.PublicPEM),
			decision: report.Allow, stderr: "ClusterImagePolicy retired is not enforced: it has no entry in "},
		{name: "compiled entry alone: the settings stay the defaults", config: compiled(key.PublicPEM), decision: report.Allow},
		{name: "compiled entry with another key", config: compiled(other.PublicPEM), decision: report.Deny, exit: 1,
			message: "failed policy: kms-key: spec.containers[0].image"},
		{name: "a ConfigMap of another name", config: strings.Replace(settings, "config-policy-controller", "policy-controller", 1), exit: 2,
			message: "config.yaml:1: ConfigMap policy-controller: expected the ConfigMaps config-policy-controller and/or config-image-policies"},
		{name: "the same ConfigMap twice", config: settings + "---\n" + settings, exit: 2, message: "each once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--policy", filepath.Join(dir, "policies.yaml"), "-f", filepath.Join(dir, "pod.yaml")}
			if tc.config != "" {
				cfg := filepath.Join(t.TempDir(), "config.yaml")
				write(t, cfg, tc.config)
				args = append(args, "--sigstore-config", cfg)
			}
			rep, code, stderr := simulateJSON(t, args...)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.exit, stderr)
			}
			if tc.exit == 2 {
				if !strings.Contains(stderr, tc.message) {
					t.Errorf("stderr lacks %q:\n%s", tc.message, stderr)
				}
				return
			}
			var pod *report.Result
			for i := range rep.Results {
				if rep.Results[i].Resource.Name == "web" {
					pod = &rep.Results[i]
				}
			}
			if pod == nil {
				t.Fatalf("no result for the Pod: %+v", rep.Results)
			}
			if pod.Decision != tc.decision || !strings.Contains(pod.Message+checkMessages(pod.Checks), tc.message) {
				t.Errorf("%s %q, checks %+v; want %s with %q", pod.Decision, pod.Message, pod.Checks, tc.decision, tc.message)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

func checkMessages(checks []report.Check) string {
	var b strings.Builder
	for _, c := range checks {
		b.WriteString(c.Message + "\n")
	}
	return b.String()
}
