//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/scenario"
)

// liveSkip is why the files-only tests leave a live scenario (cluster.yaml) out: its answer
// depends on objects only a cluster holds, and `kyverno apply` reads no cluster here.
const liveSkip = "live scenario (cluster.yaml): run by TestKyvernoAdmission against the cluster holding its objects, with policies read from there"

// TestScenarios runs `kubectl verify simulate -o json` on every scenario and compares the
// report and exit code with expected.yaml.
func TestScenarios(t *testing.T) {
	requireBinary(t)
	for _, p := range s.scenarios {
		t.Run(p.sc.Name, func(t *testing.T) {
			t.Parallel()
			p.requireReady(t)
			if p.sc.Live() {
				t.Skip(liveSkip)
			}
			r := p.simulate()
			if r.err != nil {
				t.Fatalf("%s: %v\nstderr:\n%s", r.cmdline, r.err, r.stderr)
			}
			diffs := scenario.Diff(p.files.Expected, r.stdout, r.exitCode)
			for _, d := range diffs {
				t.Errorf("%s", d)
			}
			if len(diffs) > 0 {
				t.Logf("command: %s\nexit code: %d\nstderr:\n%s", r.cmdline, r.exitCode, r.stderr)
			}
		})
	}
}

// TestDifferential compares, per resource, the set of (policy, rule, result, message) in our
// Kyverno checks with what `kyverno apply -p` reports for the same files and registry.
// Kyverno's CLI is the truth here.
func TestDifferential(t *testing.T) {
	requireBinary(t)
	for _, p := range s.scenarios {
		t.Run(p.sc.Name, func(t *testing.T) {
			t.Parallel()
			p.requireReady(t)
			if !p.files.Expected.DifferentialEnabled() {
				t.Skip("expected.yaml: differential: false")
			}
			if !p.files.Expected.KyvernoApplyRuns() {
				t.Skip("expected.yaml: kyvernoApply: false (the CLI never answers)")
			}
			if p.sc.Live() {
				t.Skip(liveSkip)
			}
			theirs, raw, err := p.kyvernoApply()
			if errors.Is(err, errNoKyvernoPolicies) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatalf("kyverno apply: %v", err)
			}
			r := p.simulate()
			if r.err != nil {
				t.Fatalf("%s: %v\nstderr:\n%s", r.cmdline, r.err, r.stderr)
			}
			rep, err := scenario.ParseReport(r.stdout)
			if err != nil {
				t.Fatalf("kubectl verify simulate -o json (exit %d): %v\nstdout:\n%s\nstderr:\n%s", r.exitCode, err, r.stdout, r.stderr)
			}
			diffs := scenario.DiffCheckSets("kyverno apply", theirs, "kubectl verify", scenario.ReportChecks(rep, "kyverno"), differentialKeys(p, rep))
			for _, d := range diffs {
				t.Errorf("%s", d)
			}
			if len(diffs) > 0 {
				t.Logf("kyverno apply -p output:\n%s", raw)
			}
		})
	}
}

// TestKyvernoOracle keeps expected.yaml honest: the checks it lists must be exactly what the
// real Kyverno CLI reports. It needs no kubectl-verify binary.
func TestKyvernoOracle(t *testing.T) {
	for _, p := range s.scenarios {
		t.Run(p.sc.Name, func(t *testing.T) {
			t.Parallel()
			p.requireReady(t)
			if !p.files.Expected.DifferentialEnabled() {
				t.Skip("expected.yaml: differential: false")
			}
			if !p.files.Expected.KyvernoApplyRuns() {
				t.Skip("expected.yaml: kyvernoApply: false (the CLI never answers)")
			}
			if p.sc.Live() {
				t.Skip(liveSkip)
			}
			theirs, raw, err := p.kyvernoApply()
			if errors.Is(err, errNoKyvernoPolicies) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatalf("kyverno apply: %v", err)
			}
			want := scenario.ExpectedChecks(p.files.Expected)
			keep := map[string]bool{}
			for k := range want {
				keep[k] = true
			}
			for k := range theirs {
				if !excludedFromDifferential(p.files.Expected, k) {
					keep[k] = true
				}
			}
			diffs := scenario.DiffCheckSets("expected.yaml", want, "kyverno apply", theirs, keep)
			for _, d := range diffs {
				t.Errorf("%s", d)
			}
			if len(diffs) > 0 {
				t.Logf("kyverno apply -p output:\n%s", raw)
			}
		})
	}
}

// differentialKeys is the set of resources compared with Kyverno: every resource of our
// report and of expected.yaml, minus those expected.yaml marks differential: false.
func differentialKeys(p *prepared, rep scenario.Report) map[string]bool {
	keep := map[string]bool{}
	for _, r := range rep.Results {
		keep[r.Resource.Key()] = true
	}
	for _, r := range p.files.Expected.Results {
		keep[r.Resource.Key()] = true
	}
	for k := range keep {
		if excludedFromDifferential(p.files.Expected, k) {
			delete(keep, k)
		}
	}
	return keep
}

func excludedFromDifferential(exp scenario.Expected, key string) bool {
	for _, r := range exp.Results {
		if r.Resource.Key() == key {
			return !r.DifferentialEnabled()
		}
	}
	return false
}

// TestCLI checks the plain table output and the exit codes once, through kubectl.
func TestCLI(t *testing.T) {
	requireBinary(t)
	find := func(t *testing.T, name string) *prepared {
		t.Helper()
		for _, p := range s.scenarios {
			if p.sc.Name == name {
				p.requireReady(t)
				return p
			}
		}
		t.Skipf("scenario %s not selected", name)
		return nil
	}
	tests := []struct {
		name     string
		scenario string
		args     func(t *testing.T, p *prepared) []string
		wantExit int
		// every string must appear in stdout (table) or stderr (errors)
		wantStdout []string
		wantStderr []string
	}{
		{
			name:     "table, allowed",
			scenario: "signed",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", p.files.Resources}
			},
			wantExit:   0,
			wantStdout: []string{"NAMESPACE", "RESOURCE", "DECISION", "IF-ENFORCED", "REASON", "default", "Pod/good", "allow"},
		},
		{
			name:     "table, denied",
			scenario: "unsigned",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", p.files.Resources}
			},
			wantExit:   1,
			wantStdout: []string{"NAMESPACE", "RESOURCE", "DECISION", "IF-ENFORCED", "REASON", "Pod/bad", "deny", "no signatures found"},
		},
		{
			name:     "denied but --fail-on=never",
			scenario: "unsigned",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", p.files.Resources, "--fail-on=never"}
			},
			wantExit:   0,
			wantStdout: []string{"Pod/bad", "deny"},
		},
		{
			name:     "audit failure only: allowed, exit 0",
			scenario: "audit-enforce-override",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", auditOnly(t, p)}
			},
			wantExit:   0,
			wantStdout: []string{"dev", "Pod/unsigned", "allow", "deny"},
		},
		{
			name:     "audit failure only, --enforce: exit follows decisionIfEnforced",
			scenario: "audit-enforce-override",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", auditOnly(t, p), "--enforce"}
			},
			wantExit:   1,
			wantStdout: []string{"Pod/unsigned"},
		},
		{
			name:     "audit failure only, --fail-on=warn",
			scenario: "audit-enforce-override",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", auditOnly(t, p), "--fail-on=warn"}
			},
			wantExit:   1,
			wantStdout: []string{"Pod/unsigned"},
		},
		{
			name:     "nonexistent -f file",
			scenario: "signed",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", p.files.Policies, "-f", filepath.Join(p.dir, "does-not-exist.yaml")}
			},
			wantExit:   2,
			wantStderr: []string{"does-not-exist.yaml"},
		},
		{
			name:     "nonexistent --policy file",
			scenario: "signed",
			args: func(t *testing.T, p *prepared) []string {
				return []string{"--policy", filepath.Join(p.dir, "no-policies.yaml"), "-f", p.files.Resources}
			},
			wantExit:   2,
			wantStderr: []string{"no-policies.yaml"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := find(t, tc.scenario)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			r := execCmd(ctx, p.dir, s.kubectl, append([]string{"verify", "simulate"}, tc.args(t, p)...)...)
			if r.err != nil {
				t.Fatalf("%s: %v", r.cmdline, r.err)
			}
			if r.exitCode != tc.wantExit {
				t.Errorf("%s: exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.cmdline, r.exitCode, tc.wantExit, r.stdout, r.stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(string(r.stdout), w) {
					t.Errorf("%s: stdout lacks %q; stdout:\n%s", r.cmdline, w, r.stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(string(r.stderr), w) {
					t.Errorf("%s: stderr lacks %q; stderr:\n%s", r.cmdline, w, r.stderr)
				}
			}
			if tc.wantExit != 2 && strings.HasPrefix(strings.TrimSpace(string(r.stdout)), "{") {
				t.Errorf("%s: default output is JSON, want a table", r.cmdline)
			}
		})
	}
}

// auditOnly writes a manifest with only the audit-enforce-override scenario's Pod that fails
// in Audit mode (namespace dev): allowed with warnings, denied if enforced.
func auditOnly(t *testing.T, p *prepared) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit-only.yaml")
	manifest := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unsigned\n  namespace: dev\nspec:\n  containers:\n  - name: app\n    image: " +
		p.registry + "/test/app:unsigned\n"
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHarness checks the fixtures themselves: every scenario set up, and the isolated
// environment really is empty.
func TestHarness(t *testing.T) {
	for _, p := range s.scenarios {
		if p.err != nil {
			t.Errorf("scenario %s: setup: %v", p.sc.Name, p.err)
		}
	}
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "KUBECONFIG="); ok {
			if _, err := os.Stat(v); err == nil {
				t.Errorf("KUBECONFIG %s exists; the suite must not use a kubeconfig", v)
			}
		}
	}
	t.Logf("scenarios: %s", strings.Join(scenarioNames(), ", "))
}

// TestLoadedPolicies: the check that `kyverno apply` loaded every policy counts only its
// deprecation warnings for that file.
func TestLoadedPolicies(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policies.yaml")
	doc := "apiVersion: kyverno.io/v1\nkind: %s\nmetadata:\n  name: %s\n  namespace: ns\nspec: {}\n"
	if err := os.WriteFile(file, []byte(fmt.Sprintf(doc, "ClusterPolicy", "a")+"---\n"+fmt.Sprintf(doc, "Policy", "b")+"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		stdout string
		loaded int
	}{
		{"both", "Warning: " + file + ": kyverno.io/v1 ClusterPolicy is deprecated and will be removed\nWarning: " + file + ": kyverno.io/v1 Policy is deprecated\n{}", 2},
		{"one dropped", "Warning: " + file + ": kyverno.io/v1 ClusterPolicy is deprecated\n{}", 1},
		{"another file's", "Warning: /other/policies.yaml: kyverno.io/v1 ClusterPolicy is deprecated\n{}", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded, want, err := loadedPolicies(file, []byte(tc.stdout))
			if err != nil || loaded != tc.loaded || want != 2 {
				t.Errorf("loadedPolicies = %d of %d (%v), want %d of 2", loaded, want, err, tc.loaded)
			}
		})
	}
}
