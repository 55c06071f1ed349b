//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// TestSigstoreTester holds our Sigstore verdicts to policy-controller v0.15.1's own
// policy-tester (hack/bin/policy-tester): for every check of a ClusterImagePolicy on an image,
// the tester is run on that one policy and the image in the digest form the webhook matches
// globs against (the tester keeps a tag, the webhook does not). A pass must pass; a failure
// must fail with our message, which the tester prints as a FieldError without a path
// ("<message>: "). With several authorities the webhook and the tester report whichever
// failure came first, so only the verdict is compared then.
func TestSigstoreTester(t *testing.T) {
	requireBinary(t)
	bin := filepath.Join(s.root, "hack", "bin", "policy-tester")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools`", bin)
	}
	for _, p := range s.scenarios {
		t.Run(p.sc.Name, func(t *testing.T) {
			if !bytes.Contains(p.sc.Policies, []byte("policy.sigstore.dev/")) {
				t.Skip("no ClusterImagePolicy")
			}
			t.Parallel()
			p.requireReady(t)
			cips, trustRoot := splitCIPs(t, p)
			compared := 0
			for _, r := range parseReport(t, p.simulate()).Results {
				for _, c := range r.Checks {
					if c.Engine != "sigstore" || c.Policy == "" || c.Digest == "" {
						continue
					}
					cip, ok := cips[c.Policy]
					if !ok {
						t.Fatalf("check names ClusterImagePolicy %q, not in the scenario", c.Policy)
					}
					if cip.match {
						continue // the tester needs --resource for match: not compared
					}
					compared++
					checkWithTester(t, bin, p, cip, trustRoot, r.Resource, c)
				}
			}
			if compared == 0 {
				t.Fatal("no Sigstore check was compared with the policy-tester: this scenario proves nothing here")
			}
		})
	}
}

type cipFile struct {
	path        string
	authorities int
	match       bool
}

// splitCIPs writes each ClusterImagePolicy of the scenario to a file of its own, and its
// TrustRoot (the tester takes one) to another; "" when there is none.
func splitCIPs(t *testing.T, p *prepared) (map[string]cipFile, string) {
	t.Helper()
	data, err := os.ReadFile(p.files.Policies)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data, p.files.Policies)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cipFile{}
	trustRoot := ""
	for _, o := range objs {
		if !strings.HasPrefix(o.APIVersion(), "policy.sigstore.dev/") {
			continue
		}
		if o.Kind() == "ClusterImagePolicy" {
			dropPullSecrets(o.Obj)
		}
		raw, err := json.Marshal(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind() == "TrustRoot" {
			if trustRoot != "" {
				t.Fatal("the policy-tester takes one TrustRoot: this scenario has several")
			}
			trustRoot = filepath.Join(p.dir, "inputs", "trustroot-"+o.Name()+".yaml")
			if err := os.WriteFile(trustRoot, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		path := filepath.Join(p.dir, "inputs", "cip-"+o.Name()+".yaml")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		spec, _ := o.Obj["spec"].(map[string]any)
		auths, _ := spec["authorities"].([]any)
		_, match := spec["match"]
		out[o.Name()] = cipFile{path: path, authorities: len(auths), match: match}
	}
	return out, trustRoot
}

// dropPullSecrets removes source.signaturePullSecrets: the tester has no Kubernetes client
// and panics on them, where the webhook reads them and ignores a missing one (spec §8.1 row
// 8). The scenario registry needs no credentials, so the rest is still compared.
func dropPullSecrets(cip map[string]any) {
	spec, _ := cip["spec"].(map[string]any)
	auths, _ := spec["authorities"].([]any)
	for _, a := range auths {
		auth, _ := a.(map[string]any)
		sources, _ := auth["source"].([]any)
		for _, src := range sources {
			if m, ok := src.(map[string]any); ok {
				delete(m, "signaturePullSecrets")
			}
		}
	}
}

func checkWithTester(t *testing.T, bin string, p *prepared, cip cipFile, trustRoot string, res report.Resource, c report.Check) {
	t.Helper()
	ref, err := name.ParseReference(c.Image)
	if err != nil {
		t.Fatalf("%s: image %q: %v", res.Name, c.Image, err)
	}
	image := ref.Context().Name() + "@" + c.Digest
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"--policy", cip.path, "--image", image, "--log-level", "error"}
	if trustRoot != "" {
		args = append(args, "--trustroot", trustRoot)
	}
	r := execCmd(ctx, p.dir, bin, args...)
	if r.err != nil {
		t.Fatalf("%s: %v\n%s", r.cmdline, r.err, r.stderr)
	}
	what := res.Namespace + "/" + res.Name + " " + c.Policy + " " + image
	switch c.Result {
	case report.ResultPass:
		if r.exitCode != 0 {
			t.Errorf("%s: we pass, the policy-tester fails (exit %d): %s%s", what, r.exitCode, r.stdout, r.stderr)
		}
	case report.ResultFail:
		var out struct {
			Errors []string `json:"errors"`
		}
		if r.exitCode == 0 {
			t.Errorf("%s: we fail (%s), the policy-tester passes", what, c.Message)
			return
		}
		if err := json.Unmarshal(bytes.TrimSpace(r.stdout), &out); err != nil || len(out.Errors) != 1 {
			t.Fatalf("%s: policy-tester output is not one error: %v\nstdout: %s\nstderr: %s", r.cmdline, err, r.stdout, r.stderr)
		}
		if cip.authorities == 1 && out.Errors[0] != c.Message+": " {
			t.Errorf("%s: message\nours:   %q\ntester: %q", what, c.Message+": ", out.Errors[0])
		}
	default:
		t.Errorf("%s: result %s is not compared with the policy-tester: %s", what, c.Result, c.Message)
	}
}
