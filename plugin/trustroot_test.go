package plugin_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestTrustedRoot: --trusted-root stands in for what Kyverno fetches over TUF (here the
// Fulcio roots of a keyless entry without roots, and the Rekor key of a checked log); without
// it the rule is not replayed, with a warning, and fails closed.
func TestTrustedRoot(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	t.Cleanup(reg.Close)
	ca, err := verifytest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	rekor, err := verifytest.NewRekor()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue("https://github.com/acme/app/.github/workflows/release.yaml@refs/heads/main", "https://token.actions.githubusercontent.com")
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/trust/app:v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.SignDetached(ref, verifytest.Detached{Key: id.Key, CertPEM: id.CertPEM, ChainPEM: id.ChainPEM, Log: rekor, LoggedAt: ca.Cert.NotBefore.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, err := verifytest.TrustedRootJSON(ca, rekor)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "trusted_root.json"), string(root))
	otherCA, err := verifytest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := verifytest.TrustedRootJSON(otherCA, rekor)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "other_root.json"), string(other))
	write(t, filepath.Join(dir, "policy.yaml"), `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keyless-public}
spec:
  rules:
  - name: keyless
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["`+reg.Host+`/trust/*"]
      failureAction: Enforce
      attestors:
      - entries:
        - keyless:
            subject: https://github.com/acme/*
            issuer: https://token.actions.githubusercontent.com
            rekor: {url: https://rekor.sigstore.dev}
            ctlog: {ignoreSCT: true}
`)
	write(t, filepath.Join(dir, "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers:\n  - {name: app, image: "+ref+"}\n")
	write(t, filepath.Join(dir, "broken.json"), `{"mediaType": "application/json"}`)
	base := []string{"--policy", filepath.Join(dir, "policy.yaml"), "-f", filepath.Join(dir, "pod.yaml")}

	rep, code, stderr := simulateJSON(t, append(base, "--trusted-root", filepath.Join(dir, "trusted_root.json"))...)
	if code != 0 || rep.Results[0].Decision != report.Allow || rep.Summary.Incomplete != 0 {
		t.Fatalf("with the trust root: exit %d, %+v, stderr %s; want verified", code, rep.Results, stderr)
	}
	found := false
	for _, c := range rep.Results[0].Checks {
		found = found || c.Message == "verified image signatures for "+ref
	}
	if !found {
		t.Errorf("checks = %+v, want the signature verified", rep.Results[0].Checks)
	}

	rep, code, _ = simulateJSON(t, append(base, "--trusted-root", filepath.Join(dir, "other_root.json"))...)
	if code != 1 || rep.Results[0].Decision != report.Deny || !strings.Contains(rep.Results[0].Checks[0].Message, "certificate signed by unknown authority") {
		t.Errorf("with another CA's trust root: exit %d, %+v; want a verification failure", code, rep.Results)
	}

	rep, code, stderr = simulateJSON(t, base...)
	if code != 1 || rep.Summary.Incomplete != 1 || rep.Results[0].Decision != report.Deny {
		t.Fatalf("without a trust root: exit %d, summary %+v; want a fail-closed, incomplete denial", code, rep.Summary)
	}
	if !strings.Contains(stderr, "give --trusted-root") || !strings.HasPrefix(rep.Results[0].Checks[0].Message, "kubectl-verify: ") {
		t.Errorf("without a trust root: stderr %q, checks %+v; want the warning and an error check", stderr, rep.Results[0].Checks)
	}

	for _, bad := range []string{filepath.Join(dir, "broken.json"), filepath.Join(dir, "missing.json")} {
		code, msg := errorOf(t, "", append(append([]string{"simulate"}, base...), "--trusted-root", bad, "-o", "json")...)
		if code != 2 || !strings.Contains(msg, "--trusted-root") || !strings.Contains(msg, bad) {
			t.Errorf("--trusted-root %s: exit %d %q; want exit 2 naming flag and file", bad, code, msg)
		}
	}
}
