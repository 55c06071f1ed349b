//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/internal/scenario"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// Kyverno's own names for what it creates (pkg/config in Kyverno 1.19.1).
const (
	kyvernoNamespace      = "kyverno"
	kyvernoMutatingCfg    = "kyverno-resource-mutating-webhook-cfg"
	kyvernoValidatingCfg  = "kyverno-resource-validating-webhook-cfg"
	kyvernoTLSPairSecret  = "kyverno-svc.kyverno.svc.kyverno-tls-pair"
	kyvernoTLSCASecret    = "kyverno-svc.kyverno.svc.kyverno-tls-ca"
	verifyImagesAnnotPref = "kyverno.io/verify-images"
)

var (
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrSecrets    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrMutating   = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	gvrValidating = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	gvrCPol       = schema.GroupVersionResource{Group: "kyverno.io", Version: "v1", Resource: "clusterpolicies"}
	gvrPol        = schema.GroupVersionResource{Group: "kyverno.io", Version: "v1", Resource: "policies"}
	gvrIvpol      = schema.GroupVersionResource{Group: "policies.kyverno.io", Version: "v1", Resource: "imagevalidatingpolicies"}
	gvrNivpol     = schema.GroupVersionResource{Group: "policies.kyverno.io", Version: "v1", Resource: "namespacedimagevalidatingpolicies"}
	// policyGVRs are every policy kind a scenario may hold, deleted between scenarios.
	policyGVRs = []schema.GroupVersionResource{gvrCPol, gvrPol, gvrIvpol, gvrNivpol}
)

// kyvernoAdmission is the real Kyverno admission controller (hack/bin/kyverno) serving a real
// API server (envtest), with Kyverno's own CRDs.
type kyvernoAdmission struct {
	*testCluster
	cfg    *rest.Config
	http   *http.Client
	log    string
	exited chan struct{}
}

// TestKyvernoAdmission submits every scenario's resources with dryRun=All to an API server
// whose admission webhooks are the real Kyverno 1.19.1 controller running the scenario's
// policies, and compares the API server's answer (allowed or the denying Status message, the
// Warning headers, the returned object's images and kyverno.io/verify-images* annotations) with
// our decision, message, warnings and patch for the same files. One API server and one Kyverno
// process serve every scenario; policies are deleted between scenarios.
func TestKyvernoAdmission(t *testing.T) {
	requireBinary(t)
	var run []*prepared
	for _, p := range s.scenarios {
		if admissionSkipReason(p) == "" {
			run = append(run, p)
		}
	}
	if len(run) == 0 {
		t.Skip("no selected scenario runs against the admission controller")
	}
	// Our answers (computed once per scenario and shared with the other tests) are made while
	// the controller starts, as many at a time as `go test` runs parallel tests.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, p := range run {
		if p.err == nil && !p.sc.Live() {
			go func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				p.simulate()
			}()
		}
	}
	k := startKyvernoAdmission(t, run)
	for _, p := range s.scenarios {
		t.Run(p.sc.Name, func(t *testing.T) {
			if why := admissionSkipReason(p); why != "" {
				t.Skip(why)
			}
			p.requireReady(t)
			k.checkScenario(t, p)
		})
	}
}

// admissionSkipReason says why a scenario is not replayed against the admission controller.
func admissionSkipReason(p *prepared) string {
	if p.files != nil && !p.files.Expected.DifferentialEnabled() {
		return "expected.yaml: differential: false"
	}
	if bytes.Contains(p.sc.Policies, []byte("policy.sigstore.dev/")) {
		return "policy-controller's webhook is not run here: its verdicts are checked against its policy-tester (TestSigstoreTester)"
	}
	args := string(p.sc.Args)
	if p.sc.Live() && !strings.Contains(args, "--trusted-root") {
		// The old object of a live UPDATE is the one Kyverno admitted from cluster.yaml.
		return ""
	}
	switch {
	case strings.Contains(args, "--trusted-root"):
		return "--trusted-root stands in for the public Sigstore TUF repository, which the controller would fetch and cannot reach here"
	case strings.Contains(args, "--operation=UPDATE") || strings.Contains(args, "--old-filename"):
		return "an UPDATE needs its old object stored in the cluster, where it would carry the annotations and digests Kyverno gave it on CREATE, not the file's"
	case strings.TrimSpace(args) != "":
		return "the scenario's args change the replay in a way the controller has no equivalent for: " + strings.Join(strings.Fields(args), " ")
	}
	return ""
}

func startKyvernoAdmission(t *testing.T, scenarios []*prepared) *kyvernoAdmission {
	t.Helper()
	bin := filepath.Join(s.root, "hack", "bin", "kyverno")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools`", bin)
	}
	crds := kyvernoCRDDirs(t)
	env := &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(s.root, "hack", "bin"),
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from hack/bin: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := filepath.Join(s.work, "kyverno-admission")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := &kyvernoAdmission{testCluster: &testCluster{env: env, dir: dir}, cfg: cfg, log: filepath.Join(dir, "kyverno.log"), exited: make(chan struct{})}
	k.admin = k.kubeconfig(t, envtest.User{Name: "admin", Groups: []string{"system:masters"}})
	// Kyverno's own deprecation warnings on policy creates are not under test.
	quiet := rest.CopyConfig(cfg)
	quiet.WarningHandler = rest.NoWarnings{}
	if k.dyn, err = dynamic.NewForConfig(quiet); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	if k.http, err = rest.HTTPClientFor(cfg); err != nil {
		t.Fatal(err)
	}

	// What a Helm install would have made: the namespace and the (empty, so default)
	// configuration ConfigMaps.
	k.create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": kyvernoNamespace}})
	for _, name := range []string{"kyverno", "kyverno-metrics"} {
		k.create(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": kyvernoNamespace}})
	}

	// Before Kyverno starts, so that its discovery sees them.
	k.installMissingKinds(t, scenarios)

	port, err := freePort(nil)
	if err != nil {
		t.Fatal(err)
	}
	// It serves metrics (on :8000 by default) even with --disableMetrics.
	metricsPort, err := freePort(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.Create(k.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--kubeconfig", k.admin,
		"--serverIP", addr,
		"--webhookServerHost", "127.0.0.1",
		"--webhookServerPort", strconv.Itoa(port),
		"--servicePort", strconv.Itoa(port),
		"--caSecretName", kyvernoTLSCASecret,
		"--tlsSecretName", kyvernoTLSPairSecret,
		"--disableMetrics=true",
		"--metricsHost", "127.0.0.1",
		"--metricsPort", strconv.Itoa(metricsPort),
		"--controllerRuntimeMetricsAddress=0",
		"--admissionReports=false",
	)
	cmd.Env = append(append([]string{}, s.env...),
		"KYVERNO_NAMESPACE="+kyvernoNamespace, "KYVERNO_POD_NAME=kyverno-local", "KYVERNO_DEPLOYMENT=kyverno",
		"KYVERNO_SERVICEACCOUNT_NAME=kyverno", "KYVERNO_ROLE_NAME=kyverno", "KYVERNO_SVC=kyverno-svc",
		"INIT_CONFIG=kyverno", "METRICS_CONFIG=kyverno-metrics")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); logf.Close(); close(k.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-k.exited
	})

	// The controller makes its TLS secrets, then registers its webhooks by URL.
	k.waitFor(t, 3*time.Minute, "Kyverno's TLS secret and resource webhook configuration", func(ctx context.Context) (bool, error) {
		if _, err := k.dyn.Resource(gvrSecrets).Namespace(kyvernoNamespace).Get(ctx, kyvernoTLSPairSecret, metav1.GetOptions{}); err != nil {
			return false, ignoreNotFound(err)
		}
		_, err := k.dyn.Resource(gvrMutating).Get(ctx, kyvernoMutatingCfg, metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	return k
}

// installMissingKinds gives the API server a schema-less CRD for every kind the scenarios
// submit that it does not serve (a Tekton Task, say): in a real cluster that CRD is installed,
// and Kyverno serves a policy only for kinds the API server knows.
func (k *kyvernoAdmission) installMissingKinds(t *testing.T, scenarios []*prepared) {
	t.Helper()
	gvrCRDs := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	type crd struct {
		gvk      schema.GroupVersionKind
		scope    string
		versions []string // every version some scenario submits; the first is stored
	}
	missing := map[string]*crd{}
	var names []string
	for _, p := range scenarios {
		if p.err != nil {
			continue
		}
		for _, o := range parseManifest(t, p.files.Resources) {
			u := &unstructured.Unstructured{Object: o.Obj}
			gvk := u.GroupVersionKind()
			if _, err := k.restMapping(u); err == nil || gvk.Group == "" || !meta.IsNoMatchError(err) {
				continue
			}
			name := strings.ToLower(gvk.Kind) + "s." + gvk.Group
			c := missing[name]
			if c == nil {
				c = &crd{gvk: gvk, scope: "Cluster"}
				missing[name] = c
				names = append(names, name)
			}
			if u.GetNamespace() != "" {
				c.scope = "Namespaced"
			}
			if !slices.Contains(c.versions, gvk.Version) {
				c.versions = append(c.versions, gvk.Version)
			}
		}
	}
	for _, name := range names {
		c := missing[name]
		var versions []any
		for i, v := range c.versions {
			versions = append(versions, map[string]any{"name": v, "served": true, "storage": i == 0,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
		}
		kind := c.gvk.Kind
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"group": c.gvk.Group, "scope": c.scope, "versions": versions,
				"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": strings.ToLower(kind) + "s", "singular": strings.ToLower(kind)},
			},
		}}
		if _, err := k.dyn.Resource(gvrCRDs).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating CRD %s: %v", name, err)
		}
		k.waitFor(t, time.Minute, "CRD "+name+" to be established", func(ctx context.Context) (bool, error) {
			cur, err := k.dyn.Resource(gvrCRDs).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
			for _, c := range conds {
				if cm, _ := c.(map[string]any); cm["type"] == "Established" && cm["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
	}
	if len(names) > 0 {
		if r, ok := k.mapper.(interface{ Reset() }); ok {
			r.Reset()
		}
	}
}

// kyvernoCRDDirs are Kyverno's CRD folders in its module (the version hack/tools/kyverno pins).
func kyvernoCRDDirs(t *testing.T) []string {
	t.Helper()
	mod := moduleDir(t, "github.com/kyverno/kyverno")
	var dirs []string
	for _, d := range []string{"kyverno", "policies.kyverno.io", "reports", "policyreport"} {
		dirs = append(dirs, filepath.Join(mod, "config", "crds", d))
	}
	return dirs
}

// waitFor polls cond until it holds, failing the test after timeout or when Kyverno exits.
func (k *kyvernoAdmission) waitFor(t testing.TB, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil && ctx.Err() == nil {
			last = err
		}
		select {
		case <-k.exited:
			t.Fatalf("waiting for %s: the Kyverno process exited; log tail:\n%s", what, k.logTail())
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not within %s (last error: %v); Kyverno log tail:\n%s", what, timeout, last, k.logTail())
		case <-tick.C:
		}
	}
}

// logTail is Kyverno's error lines and the end of its log.
func (k *kyvernoAdmission) logTail() string {
	b, _ := os.ReadFile(k.log)
	var errs []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " ERR ") && len(errs) < 20 {
			errs = append(errs, l)
		}
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "errors:\n" + strings.Join(errs, "\n") + "\n...\n" + string(b)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// checkScenario installs the scenario's namespaces and policies, submits its other resources
// with dryRun=All and compares each answer with ours.
func (k *kyvernoAdmission) checkScenario(t *testing.T, p *prepared) {
	resources := parseManifest(t, p.files.Resources)
	policies := parseManifest(t, p.files.Policies)

	k.syncNamespaces(t, resources)
	t.Cleanup(func() { k.deletePolicies(t) })
	k.applyPolicies(t, policies)
	k.waitPoliciesServed(t, policies)
	if p.sc.Live() {
		// After the policies: objects Kyverno admits carry what it gives them (pinned
		// images, its annotations), as the old objects of an UPDATE do in a cluster.
		k.createClusterObjects(t, parseManifest(t, p.files.Cluster))
	}
	update := slices.Contains(p.files.Args, "--operation=UPDATE")

	run := p.simulate
	if p.sc.Live() {
		run = func() runResult { return k.simulateLive(t, p) }
	}
	ours := map[string]report.Result{}
	for _, r := range parseReport(t, run()).Results {
		ours[r.Resource.Kind+"/"+r.Resource.Namespace+"/"+r.Resource.Name] = r
	}

	for _, o := range resources {
		if o.Kind() == "Namespace" {
			continue
		}
		ns := o.Namespace()
		if ns == "" {
			ns = "default"
		}
		key := o.Kind() + "/" + ns + "/" + o.Name()
		if excludedFromDifferential(p.files.Expected, key) {
			continue
		}
		t.Run(key, func(t *testing.T) {
			theirs, invalid := k.dryRun(t, o.Obj, update)
			if invalid != "" {
				// Field validation runs between the mutating and the validating webhooks: the
				// mutating ones let the object through, and nothing of Kyverno's answer is left
				// to compare. We replay the engines' webhooks only (docs/divergences.md).
				if strings.HasPrefix(ours[key].Message, `admission webhook "mutate.`) {
					t.Errorf("Kyverno's mutating webhooks let the object through (the API server then refused it: %s), but ours denies: %q", invalid, ours[key].Message)
				}
				t.Skipf("the API server's own validation refuses the object after the mutating webhooks: %s", invalid)
			}
			want, err := oursAsAnswer(o.Obj, ours[key])
			if err != nil {
				t.Fatalf("applying our patch to %s: %v", key, err)
			}
			for _, d := range diffAnswers(want, theirs, warningsAsSet(policies, o.Obj, want.Warnings)) {
				t.Errorf("%s", d)
			}
		})
	}
}

// createClusterObjects creates a live scenario's cluster.yaml objects (their namespaces
// first), deleted again when the scenario ends.
func (k *kyvernoAdmission) createClusterObjects(t *testing.T, objs []manifest.Object) {
	t.Helper()
	k.syncNamespaces(t, objs)
	for _, o := range objs {
		if o.Kind() == "Namespace" {
			continue
		}
		k.create(t, o.Obj)
		u := &unstructured.Unstructured{Object: o.Obj}
		t.Cleanup(func() {
			client, err := k.resourceClient(u)
			if err == nil {
				err = client.Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
			}
			if ignoreNotFound(err) != nil {
				t.Errorf("deleting %s %s: %v", u.GetKind(), u.GetName(), err)
			}
		})
	}
}

// simulateLive is a live scenario's run of ours: policies read from the cluster that holds
// them and cluster.yaml's objects, resources from the file. Its report must match
// expected.yaml as a files-only run's must in TestScenarios.
func (k *kyvernoAdmission) simulateLive(t *testing.T, p *prepared) runResult {
	t.Helper()
	args := append([]string{"simulate", "-f", p.files.Resources, "-o", "json", "--kyverno-namespace", kyvernoNamespace}, p.files.Args...)
	r := k.verify(t, k.admin, args...)
	p.save("kubectl-verify-live", r)
	// The API server's warnings (Kyverno 1.19 deprecates kyverno.io/v1) are printed as
	// kubectl prints them, not logged through klog.
	if klogLine.Match(r.stderr) {
		t.Errorf("stderr has klog lines:\n%s", r.stderr)
	}
	for _, d := range scenario.Diff(p.files.Expected, r.stdout, r.exitCode) {
		t.Errorf("expected.yaml: %s", d)
	}
	return r
}

var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d`)

func parseManifest(t testing.TB, path string) []manifest.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// syncNamespaces makes every namespace the scenario uses exist with exactly the labels its
// Namespace objects give (none for namespaces it only names). Namespaces are never deleted:
// envtest has no controller-manager to finish a deletion.
func (k *kyvernoAdmission) syncNamespaces(t testing.TB, objs []manifest.Object) {
	t.Helper()
	labels := map[string]map[string]any{"default": nil}
	for _, o := range objs {
		if o.Kind() == "Namespace" {
			l, _, _ := unstructured.NestedMap(o.Obj, "metadata", "labels")
			labels[o.Name()] = l
		}
	}
	for _, o := range objs {
		if ns := o.Namespace(); ns != "" {
			if _, ok := labels[ns]; !ok {
				labels[ns] = nil
			}
		}
	}
	ctx := context.Background()
	client := k.dyn.Resource(gvrNamespaces)
	for name, l := range labels {
		want := map[string]any{"kubernetes.io/metadata.name": name}
		for key, v := range l {
			want[key] = v
		}
		cur, err := client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "labels": want}}}
			if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating namespace %s: %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedMap(cur.Object, want, "metadata", "labels"); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("setting the labels of namespace %s: %v", name, err)
		}
	}
}

// applyPolicies creates the scenario's policies. Kyverno validates policies in an admission
// webhook of its own; until that webhook answers, the API server fails the call, so a create
// that failed calling the webhook is retried. A denial is a failure.
func (k *kyvernoAdmission) applyPolicies(t testing.TB, policies []manifest.Object) {
	t.Helper()
	for _, o := range policies {
		var lastErr error
		k.waitFor(t, 2*time.Minute, "Kyverno to accept policy "+o.Name(), func(ctx context.Context) (bool, error) {
			lastErr = k.tryCreate(ctx, o.Obj)
			if lastErr == nil {
				return true, nil
			}
			if strings.Contains(lastErr.Error(), "failed calling webhook") {
				return false, lastErr
			}
			t.Fatalf("creating %s %s: %v", o.Kind(), o.Name(), lastErr)
			return false, nil
		})
	}
}

func (k *kyvernoAdmission) tryCreate(ctx context.Context, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	client, err := k.resourceClient(u)
	if err != nil {
		return err
	}
	_, err = client.Create(ctx, u.DeepCopy(), metav1.CreateOptions{})
	return err
}

func (k *kyvernoAdmission) resourceClient(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := k.restMapping(u)
	if err != nil {
		return nil, err
	}
	ri := k.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		return ri.Namespace(ns), nil
	}
	return ri, nil
}

func (k *kyvernoAdmission) restMapping(u *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := u.GroupVersionKind()
	return k.mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
}

// waitPoliciesServed waits until Kyverno serves every policy: its status is Ready (Kyverno's
// policy cache holds only Ready policies) and the resource webhook configurations have the
// webhooks of each policy's failure policy (validate.* only for rules with validating checks:
// verifyDigest or required). Both must hold on two polls in a row: Ready is written by
// Kyverno's webhook controller once per configuration it reconciles, and its policy cache takes
// the policy from the informer event that carries Ready, one hop after the API server has it.
func (k *kyvernoAdmission) waitPoliciesServed(t testing.TB, policies []manifest.Object) {
	t.Helper()
	wantMutating, wantValidating := map[string]bool{}, map[string]bool{}
	for _, o := range policies {
		suffix := "fail"
		if failurePolicyIgnore(o.Obj) {
			suffix = "ignore"
		}
		if strings.HasPrefix(o.APIVersion(), "policies.kyverno.io/") {
			// Kyverno's ivpol webhooks: one of its own for a policy with matchConditions or
			// a timeout (validating.go buildWebhookRules); a mutating one unless
			// mutateDigest is false.
			conds, _, _ := unstructured.NestedSlice(o.Obj, "spec", "matchConditions")
			_, timeout, _ := unstructured.NestedFieldNoCopy(o.Obj, "spec", "webhookConfiguration", "timeoutSeconds")
			if len(conds) > 0 || timeout {
				suffix += "-finegrained-" + o.Name()
				if ns := o.Namespace(); ns != "" {
					suffix = strings.Replace(suffix, "-finegrained-", "-finegrained-"+ns+"-", 1)
				}
			}
			if m, ok, _ := unstructured.NestedBool(o.Obj, "spec", "validationConfigurations", "mutateDigest"); !ok || m {
				wantMutating["ivpol.mutate.kyverno.svc-"+suffix] = true
			}
			wantValidating["ivpol.validate.kyverno.svc-"+suffix] = true
			continue
		}
		wantMutating["mutate.kyverno.svc-"+suffix] = true
		if hasVerifyImageChecks(o.Obj) {
			wantValidating["validate.kyverno.svc-"+suffix] = true
		}
	}
	served := func(ctx context.Context) (bool, error) {
		for _, o := range policies {
			u := &unstructured.Unstructured{Object: o.Obj}
			client, err := k.resourceClient(u)
			if err != nil {
				return false, err
			}
			cur, err := client.Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if ready, msg := readyCondition(cur.Object); !ready {
				return false, fmt.Errorf("policy %s not ready: %s", u.GetName(), msg)
			}
		}
		for _, c := range []struct {
			gvr  schema.GroupVersionResource
			name string
			want map[string]bool
		}{{gvrMutating, kyvernoMutatingCfg, wantMutating}, {gvrValidating, kyvernoValidatingCfg, wantValidating}} {
			have, err := k.webhooksWithRules(ctx, c.gvr, c.name)
			if err != nil {
				return false, err
			}
			for name := range c.want {
				if !have[name] {
					return false, fmt.Errorf("%s has no webhook %s with rules yet (has %v)", c.name, name, have)
				}
			}
		}
		return true, nil
	}
	held := 0
	k.waitFor(t, 2*time.Minute, "Kyverno to serve the scenario's policies", func(ctx context.Context) (bool, error) {
		ok, err := served(ctx)
		if !ok {
			held = 0
			return false, err
		}
		held++
		return held >= 2, nil
	})
}

// hasVerifyImageChecks is Kyverno's Rule.HasVerifyImageChecks over the policy's rules:
// verifyDigest and required default to true.
func hasVerifyImageChecks(policy map[string]any) bool {
	rules, _, _ := unstructured.NestedSlice(policy, "spec", "rules")
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		vis, _, _ := unstructured.NestedSlice(rm, "verifyImages")
		for _, vi := range vis {
			vm, _ := vi.(map[string]any)
			digest, ok := vm["verifyDigest"].(bool)
			if !ok || digest {
				return true
			}
			required, ok := vm["required"].(bool)
			if !ok || required {
				return true
			}
		}
	}
	return false
}

func readyCondition(obj map[string]any) (bool, string) {
	// policies.kyverno.io kinds: status.conditionStatus.ready.
	if ready, ok, _ := unstructured.NestedBool(obj, "status", "conditionStatus", "ready"); ok {
		msg, _, _ := unstructured.NestedString(obj, "status", "conditionStatus", "message")
		return ready, msg
	}
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Ready" {
			msg, _ := cm["message"].(string)
			return cm["status"] == "True", msg
		}
	}
	return false, "no Ready condition"
}

// webhooksWithRules names the webhooks of a configuration that have at least one rule.
func (k *kyvernoAdmission) webhooksWithRules(ctx context.Context, gvr schema.GroupVersionResource, name string) (map[string]bool, error) {
	cfg, err := k.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
	out := map[string]bool{}
	for _, h := range hooks {
		hm, _ := h.(map[string]any)
		if rules, _ := hm["rules"].([]any); len(rules) > 0 {
			n, _ := hm["name"].(string)
			out[n] = true
		}
	}
	return out, nil
}

// deletePolicies deletes every Kyverno policy and waits until both resource webhook
// configurations are empty: Kyverno rebuilds them from the same informers its policy cache
// reads, so no later request can meet a deleted policy.
func (k *kyvernoAdmission) deletePolicies(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, gvr := range policyGVRs {
		list, err := k.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		for _, it := range list.Items {
			var err error
			if ns := it.GetNamespace(); ns != "" {
				err = k.dyn.Resource(gvr).Namespace(ns).Delete(ctx, it.GetName(), metav1.DeleteOptions{})
			} else {
				err = k.dyn.Resource(gvr).Delete(ctx, it.GetName(), metav1.DeleteOptions{})
			}
			if ignoreNotFound(err) != nil {
				t.Fatalf("deleting %s %s: %v", gvr.Resource, it.GetName(), err)
			}
		}
	}
	k.waitFor(t, 2*time.Minute, "Kyverno to drop the deleted policies from its webhooks", func(ctx context.Context) (bool, error) {
		for _, gvr := range policyGVRs {
			list, err := k.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) > 0 {
				return false, err
			}
		}
		for _, c := range []struct {
			gvr  schema.GroupVersionResource
			name string
		}{{gvrMutating, kyvernoMutatingCfg}, {gvrValidating, kyvernoValidatingCfg}} {
			have, err := k.webhooksWithRules(ctx, c.gvr, c.name)
			if err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
			if len(have) > 0 {
				return false, fmt.Errorf("%s still has webhooks %v", c.name, have)
			}
		}
		return true, nil
	})
}

// admissionAnswer is what the API server answered to a dryRun=All create, or what we say it
// would answer.
type admissionAnswer struct {
	Allowed     bool
	Message     string
	Warnings    []string
	Images      map[string]string // JSON pointer of every container image -> value
	Annotations map[string]any    // kyverno.io/verify-images* annotations, JSON-decoded
}

// dryRun POSTs obj (PUTs it over the live object of its name, for an update) with
// dryRun=All and reads the answer: the returned object when allowed, the Status message when
// denied, and the Warning headers either way.
func (k *kyvernoAdmission) dryRun(t testing.TB, obj map[string]any, update bool) (ans admissionAnswer, invalid string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	method := http.MethodPost
	if update {
		client, err := k.resourceClient(u)
		if err != nil {
			t.Fatal(err)
		}
		live, err := client.Get(context.Background(), u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("an update needs the live object: %v", err)
		}
		// As `kubectl replace` sends it: the manifest, at the live object's version.
		u = u.DeepCopy()
		u.SetResourceVersion(live.GetResourceVersion())
		obj = u.Object
		method = http.MethodPut
	}
	m, err := k.restMapping(u)
	if err != nil {
		t.Fatalf("mapping %s: %v", u.GroupVersionKind(), err)
	}
	path := "/api/" + m.Resource.Version
	if m.Resource.Group != "" {
		path = "/apis/" + m.Resource.Group + "/" + m.Resource.Version
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		path += "/namespaces/" + ns
	}
	path += "/" + m.Resource.Resource
	if update {
		path += "/" + u.GetName()
	}
	path += "?dryRun=All"
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(k.cfg.Host, "/")+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	headers, errs := utilnet.ParseWarningHeaders(resp.Header.Values("Warning"))
	if len(errs) > 0 {
		t.Fatalf("%s %s: unparsable Warning headers %q: %v", method, path, resp.Header.Values("Warning"), errors.Join(errs...))
	}
	for _, h := range headers {
		ans.Warnings = append(ans.Warnings, h.Text)
	}
	if resp.StatusCode/100 != 2 {
		var st metav1.Status
		if err := json.Unmarshal(raw, &st); err != nil || st.Kind != "Status" {
			t.Fatalf("%s %s: HTTP %d, body is not a Status: %s", method, path, resp.StatusCode, raw)
		}
		if st.Reason == metav1.StatusReasonInvalid {
			return ans, st.Message
		}
		if strings.HasPrefix(st.Message, "Internal error occurred: failed calling webhook ") {
			// The webhook never answered (Kyverno's own deadlock, ivpol-two-policies): the
			// API server's error names the webhook's URL, here envtest's loopback address
			// instead of Kyverno's service.
			ans.Message = webhookHost.ReplaceAllString(st.Message, `Post "https://kyverno-svc.kyverno.svc:443/`)
			return ans, ""
		}
		if !strings.HasPrefix(st.Message, "admission webhook ") {
			t.Fatalf("%s %s: HTTP %d not from an admission webhook: %s\nKyverno log tail:\n%s", method, path, resp.StatusCode, st.Message, k.logTail())
		}
		ans.Message = st.Message
		return ans, ""
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: HTTP %d, body is not an object: %v", method, path, resp.StatusCode, err)
	}
	ans.Allowed = true
	ans.Images = containerImages(out)
	if ans.Annotations, err = verifyImagesAnnotations(out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return ans, ""
}

// webhookHost is the host of a webhook URL in the API server's call error.
var webhookHost = regexp.MustCompile(`Post "https://[^/"]+/`)

// oursAsAnswer is the answer our result says the API server gives: on allow, the original
// object with our patch applied.
func oursAsAnswer(obj map[string]any, r report.Result) (admissionAnswer, error) {
	ans := admissionAnswer{Allowed: r.Decision != report.Deny, Message: r.Message, Warnings: r.Warnings}
	if !ans.Allowed {
		return ans, nil
	}
	patched, err := admission.Apply(obj, r.Patch)
	if err != nil {
		return ans, err
	}
	ans.Images = containerImages(patched)
	ans.Annotations, err = verifyImagesAnnotations(patched)
	return ans, err
}

// containerImages maps the JSON pointer of every image field of a container list
// (containers, initContainers, ephemeralContainers, at any depth: Pods, templates) to its value.
func containerImages(obj map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		switch x := v.(type) {
		case map[string]any:
			for key, child := range x {
				p := ptr + "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
				if list, ok := child.([]any); ok && strings.HasSuffix(strings.ToLower(key), "containers") {
					for i, c := range list {
						if cm, ok := c.(map[string]any); ok {
							if img, ok := cm["image"].(string); ok {
								out[p+"/"+strconv.Itoa(i)+"/image"] = img
							}
						}
					}
					continue
				}
				walk(child, p)
			}
		case []any:
			for i, c := range x {
				walk(c, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(obj, "")
	return out
}

func verifyImagesAnnotations(obj map[string]any) (map[string]any, error) {
	ann, _, _ := unstructured.NestedStringMap(obj, "metadata", "annotations")
	out := map[string]any{}
	for key, v := range ann {
		if !strings.HasPrefix(key, verifyImagesAnnotPref) {
			continue
		}
		var parsed any
		if err := json.Unmarshal([]byte(v), &parsed); err != nil {
			return nil, fmt.Errorf("annotation %s is not JSON: %q", key, v)
		}
		out[key] = parsed
	}
	return out, nil
}

// warningsAsSet says when the order of the warnings is not defined, so that they are compared
// as a multiset: Kyverno takes the policies of a webhook call from a set (policycache
// store.go, policyMap.get ranges over a map) and a rule's images from a map, and the API
// server calls the validating webhooks of both failure policies in parallel. The order is
// compared when the warnings come from one rule about a resource with one image (the order
// within one image's responses is Kyverno's code order: digest error, then verification).
func warningsAsSet(policies []manifest.Object, obj map[string]any, warnings []string) bool {
	classes := map[bool]bool{}
	for _, o := range policies {
		classes[failurePolicyIgnore(o.Obj)] = true
	}
	if len(classes) > 1 {
		return true
	}
	images := map[string]bool{}
	for _, img := range containerImages(obj) {
		images[img] = true
	}
	rules := map[string]bool{}
	for _, w := range warnings {
		prefix, _, _ := strings.Cut(w, ": ")
		rules[prefix] = true
	}
	return len(rules) > 1 || len(images) > 1
}

// failurePolicyIgnore is Kyverno's Spec.GetFailurePolicy: webhookConfiguration.failurePolicy,
// else the deprecated spec.failurePolicy, else Fail.
func failurePolicyIgnore(policy map[string]any) bool {
	fp, ok, _ := unstructured.NestedString(policy, "spec", "webhookConfiguration", "failurePolicy")
	if !ok {
		fp, _, _ = unstructured.NestedString(policy, "spec", "failurePolicy")
	}
	return fp == "Ignore"
}

func diffAnswers(ours, theirs admissionAnswer, warningsAsSet bool) []string {
	var d []string
	decision := func(a admissionAnswer) string {
		if a.Allowed {
			return report.Allow
		}
		return report.Deny
	}
	if ours.Allowed != theirs.Allowed {
		d = append(d, fmt.Sprintf("decision: ours %s, Kyverno's admission %s", decision(ours), decision(theirs)))
	}
	if ours.Message != theirs.Message {
		d = append(d, fmt.Sprintf("message:\nours:   %q\nKyverno: %q", ours.Message, theirs.Message))
	}
	ow, tw := append([]string{}, ours.Warnings...), append([]string{}, theirs.Warnings...)
	if warningsAsSet {
		sort.Strings(ow)
		sort.Strings(tw)
	}
	if diff := cmp.Diff(ow, tw); diff != "" {
		d = append(d, fmt.Sprintf("warnings (-ours +Kyverno):\n%s", diff))
	}
	if ours.Allowed && theirs.Allowed {
		if diff := cmp.Diff(ours.Images, theirs.Images); diff != "" {
			d = append(d, fmt.Sprintf("images after admission (-ours +Kyverno):\n%s", diff))
		}
		if diff := cmp.Diff(ours.Annotations, theirs.Annotations); diff != "" {
			d = append(d, fmt.Sprintf("kyverno.io/verify-images* annotations (-ours +Kyverno):\n%s", diff))
		}
	}
	return d
}
