package kubectlverify_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

const module = "github.com/kubectl-verify/kubectl-verify/"

// TestImportBoundaries keeps the architecture's rules: only simulate/verify imports cosign or
// sigstore; nothing under simulate reaches cobra or the plugin package; the engines' own
// modules are never product dependencies (they are oracles under hack/ only).
func TestImportBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./cmd/...", "./plugin/...", "./policyload/...", "./simulate/...", "./internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, module)
		inVerify := rel == "simulate/verify" || strings.HasPrefix(rel, "simulate/verify/")
		for _, imp := range p.Imports {
			if strings.HasPrefix(rel, "simulate") && strings.HasPrefix(imp, "github.com/spf13/cobra") {
				t.Errorf("%s imports %s: the core takes typed config, no cobra", rel, imp)
			}
			if !inVerify && (strings.HasPrefix(imp, "github.com/sigstore/") || strings.HasPrefix(imp, "github.com/google/go-containerregistry/pkg/v1/remote")) {
				t.Errorf("%s imports %s: only simulate/verify may talk to cosign and registries", rel, imp)
			}
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(rel, "simulate") && strings.HasPrefix(d, module+"plugin") {
				t.Errorf("%s depends on %s: the core never reaches the command line", rel, d)
			}
			if strings.HasPrefix(d, "github.com/kyverno/kyverno") || strings.HasPrefix(d, "github.com/sigstore/policy-controller") {
				t.Errorf("%s depends on %s: engines are oracles under hack/, never product dependencies", rel, d)
			}
		}
	}
	if n < 8 {
		t.Fatalf("go list found %d packages; the check would prove nothing", n)
	}
}
