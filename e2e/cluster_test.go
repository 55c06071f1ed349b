//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/plugin"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// testCluster is a real kube-apiserver + etcd (built under hack/tools, driven by envtest)
// with the engines' CRDs installed and an admin kubeconfig.
type testCluster struct {
	env    *envtest.Environment
	dir    string
	admin  string // kubeconfig path
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func startCluster(t testing.TB) *testCluster {
	t.Helper()
	requireBinary(t)
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(s.root, "hack", "bin"),
		CRDDirectoryPaths:     []string{filepath.Join(s.root, "testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from hack/bin: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := &testCluster{env: env, dir: t.TempDir()}
	c.admin = c.kubeconfig(t, envtest.User{Name: "admin", Groups: []string{"system:masters"}})
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return c
}

// kubeconfig writes a kubeconfig for user and returns its path.
func (c *testCluster) kubeconfig(t testing.TB, u envtest.User) string {
	t.Helper()
	au, err := c.env.AddUser(u, &rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		t.Fatal(err)
	}
	data, err := au.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.dir, u.Name+".kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// apply creates every object of the manifest files, namespaces first.
func (c *testCluster) apply(t testing.TB, files ...string) {
	t.Helper()
	var objs []manifest.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := manifest.Parse(data, f)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	namespaces := map[string]bool{"default": true}
	for _, o := range objs {
		if o.Kind() == "Namespace" {
			c.create(t, o.Obj)
			namespaces[o.Name()] = true
		}
	}
	for _, o := range objs {
		if ns := o.Namespace(); ns != "" && !namespaces[ns] {
			_, err := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(context.Background(),
				&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("creating namespace %s: %v", ns, err)
			}
			namespaces[ns] = true
		}
	}
	for _, o := range objs {
		if o.Kind() != "Namespace" {
			c.create(t, o.Obj)
		}
	}
}

func (c *testCluster) create(t testing.TB, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
	if err != nil {
		t.Fatalf("mapping %s: %v", gvk, err)
	}
	ri := c.dyn.Resource(m.Resource)
	var client dynamic.ResourceInterface = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		client = ri.Namespace(ns)
	}
	// A Pod's ephemeral containers cannot be set on create: they are added afterwards through
	// the ephemeralcontainers subresource, as `kubectl debug` adds them.
	ephemeral, _, _ := unstructured.NestedSlice(obj, "spec", "ephemeralContainers")
	if gvk.Kind == "Pod" && len(ephemeral) > 0 {
		u = u.DeepCopy()
		unstructured.RemoveNestedField(u.Object, "spec", "ephemeralContainers")
	}
	created, err := client.Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s %s/%s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	if len(ephemeral) > 0 {
		if err := unstructured.SetNestedSlice(created.Object, ephemeral, "spec", "ephemeralContainers"); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Update(context.Background(), created, metav1.UpdateOptions{}, "ephemeralcontainers"); err != nil {
			t.Fatalf("adding ephemeral containers to Pod %s/%s: %v", u.GetNamespace(), u.GetName(), err)
		}
	}
}

// verify runs `kubectl verify ARGS` with kubeconfig.
func (c *testCluster) verify(t testing.TB, kubeconfig string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return execEnv(ctx, c.dir, []string{"KUBECONFIG=" + kubeconfig}, s.kubectl, append([]string{"verify"}, args...)...)
}

func parseReport(t testing.TB, r runResult) report.SimulationReport {
	t.Helper()
	if r.err != nil || r.exitCode == 2 {
		t.Fatalf("%s: exit %d %v\nstderr:\n%s", r.cmdline, r.exitCode, r.err, r.stderr)
	}
	var rep report.SimulationReport
	if err := json.Unmarshal(r.stdout, &rep); err != nil {
		t.Fatalf("%s: report does not parse: %v\n%s", r.cmdline, err, r.stdout)
	}
	return rep
}

// comparable drops what legitimately differs between sources: provenance.
func comparable(rep report.SimulationReport) map[string]report.Result {
	out := map[string]report.Result{}
	for _, r := range rep.Results {
		r.Resource.Source = ""
		out[r.Resource.Kind+"/"+r.Resource.Namespace+"/"+r.Resource.Name] = r
	}
	return out
}

// TestClusterCombinations: for several scenarios, every combination of policy and resource
// source against a real API server gives the same per-resource answers as files × files
// (itself proven against expected.yaml and the real Kyverno CLI).
func TestClusterCombinations(t *testing.T) {
	for _, name := range []string{"signed", "unsigned", "autogen", "audit-enforce-override", "namespace-selector", "namespaced-policy-v2beta1"} {
		t.Run(name, func(t *testing.T) {
			p := scenarioNamed(t, name)
			filesOnly := p.simulate()
			want := comparable(parseReport(t, filesOnly))
			c := startCluster(t)
			c.apply(t, p.files.Resources, p.files.Policies)
			for combo, args := range map[string][]string{
				"cluster policies x files":      {"simulate", "-f", p.files.Resources, "-o", "json"},
				"file policies x cluster":       {"simulate", "--policy", p.files.Policies, "-A", "-o", "json"},
				"cluster policies x cluster":    {"simulate", "-A", "-o", "json"},
				"cluster x cluster, paged by 1": {"simulate", "-A", "--chunk-size", "1", "-o", "json"},
			} {
				t.Run(combo, func(t *testing.T) {
					r := c.verify(t, c.admin, append(args, p.files.Args...)...)
					got := comparable(parseReport(t, r))
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s: results differ from files x files (-files +%s):\n%s\nstderr:\n%s", r.cmdline, combo, d, r.stderr)
					}
					if r.exitCode != filesOnly.exitCode {
						t.Errorf("%s: exit %d, files x files exit %d", r.cmdline, r.exitCode, filesOnly.exitCode)
					}
					if strings.Contains(combo, "cluster policies") && !strings.Contains(string(r.stderr), "ConfigMap kyverno/kyverno not found") {
						t.Errorf("%s: stderr should say the kyverno ConfigMap was not found:\n%s", r.cmdline, r.stderr)
					}
				})
			}
		})
	}
}

func scenarioNamed(t testing.TB, name string) *prepared {
	t.Helper()
	for _, p := range s.scenarios {
		if p.sc.Name == name {
			p.requireReady(t)
			return p
		}
	}
	t.Fatalf("scenario %s not prepared", name)
	return nil
}

// TestClusterRBAC: a user with the published ClusterRole gets the admin's answers, with
// nothing incomplete; a user who may list only Pods in one namespace gets a completed run,
// one warning per missing right, and kubectl-verify errors on what could not be decided.
func TestClusterRBAC(t *testing.T) {
	p := scenarioNamed(t, "namespace-selector")
	c := startCluster(t)
	c.apply(t, p.files.Resources, p.files.Policies)
	c.apply(t, filepath.Join(s.root, "deploy", "rbac.yaml"))
	c.apply(t, filepath.Join(s.root, "testdata", "cluster", "rbac-bindings.yaml"))
	admin := parseReport(t, c.verify(t, c.admin, "simulate", "-A", "-o", "json"))

	t.Run("published ClusterRole is enough", func(t *testing.T) {
		viewer := c.kubeconfig(t, envtest.User{Name: "viewer"})
		r := c.verify(t, viewer, "simulate", "-A", "-o", "json")
		got := parseReport(t, r)
		if d := cmp.Diff(comparable(admin), comparable(got)); d != "" {
			t.Errorf("viewer's results differ from admin's (-admin +viewer):\n%s", d)
		}
		if got.Summary.Incomplete != 0 || strings.Contains(string(r.stderr), "forbidden") {
			t.Errorf("viewer: incomplete %d, stderr:\n%s", got.Summary.Incomplete, r.stderr)
		}
	})

	t.Run("--as impersonates", func(t *testing.T) {
		r := c.verify(t, c.admin, "simulate", "-n", "secure", "--as", "limited", "-o", "json")
		got := parseReport(t, r)
		if got.Summary.Incomplete == 0 || !strings.Contains(string(r.stderr), `User "limited" cannot list`) {
			t.Errorf("--as limited should see what limited sees: summary %+v\n%s", got.Summary, r.stderr)
		}
	})

	t.Run("TYPE/NAME", func(t *testing.T) {
		got := parseReport(t, c.verify(t, c.admin, "simulate", "pod/signed", "-n", "secure", "-o", "json"))
		if len(got.Results) != 1 || got.Results[0].Resource.Name != "signed" || got.Results[0].Resource.Namespace != "secure" {
			t.Errorf("pod/signed -n secure: %+v, want exactly that Pod", got.Results)
		}
		if d := cmp.Diff(comparable(admin)["Pod/secure/signed"], comparable(got)["Pod/secure/signed"]); d != "" {
			t.Errorf("pod/signed differs from the same Pod in -A (-all +named):\n%s", d)
		}
	})

	t.Run("pods in one namespace only", func(t *testing.T) {
		limited := c.kubeconfig(t, envtest.User{Name: "limited"})
		r := c.verify(t, limited, "simulate", "-n", "secure", "-o", "json")
		got := parseReport(t, r)
		if got.Summary.Resources != 2 || got.Summary.Incomplete != 2 {
			t.Errorf("limited: summary %+v, want 2 resources, 2 incomplete", got.Summary)
		}
		for _, res := range got.Results {
			found := false
			for _, ch := range res.Checks {
				if ch.Result == report.ResultError && strings.HasPrefix(ch.Message, "kubectl-verify: cannot list kyverno.io/v1 ClusterPolicy") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no kubectl-verify error for the unreadable ClusterPolicies among %+v", res.Resource.Name, res.Checks)
			}
		}
		for _, want := range []string{"cannot list kyverno.io/v1 ClusterPolicy", "cannot list kyverno.io/v1 Policy", "deployments.apps is forbidden", "cannot read the labels of namespace secure"} {
			if n := strings.Count(string(r.stderr), want); n != 1 {
				t.Errorf("stderr mentions %q %d times, want once:\n%s", want, n, r.stderr)
			}
		}
	})

	t.Run("namespace labels unreadable", func(t *testing.T) {
		limited := c.kubeconfig(t, envtest.User{Name: "limited"})
		r := c.verify(t, limited, "simulate", "--policy", p.files.Policies, "-n", "secure", "-o", "json")
		got := parseReport(t, r)
		if got.Summary.Incomplete != 2 {
			t.Errorf("summary %+v, want both Pods incomplete", got.Summary)
		}
		for _, res := range got.Results {
			if len(res.Checks) != 1 || !strings.HasPrefix(res.Checks[0].Message, "kubectl-verify: the rule depends on namespace labels") {
				t.Errorf("%s: checks %+v, want one kubectl-verify error about namespace labels", res.Resource.Name, res.Checks)
			}
		}
	})
}

// scaleCluster loads 2,000 Pods across 20 namespaces, all running the signed scenario's
// image, and returns the cluster and the scenario.
func scaleCluster(t testing.TB) (*testCluster, *prepared) {
	t.Helper()
	p := scenarioNamed(t, "signed")
	c := startCluster(t)
	image := ""
	data, err := os.ReadFile(p.files.Resources)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data, p.files.Resources)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind() == "Pod" {
			containers, _, _ := unstructured.NestedSlice(o.Obj, "spec", "containers")
			image, _, _ = unstructured.NestedString(containers[0].(map[string]any), "image")
		}
	}
	if image == "" {
		t.Fatal("no Pod image in the signed scenario")
	}
	for n := 0; n < 20; n++ {
		c.create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fmt.Sprintf("scale-%02d", n)}})
	}
	pods := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
	var g errgroup.Group
	g.SetLimit(16)
	for i := 0; i < 2000; i++ {
		ns := fmt.Sprintf("scale-%02d", i%20)
		pod := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": fmt.Sprintf("pod-%04d", i), "namespace": ns, "labels": map[string]any{"parity": []string{"even", "odd"}[i%2]}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}},
		}}
		g.Go(func() error {
			_, err := pods.Namespace(ns).Create(context.Background(), pod, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("creating 2,000 Pods: %v", err)
	}
	return c, p
}

// TestClusterPaging: 2,000 Pods across 20 namespaces, listed in pages of 100, are all
// evaluated (and allowed: every Pod runs the signed image).
func TestClusterPaging(t *testing.T) {
	c, p := scaleCluster(t)
	r := c.verify(t, c.admin, "simulate", "--policy", p.files.Policies, "-A", "pods", "--chunk-size", "100", "-o", "json")
	rep := parseReport(t, r)
	if rep.Summary.Resources != 2000 || rep.Summary.Allowed != 2000 {
		t.Errorf("summary = %+v, want 2000 resources, all allowed", rep.Summary)
	}
	namespaces := map[string]int{}
	for _, res := range rep.Results {
		namespaces[res.Resource.Namespace]++
	}
	if len(namespaces) != 20 {
		t.Errorf("results from %d namespaces, want 20", len(namespaces))
	}
	even := parseReport(t, c.verify(t, c.admin, "simulate", "--policy", p.files.Policies, "-A", "pods", "-l", "parity=even", "--chunk-size", "100", "-o", "json"))
	if even.Summary.Resources != 1000 {
		t.Errorf("-l parity=even: %d resources, want 1000", even.Summary.Resources)
	}
}

// BenchmarkClusterPods times `kubectl verify simulate -A` over 2,000 Pods in 20 namespaces
// against a real API server (cluster policies and resources).
func BenchmarkClusterPods(b *testing.B) {
	c, p := scaleCluster(b)
	c.apply(b, p.files.Policies)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := c.verify(b, c.admin, "simulate", "-A", "-o", "json")
		if rep := parseReport(b, r); rep.Summary.Resources < 2000 {
			b.Fatalf("%d resources, want at least 2000", rep.Summary.Resources)
		}
	}
}

// TestClusterEnginesAndConfig: the live `kyverno` ConfigMap is replayed (resourceFilters keep
// Pods from admission while checks stay the CLI's), `policies` says which engines the cluster
// serves, and live ClusterImagePolicies apply to namespaces that opt in.
func TestClusterEnginesAndConfig(t *testing.T) {
	p := scenarioNamed(t, "unsigned")
	c := startCluster(t)
	c.apply(t, p.files.Resources, p.files.Policies, filepath.Join(s.root, "testdata", "cluster", "kyverno-config.yaml"))

	files := parseReport(t, p.simulate())
	r := c.verify(t, c.admin, "simulate", "-A", "-o", "json")
	live := parseReport(t, r)
	if len(live.Results) != 1 || live.Results[0].Decision != report.Allow || live.Results[0].DecisionIfEnforced != report.Allow {
		t.Fatalf("with resourceFilters [Pod,*,*] the Pod never reaches Kyverno: want allow/allow, got %+v\nstderr:\n%s", live.Results, r.stderr)
	}
	if d := cmp.Diff(files.Results[0].Checks, live.Results[0].Checks); d != "" {
		t.Errorf("checks follow the CLI, which has no resourceFilters (-files +live):\n%s", d)
	}
	if !strings.Contains(string(r.stderr), `key "generateSuccessEvents" is not replayed`) {
		t.Errorf("stderr should name the ConfigMap keys not replayed:\n%s", r.stderr)
	}

	out := c.verify(t, c.admin, "policies", "-o", "json")
	var list struct {
		Engines []struct {
			Name  string
			Found bool
			Kinds []string
		}
	}
	if err := json.Unmarshal(out.stdout, &list); err != nil || out.exitCode != 0 {
		t.Fatalf("policies: exit %d %v\n%s", out.exitCode, err, out.stderr)
	}
	got := map[string][]string{}
	for _, e := range list.Engines {
		if e.Found {
			got[e.Name] = e.Kinds
		}
	}
	want := map[string][]string{
		"kyverno":    {"kyverno.io/v1 ClusterPolicy", "kyverno.io/v1 Policy", "policies.kyverno.io/v1 ImageValidatingPolicy", "policies.kyverno.io/v1 NamespacedImageValidatingPolicy"},
		"sigstore":   {"policy.sigstore.dev/v1beta1 ClusterImagePolicy"},
		"kubewarden": {"policies.kubewarden.io/v1 AdmissionPolicy", "policies.kubewarden.io/v1 ClusterAdmissionPolicy"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("engines found (-want +got):\n%s", d)
	}

	// A live ClusterImagePolicy is replayed: nothing in a namespace that has not opted in,
	// a denial once it has.
	c.apply(t, filepath.Join(s.root, "testdata", "cluster", "clusterimagepolicy.yaml"))
	before := parseReport(t, c.verify(t, c.admin, "simulate", "-A", "-o", "json"))
	if got := before.Results[0]; got.Decision != report.Allow || len(got.NotChecked) != 1 || got.NotChecked[0].Reason != "namespace-not-included" || before.Summary.Incomplete != 0 {
		t.Errorf("default not opted in: want allow with the image not checked (namespace-not-included), got %+v", got)
	}
	patch := []byte(`{"metadata":{"labels":{"policy.sigstore.dev/include":"true"}}}`)
	if _, err := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Patch(context.Background(), "default", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	after := parseReport(t, c.verify(t, c.admin, "simulate", "-A", "-o", "json"))
	denial := "admission webhook \"policy.sigstore.dev\" denied the request: validation failed: failed policy: retired: spec.containers[0].image\n"
	if got := after.Results[0]; got.Decision != report.Deny || !strings.HasPrefix(got.Message, denial) || !strings.HasSuffix(got.Message, " disallowed by static policy: nothing runs here") {
		t.Errorf("default opted in: want denied by policy-controller, got %s %q", got.Decision, got.Message)
	}

	// A live Kubewarden policy is replayed too; its webhook is a mutating one, called before
	// policy-controller's validating webhook, so its denial is the answer.
	c.apply(t, filepath.Join(s.root, "testdata", "cluster", "clusteradmissionpolicy.yaml"))
	r = c.verify(t, c.admin, "simulate", "-A", "-o", "json")
	kw := parseReport(t, r).Results[0]
	image := kw.Checks[0].Image
	for _, ch := range kw.Checks {
		if ch.Engine == "kubewarden" {
			image = ch.Image
		}
	}
	wantMsg := "admission webhook \"clusterwide-signed-images.kubewarden.admission\" denied the request: Resource " + kw.Resource.Name +
		" is not accepted: verification of image " + image + " failed: error invoking host capability oci.verify: Host error: Callback evaluation failure: no signatures found for image: "
	if kw.Decision != report.Deny || !strings.HasPrefix(kw.Message, wantMsg) {
		t.Errorf("with the live ClusterAdmissionPolicy: %s %q\nwant a denial starting %q\nstderr:\n%s", kw.Decision, kw.Message, wantMsg, r.stderr)
	}
	if strings.Contains(string(r.stderr), "not replayed yet") {
		t.Errorf("Kubewarden policies are replayed now; stderr:\n%s", r.stderr)
	}

	// A live ImageValidatingPolicy is listed, and replayed: every Pod gets its check.
	c.apply(t, filepath.Join(s.root, "testdata", "cluster", "imagevalidatingpolicy.yaml"))
	out = c.verify(t, c.admin, "policies", "check-signed", "-o", "json")
	var ivpols plugin.PolicyList
	if err := json.Unmarshal(out.stdout, &ivpols); err != nil || out.exitCode != 0 || len(ivpols.Policies) != 1 || ivpols.Policies[0].Kind != "ImageValidatingPolicy" || len(ivpols.Policies[0].Validations) != 1 {
		t.Errorf("policies check-signed: exit %d %v %+v\n%s", out.exitCode, err, ivpols.Policies, out.stderr)
	}
	r = c.verify(t, c.admin, "simulate", "-A", "-o", "json")
	if strings.Contains(string(r.stderr), "check-signed is not replayed") {
		t.Errorf("a live ImageValidatingPolicy is replayed; stderr:\n%s", r.stderr)
	}
	for _, res := range parseReport(t, r).Results {
		if res.Resource.Kind != "Pod" {
			continue
		}
		var found bool
		for _, ch := range res.Checks {
			if ch.Engine == "kyverno" && ch.Policy == "check-signed" && ch.Rule == "check-signed" {
				// Tag-only images fail verifyDigest in the CLI's view the checks follow.
				found = ch.Result == report.ResultFail && strings.HasSuffix(ch.Message, "does not have a digest")
			}
		}
		if !found {
			t.Errorf("%s: no failing check-signed check: %+v", res.Resource.Name, res.Checks)
		}
	}
}

// secretPolicy rewrites a materialized scenario policy so its key comes from a Secret.
func secretPolicy(t testing.TB, dir, policies, secret string) string {
	t.Helper()
	data, err := os.ReadFile(policies)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "            publicKeys: |-")
	j := strings.Index(text, "            rekor:")
	if i < 0 || j < i {
		t.Fatalf("no publicKeys block in %s", policies)
	}
	out := filepath.Join(dir, "policy-"+secret+".yaml")
	if err := os.WriteFile(out, []byte(text[:i]+"            secret: {name: "+secret+", namespace: kyverno}\n"+text[j:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestClusterKeySecret: Kyverno's keys.secret reads cosign.pub from a Secret. With the
// Secret present the answers equal the PEM key's; a missing Secret is Kyverno's own failure
// text; a Secret the user may not read is a kubectl-verify error.
func TestClusterKeySecret(t *testing.T) {
	p := scenarioNamed(t, "signed")
	want := comparable(parseReport(t, p.simulate()))
	c := startCluster(t)
	c.apply(t, p.files.Resources)
	c.create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "kyverno"}})
	c.create(t, map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "cosign-key", "namespace": "kyverno"},
		"stringData": map[string]any{"cosign.pub": s.keys["k1"].pem}})

	t.Run("secret present", func(t *testing.T) {
		r := c.verify(t, c.admin, "simulate", "--policy", secretPolicy(t, c.dir, p.files.Policies, "cosign-key"), "-A", "-o", "json")
		if d := cmp.Diff(want, comparable(parseReport(t, r))); d != "" {
			t.Errorf("key from a Secret differs from the same key inline (-inline +secret):\n%s", d)
		}
	})
	t.Run("secret missing", func(t *testing.T) {
		r := c.verify(t, c.admin, "simulate", "--policy", secretPolicy(t, c.dir, p.files.Policies, "missing"), "-A", "-o", "json")
		rep := parseReport(t, r)
		suffix := `.attestors[0].entries[0].keys: failed to load public key from k8s://kyverno/missing: checking if secret exists: secrets "missing" not found`
		for _, res := range rep.Results {
			if res.Decision != report.Deny || !strings.HasSuffix(res.Checks[0].Message, suffix) || res.Checks[0].Result != report.ResultFail {
				t.Errorf("%s: %s, first check %s %q; want deny with ...%s", res.Resource.Name, res.Decision, res.Checks[0].Result, res.Checks[0].Message, suffix)
			}
		}
	})
	t.Run("secret not readable", func(t *testing.T) {
		c.apply(t, filepath.Join(s.root, "testdata", "cluster", "pods-reader.yaml"))
		reader := c.kubeconfig(t, envtest.User{Name: "pods-reader"})
		r := c.verify(t, reader, "simulate", "--policy", secretPolicy(t, c.dir, p.files.Policies, "cosign-key"), "-A", "-o", "json")
		rep := parseReport(t, r)
		if rep.Summary.Incomplete != rep.Summary.Resources || rep.Summary.Resources == 0 {
			t.Errorf("summary %+v: every result should be incomplete", rep.Summary)
		}
		want := `cannot read Secret kyverno/cosign-key for k8s://kyverno/cosign-key: secrets "cosign-key" is forbidden`
		if n := strings.Count(string(r.stderr), want); n != 1 {
			t.Errorf("stderr mentions %q %d times, want once:\n%s", want, n, r.stderr)
		}
	})
}

// authRegistry is an in-process registry that wants Basic alice:s3cret on every request.
func authRegistry(t testing.TB) (host string, auth remote.Option) {
	t.Helper()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
}

// TestClusterPullSecrets: Kyverno's registry client uses the pod's imagePullSecrets; so do
// we when the cluster is read. Without them the registry's refusal is Kyverno's failure; with
// secrets we may not read, it is a kubectl-verify error.
func TestClusterPullSecrets(t *testing.T) {
	host, auth := authRegistry(t)
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/private/app:v1"
	if _, err := verifytest.Push(ref, auth); err != nil {
		t.Fatal(err)
	}
	if err := verifytest.Sign(ref, key, auth); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t)
	dockerConfig := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")))
	pem := strings.ReplaceAll(strings.TrimSpace(key.PublicPEM), "\n", "\n              ")
	manifests := filepath.Join(c.dir, "pull.yaml")
	policy := filepath.Join(c.dir, "pull-policy.yaml")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(manifests, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: kyverno}
---
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: team}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '%s'
---
apiVersion: v1
kind: Secret
metadata: {name: kyverno-regcred, namespace: kyverno}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '%s'
---
apiVersion: v1
kind: Pod
metadata: {name: with-secret, namespace: team}
spec:
  imagePullSecrets: [{name: regcred}]
  containers: [{name: app, image: %s}]
---
apiVersion: v1
kind: Pod
metadata: {name: without-secret, namespace: team}
spec:
  containers: [{name: app, image: %s}]
`, dockerConfig, dockerConfig, ref, ref))
	write(policy, fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: private}
spec:
  rules:
  - name: private
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - failureAction: Enforce
      mutateDigest: false
      verifyDigest: false
      imageReferences: ["%s/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              %s
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`, host, pem))
	// The same rule with imageRegistryCredentials: a bare Secret name is read in Kyverno's
	// namespace, for every pod, with or without its own pull secrets.
	credsPolicy := filepath.Join(c.dir, "creds-policy.yaml")
	raw, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	write(credsPolicy, strings.Replace(string(raw), "    - failureAction: Enforce\n", "    - failureAction: Enforce\n      imageRegistryCredentials: {secrets: [kyverno-regcred]}\n", 1))
	c.apply(t, manifests)
	c.apply(t, filepath.Join(s.root, "testdata", "cluster", "pods-reader.yaml"))

	byName := func(rep report.SimulationReport) map[string]report.Result {
		out := map[string]report.Result{}
		for _, r := range rep.Results {
			out[r.Resource.Name] = r
		}
		return out
	}
	res := byName(parseReport(t, c.verify(t, c.admin, "simulate", "--policy", policy, "-n", "team", "-o", "json")))
	hasCheck := func(r report.Result, msg string) bool {
		for _, c := range r.Checks {
			if c.Message == msg {
				return true
			}
		}
		return false
	}
	if r := res["with-secret"]; r.Decision != report.Allow || !hasCheck(r, "verified image signatures for "+ref) {
		t.Errorf("with-secret: %s %+v, want allowed and verified with the pull secret", r.Decision, r.Checks)
	}
	if r := res["without-secret"]; r.Decision != report.Deny || r.Checks[0].Result != report.ResultFail || !strings.Contains(r.Checks[0].Message, "401 Unauthorized") {
		t.Errorf("without-secret: %s %+v, want Kyverno's failure on the registry's 401", r.Decision, r.Checks)
	}

	res = byName(parseReport(t, c.verify(t, c.admin, "simulate", "--policy", credsPolicy, "-n", "team", "-o", "json")))
	for _, pod := range []string{"with-secret", "without-secret"} {
		if r := res[pod]; r.Decision != report.Allow || !hasCheck(r, "verified image signatures for "+ref) {
			t.Errorf("%s with imageRegistryCredentials: %s %+v, want allowed and verified with the policy's Secret", pod, r.Decision, r.Checks)
		}
	}
	res = byName(parseReport(t, c.verify(t, c.admin, "simulate", "--policy", credsPolicy, "--kyverno-namespace", "elsewhere", "-n", "team", "-o", "json")))
	if r := res["without-secret"]; r.Decision != report.Deny || !strings.Contains(r.Checks[0].Message, "401 Unauthorized") {
		t.Errorf("without-secret, Kyverno elsewhere: %s %+v, want the registry's 401 (the Secret is looked up in namespace elsewhere)", r.Decision, r.Checks)
	}

	reader := c.kubeconfig(t, envtest.User{Name: "pods-reader"})
	r := c.verify(t, reader, "simulate", "--policy", policy, "-n", "team", "-o", "json")
	res = byName(parseReport(t, r))
	want := `kubectl-verify: the registry refused access and cannot read registry credentials Secret team/regcred: secrets "regcred" is forbidden`
	if got := res["with-secret"]; got.Checks[0].Result != report.ResultError || !strings.HasPrefix(got.Checks[0].Message, want) {
		t.Errorf("with-secret as pods-reader: %+v, want %q...", got.Checks, want)
	}
}

// TestClusterSigstoreKeySecret: a ClusterImagePolicy key from a Secret in policy-controller's
// namespace is inlined as the controller's reconcile does: present, it answers as the same key
// inline; missing or holding two entries, the reconcile fails and the webhook no longer knows
// the policy (its images then fall to no-match-policy), with a warning.
func TestClusterSigstoreKeySecret(t *testing.T) {
	p := scenarioNamed(t, "sigstore-keys")
	want := comparable(parseReport(t, p.simulate()))
	c := startCluster(t)
	c.apply(t, p.files.Resources)
	c.create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "cosign-system"}})
	c.create(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "cosign-key", "namespace": "cosign-system"},
		"stringData": map[string]any{"cosign.pub": s.keys["k1"].pem}})
	c.create(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "two-keys", "namespace": "cosign-system"},
		"stringData": map[string]any{"a.pub": s.keys["k1"].pem, "b.pub": s.keys["k2"].pem}})
	policies := func(secret string) string {
		data, err := os.ReadFile(p.files.Policies)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^      data: \|\n(?:        .*\n)+`)
		if !re.Match(data) {
			t.Fatalf("no key data block in %s", p.files.Policies)
		}
		out := filepath.Join(c.dir, "cip-"+secret+".yaml")
		if err := os.WriteFile(out, re.ReplaceAll(data, []byte("      secretRef: {name: "+secret+"}\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("secret present", func(t *testing.T) {
		r := c.verify(t, c.admin, "simulate", "--policy", policies("cosign-key"), "-A", "-o", "json")
		if d := cmp.Diff(want, comparable(parseReport(t, r))); d != "" {
			t.Errorf("key from a Secret differs from the same key inline (-inline +secret):\n%s", d)
		}
	})
	// Last: it leaves the policies in the cluster. The webhook enforces what the reconciler
	// compiled into config-image-policies: a KMS key replayed from its inlined data, a policy
	// with no entry not enforced at all.
	defer t.Run("compiled config-image-policies", func(t *testing.T) {
		data, err := os.ReadFile(policies("unused"))
		if err != nil {
			t.Fatal(err)
		}
		kms := strings.Replace(string(data), "      secretRef: {name: unused}\n", "      kms: gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k\n", 1)
		file := filepath.Join(c.dir, "cip-kms.yaml")
		if err := os.WriteFile(file, []byte(kms), 0o600); err != nil {
			t.Fatal(err)
		}
		c.apply(t, file)
		entry, err := json.Marshal(map[string]any{"images": []any{map[string]any{"glob": "**"}}, "authorities": []any{map[string]any{"name": "authority-0", "key": map[string]any{"data": s.keys["k1"].pem}}}})
		if err != nil {
			t.Fatal(err)
		}
		c.create(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "config-image-policies", "namespace": "cosign-system"},
			"data": map[string]any{"key-policy": string(entry)}})
		r := c.verify(t, c.admin, "simulate", "-A", "-o", "json")
		warning := "ClusterImagePolicy blocked is not enforced: it has no entry in ConfigMap cosign-system/config-image-policies"
		if !strings.Contains(string(r.stderr), warning) {
			t.Errorf("stderr lacks %q:\n%s", warning, r.stderr)
		}
		for _, res := range parseReport(t, r).Results {
			switch res.Resource.Namespace + "/" + res.Resource.Name {
			case "secure/signed":
				if res.Decision != report.Allow {
					t.Errorf("signed: %s %q, want allowed by the KMS key the reconciler inlined\nstderr:\n%s", res.Decision, res.Message, r.stderr)
				}
			case "secure/blocked":
				if res.Decision != report.Deny || !strings.Contains(res.Message, "no matching policies") {
					t.Errorf("blocked: %s %q, want denied by no-match-policy (its policy is not enforced)", res.Decision, res.Message)
				}
			}
		}
	})
	t.Run("policy from a ConfigMap", func(t *testing.T) {
		c.create(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "review-policy", "namespace": "cosign-system"},
			"data": map[string]any{"policy.rego": "package sigstore\nisCompliant { false }\n"}})
		file := filepath.Join(c.dir, "cip-configmap.yaml")
		cip := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: from-configmap}
spec:
  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
  policy:
    type: rego
    configMapRef: {name: review-policy, key: policy.rego}
`
		if err := os.WriteFile(file, []byte(cip), 0o600); err != nil {
			t.Fatal(err)
		}
		r := c.verify(t, c.admin, "simulate", "--policy", file, "-A", "-o", "json")
		want := "failed evaluating rego policy for type ClusterImagePolicy: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'"
		for _, res := range parseReport(t, r).Results {
			if res.Resource.Namespace == "secure" && res.Resource.Name == "signed" && (res.Decision != report.Deny || !strings.HasSuffix(res.Message, want)) {
				t.Errorf("signed: %s %q, want denied by the ConfigMap's policy\nstderr:\n%s", res.Decision, res.Message, r.stderr)
			}
		}
	})
	for _, tc := range []struct{ secret, why string }{
		{"missing", `secrets "missing" not found`},
		{"two-keys", `secret "two-keys" contains multiple data entries, only one is supported`},
	} {
		t.Run("secret "+tc.secret, func(t *testing.T) {
			r := c.verify(t, c.admin, "simulate", "--policy", policies(tc.secret), "-A", "-o", "json")
			warning := "ClusterImagePolicy key-policy is not enforced: policy-controller's reconcile fails on it (" + tc.why + ")"
			if !strings.Contains(string(r.stderr), warning) {
				t.Errorf("stderr lacks %q:\n%s", warning, r.stderr)
			}
			for _, res := range parseReport(t, r).Results {
				if res.Resource.Namespace == "secure" && res.Resource.Name == "signed" &&
					(res.Decision != report.Deny || !strings.Contains(res.Message, "no matching policies")) {
					t.Errorf("signed: %s %q, want denied by no-match-policy", res.Decision, res.Message)
				}
			}
		})
	}
}
