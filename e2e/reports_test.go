//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// TestReportFormatsAgainstCRDs: what -o policyreport and -o openreports print is accepted by
// an API server serving the report CRDs Kyverno 1.19.1 installs (wgpolicyk8s.io, from its
// module) and openreports.io's (the reports-api version Kyverno pins), with strict field
// validation: the consumers that store these reports.
func TestReportFormatsAgainstCRDs(t *testing.T) {
	p := scenarioNamed(t, "three-engines")
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(s.root, "hack", "bin"),
		CRDDirectoryPaths:     []string{filepath.Join(moduleDir(t, "github.com/kyverno/kyverno"), "config", "crds", "policyreport"), filepath.Join(moduleDir(t, "github.com/openreports/reports-api"), "config", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from hack/bin: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resources := map[string]string{"PolicyReport": "policyreports", "ClusterPolicyReport": "clusterpolicyreports", "Report": "reports", "ClusterReport": "clusterreports"}
	namespaces := map[string]bool{}
	for _, format := range []string{"policyreport", "openreports"} {
		t.Run(format, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			r := execCmd(cctx, p.dir, s.kubectl, append([]string{"verify", "simulate", "--policy", p.files.Policies, "-f", p.files.Resources, "-o", format}, p.files.Args...)...)
			if r.exitCode == 2 || r.err != nil {
				t.Fatalf("%s: exit %d %v\n%s", r.cmdline, r.exitCode, r.err, r.stderr)
			}
			docs, err := manifest.Parse(r.stdout, "stdout")
			if err != nil || len(docs) == 0 {
				t.Fatalf("no reports (%v):\n%s", err, r.stdout)
			}
			results := 0
			for _, d := range docs {
				gv, err := schema.ParseGroupVersion(d.APIVersion())
				if err != nil {
					t.Fatal(err)
				}
				ri := dyn.Resource(gv.WithResource(resources[d.Kind()]))
				var client dynamic.ResourceInterface = ri
				if ns := d.Namespace(); ns != "" {
					if !namespaces[ns] {
						namespaces[ns] = true
						nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
						if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
							t.Fatal(err)
						}
					}
					client = ri.Namespace(ns)
				}
				// Strict: a field the CRD's schema does not know is refused, not pruned.
				if _, err := client.Create(ctx, &unstructured.Unstructured{Object: d.Obj}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
					t.Errorf("the API server refuses %s %s/%s: %v", d.Kind(), d.Namespace(), d.Name(), err)
				}
				list, _ := d.Obj["results"].([]any)
				results += len(list)
			}
			if results == 0 {
				t.Errorf("reports without results:\n%s", r.stdout)
			}
		})
	}
}

// moduleDir is where a module hack/tools/kyverno depends on lies in the module cache.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	return moduleDirIn(t, "kyverno", module)
}
