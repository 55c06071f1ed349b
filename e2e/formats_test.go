//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestCIFormats: -o junit is read by a real consumer's parser (junitparser, Debian's
// python3-junitparser, as CI systems read JUnit), -o markdown is rendered by GitHub's own
// cmark-gfm with its table extension, and -o sarif is valid against the published
// SARIF 2.1.0 schema (the OASIS schema gosec vendors in the module hack/tools/lint pins), with
// file locations relative to the working directory as GitHub code scanning wants them.
func TestCIFormats(t *testing.T) {
	p := scenarioNamed(t, "three-engines")
	output := func(t *testing.T, format string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r := execCmd(ctx, p.dir, s.kubectl, append([]string{"verify", "simulate", "--policy", p.files.Policies, "-f", p.files.Resources, "-o", format}, p.files.Args...)...)
		if r.exitCode != 1 || r.err != nil {
			t.Fatalf("%s: exit %d %v, want 1 (two Pods denied)\n%s", r.cmdline, r.exitCode, r.err, r.stderr)
		}
		return r.stdout
	}
	t.Run("junit", func(t *testing.T) {
		if err := exec.Command("/usr/bin/python3", "-c", "import junitparser").Run(); err != nil {
			t.Fatalf("python3-junitparser is not installed (.ci/run installs it): %v", err)
		}
		file := filepath.Join(t.TempDir(), "report.xml")
		if err := os.WriteFile(file, output(t, "junit"), 0o600); err != nil {
			t.Fatal(err)
		}
		script := `import sys
from junitparser import JUnitXml, Failure, Error
xml = JUnitXml.fromfile(sys.argv[1])
cases = failures = 0
for suite in xml:
    for case in suite:
        cases += 1
        if any(isinstance(r, (Failure, Error)) for r in case.result):
            failures += 1
            print(case.classname, case.name)
print("cases", cases, "failing", failures)
`
		out, err := exec.Command("/usr/bin/python3", "-c", script, file).CombinedOutput()
		if err != nil {
			t.Fatalf("junitparser: %v\n%s", err, out)
		}
		// Three Pods, three engines each; three (Pod, policy) cases fail: Kyverno's key and
		// policy-controller's on kubewarden-only, Kubewarden's on no-kubewarden.
		for _, want := range []string{"cases 9 failing 3", "kubewarden/signed-by-kw Pod/no-kubewarden", "kyverno/kyverno-keys Pod/kubewarden-only", "sigstore/sigstore-keys Pod/kubewarden-only"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("junitparser read:\n%s\nwant %q", out, want)
			}
		}
	})
	t.Run("markdown", func(t *testing.T) {
		cmd := exec.Command("cmark-gfm", "--extension", "table")
		cmd.Stdin = bytes.NewReader(output(t, "markdown"))
		html, err := cmd.Output()
		if err != nil {
			t.Fatalf("cmark-gfm (GitHub's Markdown parser; .ci/run installs it): %v", err)
		}
		// Two Pods are denied: two body rows, each cell where it belongs.
		for _, want := range []string{"<h3>kubectl verify: 2 of 3 workloads would be denied if enforced (2 now)</h3>", "<th>Resource</th>",
			"<td>Pod/no-kubewarden</td>\n<td>prod</td>\n<td>deny</td>\n<td>deny</td>\n<td>kubewarden/signed-by-kw</td>",
			"<td>Pod/kubewarden-only</td>", "<p>1 of 3 resource(s) pass every policy, enforced or not.</p>"} {
			if !strings.Contains(string(html), want) {
				t.Errorf("rendered:\n%s\nwant %q", html, want)
			}
		}
		if n := strings.Count(string(html), "<tr>"); n != 3 {
			t.Errorf("%d table rows, want the header and two", n)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		schemaFile := filepath.Join(moduleDirIn(t, "lint", "github.com/securego/gosec/v2"), "report", "sarif", "testdata", "sarif-schema-2.1.0.json")
		f, err := os.Open(schemaFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() //nolint:errcheck // read only
		schemaDoc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("sarif-schema-2.1.0.json", schemaDoc); err != nil {
			t.Fatal(err)
		}
		schema, err := c.Compile("sarif-schema-2.1.0.json")
		if err != nil {
			t.Fatal(err)
		}
		raw := output(t, "sarif")
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Fatalf("not valid SARIF 2.1.0: %v\n%s", err, raw)
		}
		if !strings.Contains(string(raw), `"uri": "inputs/resources.yaml"`) || !strings.Contains(string(raw), `"startLine"`) {
			t.Errorf("results lack file locations relative to the working directory:\n%s", raw)
		}
	})
}

// moduleDirIn is where a module the tools module hack/tools/<tools> depends on lies.
func moduleDirIn(t *testing.T, tools, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = filepath.Join(s.root, "hack", "tools", tools)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list -m %s in hack/tools/%s: %v", module, tools, err)
	}
	return strings.TrimSpace(string(out))
}
