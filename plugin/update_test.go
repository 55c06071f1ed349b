package plugin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// updateFixture: a signed image, a policy trusting its key, one trusting another key, and a
// Pod using the image.
func updateFixture(t *testing.T) (dir, policy, otherKeyPolicy, podFile string) {
	t.Helper()
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
	ref := reg.Host + "/upd/app:v1"
	if _, err := verifytest.Push(ref); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	policy = keyPolicy(t, dir, reg.Host, key)
	otherDir := filepath.Join(dir, "other")
	if err := os.MkdirAll(otherDir, 0o700); err != nil {
		t.Fatal(err)
	}
	otherKeyPolicy = keyPolicy(t, otherDir, reg.Host, other)
	podFile = filepath.Join(dir, "pod.yaml")
	write(t, podFile, "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers:\n  - {name: app, image: "+ref+"}\n")
	return dir, policy, otherKeyPolicy, podFile
}

func updateReport(t *testing.T, stdin string, args ...string) (report.SimulationReport, string, int) {
	t.Helper()
	out, stderr, code := run(t, stdin, append([]string{"simulate", "-o", "json"}, args...)...)
	if code == 2 {
		t.Fatalf("kubectl verify simulate %v: exit 2: %s", args, stderr)
	}
	var rep report.SimulationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, out)
	}
	return rep, stderr, code
}

// admitted writes the object the API server stores once admission's patch is applied.
func admitted(t *testing.T, dir, podFile string, r report.Result) string {
	t.Helper()
	var obj map[string]any
	data, err := os.ReadFile(podFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	out, err := admission.Apply(obj, r.Patch)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "admitted.yaml")
	write(t, path, string(b))
	return path
}

type shortCheck struct{ Result, Message string }

func shortChecks(cs []report.Check) []shortCheck {
	var out []shortCheck
	for _, c := range cs {
		out = append(out, shortCheck{c.Result, c.Message})
	}
	return out
}

// TestUpdateOfAdmittedObject: the object a CREATE admitted (pinned, with Kyverno's evidence),
// updated without a change to its image, is not verified again: even a policy that now
// trusts another key lets it through, while a CREATE of the same object is denied.
func TestUpdateOfAdmittedObject(t *testing.T) {
	dir, policy, otherKey, podFile := updateFixture(t)
	created, _, code := updateReport(t, "", "--policy", policy, "-f", podFile)
	if code != 0 || len(created.Results) != 1 {
		t.Fatalf("CREATE: exit %d, %+v", code, created.Results)
	}
	live := admitted(t, dir, podFile, created.Results[0])

	tests := []struct {
		name         string
		args         []string
		wantDecision string
		wantChecks   []shortCheck
		wantImageOp  bool // the patch replaces the image
	}{
		{
			name:         "update with the admitted object as old object",
			args:         []string{"--policy", policy, "-f", live, "--operation=UPDATE", "--old-filename", live},
			wantDecision: report.Allow,
			wantChecks:   []shortCheck{{"pass", "image verified"}},
		},
		{
			name:         "evidence outlives a key change",
			args:         []string{"--policy", otherKey, "-f", live, "--operation=update", "--old-filename", live},
			wantDecision: report.Allow,
			wantChecks:   []shortCheck{{"pass", "image verified"}},
		},
		{
			name:         "create of the admitted object verifies",
			args:         []string{"--policy", otherKey, "-f", live},
			wantDecision: report.Deny,
		},
		{
			name:         "update from the manifest: the image changed, verified and pinned again",
			args:         []string{"--policy", policy, "-f", podFile, "--operation=UPDATE", "--old-filename", live},
			wantDecision: report.Allow,
			wantChecks:   shortChecks(created.Results[0].Checks),
			wantImageOp:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, stderr, _ := updateReport(t, "", tc.args...)
			if len(rep.Results) != 1 {
				t.Fatalf("results %+v\nstderr %s", rep.Results, stderr)
			}
			r := rep.Results[0]
			if r.Decision != tc.wantDecision {
				t.Errorf("decision %s (%s), want %s", r.Decision, r.Message, tc.wantDecision)
			}
			if tc.wantChecks != nil {
				if d := cmp.Diff(tc.wantChecks, shortChecks(r.Checks)); d != "" {
					t.Errorf("checks (-want +got):\n%s", d)
				}
			}
			imageOp := false
			for _, p := range r.Patch {
				if strings.HasSuffix(p.Path, "/image") {
					imageOp = true
				}
			}
			if imageOp != tc.wantImageOp {
				t.Errorf("patch %+v: replaces the image = %t, want %t", r.Patch, imageOp, tc.wantImageOp)
			}
		})
	}
}

// TestUpdateFlags: how --operation and --old-filename combine, and how old objects pair.
func TestUpdateFlags(t *testing.T) {
	dir, policy, _, podFile := updateFixture(t)
	pod := func(name, ns, apiVersion string) string {
		meta := "name: " + name
		if ns != "" {
			meta += ", namespace: " + ns
		}
		return "apiVersion: " + apiVersion + "\nkind: Pod\nmetadata: {" + meta + "}\nspec:\n  containers:\n  - {name: app, image: nginx}\n"
	}
	file := func(name string, docs ...string) string {
		p := filepath.Join(dir, name)
		write(t, p, strings.Join(docs, "---\n"))
		return p
	}
	same := file("same.yaml", pod("web", "default", "v1"))
	noNS := file("no-ns.yaml", pod("web", "", "v1"))
	twice := file("twice.yaml", pod("web", "default", "v1"), pod("web", "", "v1"))
	otherName := file("other-name.yaml", pod("api", "default", "v1"))
	extra := file("extra.yaml", pod("web", "default", "v1"), pod("api", "default", "v1"))
	otherVersion := file("other-version.yaml", pod("web", "default", "v2"))
	oldDir := filepath.Join(dir, "old")
	if err := os.MkdirAll(oldDir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(oldDir, "web.yaml"), pod("web", "default", "v1"))
	unnamed := file("unnamed.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\nspec:\n  containers:\n  - {name: app, image: nginx}\n")
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string // in the error or stderr
	}{
		{name: "old object in a file", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", same}, wantCode: 0},
		{name: "old object without a namespace gets the default one", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", noNS}, wantCode: 0},
		{name: "old objects in a directory", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", oldDir}, wantCode: 0},
		{name: "old object on stdin", stdin: pod("web", "default", "v1"), args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", "-"}, wantCode: 0},
		{name: "old objects pairing with nothing are named", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", extra}, wantCode: 0,
			wantErr: "--old-filename: Pod default/api (" + extra + ":8) pairs with no resource and is ignored"},
		{name: "old-filename without UPDATE", args: []string{"-f", podFile, "--old-filename", same}, wantCode: 2, wantErr: "use it with --operation=UPDATE"},
		{name: "unknown operation", args: []string{"-f", podFile, "--operation=DELETE"}, wantCode: 2, wantErr: `--operation "DELETE": use CREATE or UPDATE`},
		{name: "stdin twice", stdin: pod("web", "default", "v1"), args: []string{"-f", "-", "--operation=UPDATE", "--old-filename", "-"}, wantCode: 2, wantErr: "can read stdin"},
		{name: "no pair", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", otherName}, wantCode: 2,
			wantErr: "--operation=UPDATE: no old object for Pod default/web (" + podFile + ":1) in --old-filename " + otherName},
		{name: "no pair in another namespace", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", noNS, "-n", "dev"}, wantCode: 2,
			wantErr: "no old object for Pod default/web"},
		{name: "no pair with another apiVersion", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", otherVersion}, wantCode: 2, wantErr: "no old object for Pod default/web"},
		{name: "old object given twice", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", twice}, wantCode: 2,
			wantErr: "--old-filename: Pod default/web is given twice (" + twice + ":1 and " + twice + ":8)"},
		{name: "missing old file", args: []string{"-f", podFile, "--operation=UPDATE", "--old-filename", filepath.Join(dir, "nope.yaml")}, wantCode: 2, wantErr: "nope.yaml"},
		{name: "unnamed resource", args: []string{"-f", unnamed, "--operation=UPDATE", "--old-filename", same}, wantCode: 2, wantErr: "has no metadata.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"simulate", "--policy", policy, "-o", "json"}, tc.args...)
			_, stderr, code := run(t, tc.stdin, args...)
			if code != tc.wantCode {
				t.Fatalf("kubectl verify %v: exit %d, want %d; stderr %s", args, code, tc.wantCode, stderr)
			}
			if tc.wantErr != "" {
				_, errText := errorOf(t, tc.stdin, args...)
				if !strings.Contains(errText+stderr, tc.wantErr) {
					t.Errorf("error %q, stderr %q: want %q", errText, stderr, tc.wantErr)
				}
			}
		})
	}
}
