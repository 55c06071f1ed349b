package plugin_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  []string
	}{
		{"bash", []string{"__start_kubectl-verify()", "complete -o default -F __start_kubectl-verify kubectl-verify", "__complete"}},
		{"zsh", []string{"#compdef kubectl-verify", "compdef _kubectl-verify kubectl-verify", "__complete"}},
		{"fish", []string{"complete -c kubectl-verify ", "__complete"}},
		{"powershell", []string{"Register-ArgumentCompleter -CommandName 'kubectl-verify'", "__complete"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out, stderr, code := run(t, "", "completion", tt.shell)
			if code != 0 {
				t.Fatalf("completion %s: exit %d: %s", tt.shell, code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("completion %s lacks %q", tt.shell, w)
				}
			}
			// Scripts are for the executable: nothing may hijack kubectl's own completion.
			if strings.Contains(out, "__start_kubectl()") || strings.Contains(out, "complete -c kubectl ") || strings.Contains(out, "#compdef kubectl\n") {
				t.Errorf("completion %s completes kubectl itself", tt.shell)
			}
		})
	}
	if code, msg := errorOf(t, "", "completion", "tcsh"); code != 2 || !strings.Contains(msg, "bash, zsh, fish, powershell") {
		t.Errorf("completion tcsh = exit %d %q, want 2 naming the shells", code, msg)
	}
	// The help text still reads `kubectl verify` after a script was written.
	if out, _, _ := run(t, "", "completion", "bash"); out == "" {
		t.Fatal("no script")
	}
	if help, _, _ := run(t, "", "simulate", "--help"); !strings.Contains(help, "kubectl verify simulate [TYPE[/NAME]...]") {
		t.Errorf("help after completion:\n%s", help)
	}
}

// complete asks the hidden __complete command, as a shell script or kubectl_complete-verify
// does, and returns the candidates (descriptions dropped) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, stderr, code := run(t, "", append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		got = append(got, name)
	}
	return got, lines[len(lines)-1]
}

func TestCompletionValues(t *testing.T) {
	dir, policy, _ := fixture(t)
	p := filepath.Join(dir, "policy.yaml")
	// A second policy, namespaced, so that names show their namespace.
	ns := filepath.Join(dir, "ns.yaml")
	write(t, ns, strings.Replace(strings.Replace(policy, "kind: ClusterPolicy", "kind: Policy", 1), "metadata: {name: check-image}", "metadata: {name: team-check, namespace: team-a}", 1))
	kubeconfig := filepath.Join(dir, "kubeconfig")
	write(t, kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:1"}}, {name: staging, cluster: {server: "https://127.0.0.1:2"}}]
users: [{name: alice, user: {}}]
contexts: [{name: prod-admin, context: {cluster: prod, user: alice}}, {name: staging-admin, context: {cluster: staging, user: alice}}]
current-context: prod-admin
`)
	noFiles := ":4"
	tests := []struct {
		name          string
		args          []string
		want          []string
		wantDirective string
	}{
		{name: "simulate output", args: []string{"simulate", "-o", ""}, want: []string{"table", "wide", "json", "yaml", "policyreport", "openreports", "sarif", "junit", "markdown"}, wantDirective: noFiles},
		{name: "output prefix", args: []string{"images", "--output", "j"}, want: []string{"json", "junit"}, wantDirective: noFiles},
		{name: "pin output", args: []string{"pin", "-o", "ya"}, want: []string{"yaml"}, wantDirective: noFiles},
		{name: "policies output", args: []string{"policies", "-o", ""}, want: []string{"table", "json", "yaml"}, wantDirective: noFiles},
		{name: "fail-on", args: []string{"simulate", "--fail-on", ""}, want: []string{"deny", "warn", "never"}, wantDirective: noFiles},
		{name: "operation", args: []string{"simulate", "--operation", "U"}, want: []string{"UPDATE"}, wantDirective: noFiles},
		{name: "policy names from files", args: []string{"policies", "--policy", p, "--policy", ns, ""}, want: []string{"check-image", "team-a/team-check"}, wantDirective: noFiles},
		{name: "policy names not repeated", args: []string{"policies", "--policy", p, "--policy", ns, "check-image", ""}, want: []string{"team-a/team-check"}, wantDirective: noFiles},
		{name: "policy names by prefix", args: []string{"policies", "--policy", p, "--policy", ns, "team"}, want: []string{"team-a/team-check"}, wantDirective: noFiles},
		{name: "contexts from the kubeconfig", args: []string{"simulate", "--kubeconfig", kubeconfig, "--context", ""}, want: []string{"prod-admin", "staging-admin"}, wantDirective: noFiles},
		{name: "clusters from the kubeconfig", args: []string{"policies", "--kubeconfig", kubeconfig, "--cluster", "st"}, want: []string{"staging"}, wantDirective: noFiles},
		// Manifest files complete as files of their extensions (the shell does the listing).
		{name: "policy files", args: []string{"simulate", "--policy", ""}, want: []string{"yaml", "yml", "json"}, wantDirective: ":8"},
		{name: "kustomize directory", args: []string{"simulate", "-k", ""}, want: nil, wantDirective: ":16"},
		{name: "subcommands", args: []string{"c"}, want: []string{"completion"}, wantDirective: noFiles},
		{name: "shells", args: []string{"completion", ""}, want: []string{"bash", "zsh", "fish", "powershell"}, wantDirective: noFiles},
		// No cluster to ask: nothing, and no error in the shell.
		{name: "types without a cluster", args: []string{"simulate", "--kubeconfig", kubeconfig, "--request-timeout", "1s", "dep"}, want: nil, wantDirective: noFiles},
		{name: "no TYPE with -f", args: []string{"simulate", "-f", p, ""}, want: nil, wantDirective: noFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive := complete(t, tt.args...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("__complete %v (-want +got):\n%s", tt.args, diff)
			}
			if directive != tt.wantDirective {
				t.Errorf("__complete %v directive = %s, want %s", tt.args, directive, tt.wantDirective)
			}
		})
	}
}

// TestCompletionInShells loads each script into the real shell and completes a command line
// the way the shell does on TAB (zsh, which completes only interactively, registers it).
// .ci/run installs bash-completion, fish and zsh.
func TestCompletionInShells(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kubectl-verify")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/kubectl-verify").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		shell  string
		args   []string
		script string
		want   []string
	}{
		{
			shell: "bash", args: []string{"--norc", "-c"},
			script: `source /usr/share/bash-completion/bash_completion
source <(kubectl-verify completion bash)
COMP_LINE="kubectl-verify simulate --fail-on "
COMP_WORDS=(kubectl-verify simulate --fail-on "")
COMP_CWORD=3
COMP_POINT=${#COMP_LINE}
__start_kubectl-verify 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`,
			want: []string{"deny", "warn", "never"},
		},
		{
			shell: "fish", args: []string{"--no-config", "-c"},
			script: `kubectl-verify completion fish | source
complete -C "kubectl-verify simulate --operation "`,
			want: []string{"CREATE", "UPDATE"},
		},
		{
			shell: "zsh", args: []string{"-f", "-c"},
			script: `autoload -U compinit && compinit -u
source <(kubectl-verify completion zsh)
print -r -- $_comps[kubectl-verify]`,
			want: []string{"_kubectl-verify"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			sh, err := exec.LookPath(tt.shell)
			if err != nil {
				t.Fatalf("%s is not installed (.ci/run installs it)", tt.shell)
			}
			cmd := exec.Command(sh, append(tt.args, tt.script)...)
			cmd.Env = []string{"PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "TERM=dumb"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tt.shell, err, out)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				name, _, _ := strings.Cut(l, "\t") // fish adds descriptions
				got = append(got, name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s completion (-want +got):\n%s", tt.shell, diff)
			}
		})
	}
}

func TestPoliciesByName(t *testing.T) {
	dir, _, _ := fixture(t)
	p := filepath.Join(dir, "policy.yaml")
	out, stderr, code := run(t, "", "policies", "--policy", p, "check-image")
	if code != 0 || !strings.Contains(out, "ClusterPolicy/check-image") {
		t.Errorf("policies check-image: exit %d\n%s%s", code, out, stderr)
	}
	if code, msg := errorOf(t, "", "policies", "--policy", p, "check-image", "nope", "ns/other"); code != 2 || msg != `no image-verification policy named "nope", "ns/other" (namespaced policies are NAMESPACE/NAME)` {
		t.Errorf("policies with unknown names = exit %d %q", code, msg)
	}
}
