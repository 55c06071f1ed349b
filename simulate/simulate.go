// Package simulate runs the pipeline: for each resource, what each engine would check, and
// what the API server would answer now and if every policy were enforced. No cobra here:
// callers hand in typed config.
package simulate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	kwpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/collect"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	ivengine "github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno/ivpol"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"golang.org/x/sync/errgroup"
)

// Verifier is what every engine needs verified (the verify package's Verifier).
type Verifier interface {
	kyverno.Verifier
	ivengine.Verifier
	sigstore.Verifier
	kubewarden.Verifier
}

// ConfigMapReader reads ConfigMaps from the cluster a run reads; APIReader makes the GETs
// Kyverno apiCall context entries ask of its API server.
type (
	ConfigMapReader = kyverno.ConfigMapReader
	APIReader       = kyverno.APIReader
)

// Progress counts a run's work as it goes, for a progress line: resources collected, and
// their images, verified so far and in all.
type Progress struct {
	Resources, ImagesTotal, ImagesDone atomic.Int64
}

// Config is one run.
type Config struct {
	// Progress, when set, is kept up to date while the run goes.
	Progress      *Progress
	Kyverno       []*kpol.Policy
	KyvernoConfig kyverno.Config
	// ImageValidating are Kyverno's (Namespaced)ImageValidatingPolicies.
	ImageValidating []*ivpol.Policy
	// KyvernoConfigMaps reads the ConfigMaps Kyverno rule context entries name; nil when the
	// run reads no cluster.
	KyvernoConfigMaps ConfigMapReader
	KyvernoAPI        APIReader
	// Sigstore are the ClusterImagePolicies, SigstoreConfig the policy-controller
	// configuration; SigstoreActive says policy-controller is in play (policies given, or
	// its kind served by the cluster), so that no-match-policy applies.
	Sigstore           []*spol.Policy
	SigstoreConfig     spol.Config
	SigstoreTrustRoots map[string]*spol.TrustRoot
	SigstoreActive     bool
	// Kubewarden are the (Cluster)AdmissionPolicies; KubewardenNamespace is where Kubewarden
	// runs (cluster policies do not see it).
	Kubewarden          []*kwpol.Policy
	KubewardenNamespace string
	Resources           []manifest.Object
	// DefaultNamespace is given to objects without one (-n, else the context's, else default).
	DefaultNamespace string
	// Operation is CREATE or UPDATE; UPDATE needs an old object for every resource.
	Operation string
	// OldObjects are the old objects of an UPDATE, by ObjectKey (namespace defaulted as for
	// the resources).
	OldObjects map[string]map[string]any
	// FromCluster says Resources are live objects: a CREATE replay then drops Kyverno's
	// verify annotations first, as Kyverno's background scan does (update.go).
	FromCluster bool
	// Parallel bounds how many resources are evaluated at once (default 16).
	Parallel int
	Verifier Verifier
	// NamespaceLabels are labels read from the cluster; Namespace objects among Resources
	// take precedence. UnknownNamespaces says why a namespace's labels could not be read.
	NamespaceLabels   map[string]map[string]string
	UnknownNamespaces map[string]string
	// Gaps are parts of the cluster that could not be read: every result a gap covers gets
	// a tool-caused error check.
	Gaps []Gap
}

// Gap is part of the cluster the tool could not read.
type Gap struct {
	Engine    string
	Namespace string // "" = every namespace
	Message   string
}

// Operations an admission request replays.
const (
	OperationCreate = kyverno.OperationCreate
	OperationUpdate = kyverno.OperationUpdate
)

// IsNamespace reports whether o is a Namespace object: input for namespace labels, not a
// result.
func IsNamespace(o manifest.Object) bool { return o.Kind() == "Namespace" && o.APIVersion() == "v1" }

// Results are the objects that become results: every object read except Namespace objects.
func Results(objs []manifest.Object) []manifest.Object {
	var out []manifest.Object
	for _, o := range objs {
		if !IsNamespace(o) {
			out = append(out, o)
		}
	}
	return out
}

// Run evaluates every resource. Results are sorted by (namespace, kind, name).
func Run(ctx context.Context, cfg Config) (*report.SimulationReport, []report.ImageRow, error) {
	if cfg.Operation == "" {
		cfg.Operation = OperationCreate
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	nsLabels := collect.NamespaceLabels(cfg.Resources)
	for ns, l := range cfg.NamespaceLabels {
		if _, ok := nsLabels[ns]; !ok {
			nsLabels[ns] = l
		}
	}
	objs := Results(cfg.Resources)
	if cfg.Progress != nil {
		cfg.Progress.Resources.Store(int64(len(objs)))
		for _, o := range objs {
			cfg.Progress.ImagesTotal.Add(int64(len(extract.Images(o.Kind(), o.Obj))))
		}
	}
	engs := engines{
		kyverno: &kyverno.Engine{Policies: cfg.Kyverno, Verifier: cfg.Verifier, Config: cfg.KyvernoConfig, ConfigMaps: cfg.KyvernoConfigMaps, API: cfg.KyvernoAPI},
		ivpol:   &ivengine.Engine{Policies: cfg.ImageValidating, Verifier: cfg.Verifier, Config: cfg.KyvernoConfig},
		sigstore: &sigstore.Engine{Policies: cfg.Sigstore, Config: cfg.SigstoreConfig, TrustRoots: cfg.SigstoreTrustRoots, Verifier: cfg.Verifier,
			Active: cfg.SigstoreActive},
		kubewarden: &kubewarden.Engine{Policies: cfg.Kubewarden, Namespace: cfg.KubewardenNamespace, Verifier: cfg.Verifier},
	}
	inputs := kindNames(objs)
	results := make([]report.Result, len(objs))
	rows := make([][]report.ImageRow, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Parallel)
	for i := range objs {
		g.Go(func() error {
			r, ir, err := evaluate(gctx, engs, cfg, objs[i], inputs, nsLabels)
			if err != nil {
				return fmt.Errorf("%s: %w", objs[i].Source, err)
			}
			if cfg.Progress != nil {
				cfg.Progress.ImagesDone.Add(int64(len(extract.Images(objs[i].Kind(), objs[i].Obj))))
			}
			results[i], rows[i] = r, ir
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	order := make([]int, len(results))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := results[order[a]].Resource, results[order[b]].Resource
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.Name < y.Name
	})
	rep := &report.SimulationReport{APIVersion: report.APIVersion, Kind: "SimulationReport", Results: []report.Result{}}
	var imageRows []report.ImageRow
	for _, i := range order {
		rep.Results = append(rep.Results, results[i])
		imageRows = append(imageRows, rows[i]...)
	}
	rep.Summary = Summarize(rep.Results)
	return rep, imageRows, nil
}

// engines are the engines one run replays.
type engines struct {
	kyverno    *kyverno.Engine
	ivpol      *ivengine.Engine
	sigstore   *sigstore.Engine
	kubewarden *kubewarden.Engine
}

func evaluate(ctx context.Context, engs engines, cfg Config, o manifest.Object, inputs map[kindName]bool, nsLabels map[string]map[string]string) (report.Result, []report.ImageRow, error) {
	obj, err := admission.DeepCopy(o.Obj)
	if err != nil {
		return report.Result{}, nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	ns, _ := meta["namespace"].(string)
	if ns == "" {
		ns = cfg.DefaultNamespace
		if ns == "" {
			ns = "default"
		}
		meta["namespace"] = ns
	}
	labels := nsLabels[ns]
	if labels == nil {
		labels = map[string]string{"kubernetes.io/metadata.name": ns}
	}
	res := report.Result{
		Resource:      report.Resource{APIVersion: o.APIVersion(), Kind: o.Kind(), Namespace: ns, Name: o.Name(), Source: o.Source, Owner: owner(obj, inputs)},
		Warnings:      []string{},
		Patch:         []report.PatchOp{},
		Checks:        []report.Check{},
		NotChecked:    []report.NotChecked{},
		InputWarnings: []string{},
	}
	containers := extract.Images(o.Kind(), obj)
	// Names are unique across a pod's containers, init and ephemeral ones included; the
	// engines still see a repeated one (Kyverno keeps the last of a name), and then the API
	// server's validation refuses the object.
	named := map[string]bool{}
	for _, c := range containers {
		if strings.TrimSpace(c.Image) == "" {
			res.InputWarnings = append(res.InputWarnings, fmt.Sprintf("%s: container %q has an empty image", c.Pointer, c.Name))
		}
		if named[c.Name] {
			res.InputWarnings = append(res.InputWarnings, fmt.Sprintf("%s: container name %q is used twice; the API server refuses such an object (Duplicate value)", strings.TrimSuffix(c.Pointer, "/image")+"/name", c.Name))
		}
		named[c.Name] = true
	}
	old, err := requestObjects(cfg, o, obj, ns)
	if err != nil {
		return res, nil, err
	}
	req := kyverno.Request{Object: obj, Operation: cfg.Operation, OldObject: old, NamespaceLabels: labels}
	if why, unknown := cfg.UnknownNamespaces[ns]; unknown && nsLabels[ns] == nil {
		req.NamespaceUnknown = why
	}
	out, err := engs.kyverno.Checks(ctx, req)
	if err != nil {
		return res, nil, err
	}
	ivreq := ivengine.Request{Object: obj, Operation: cfg.Operation, OldObject: old, NamespaceLabels: labels, NamespaceUnknown: req.NamespaceUnknown}
	ivout, err := engs.ivpol.Checks(ctx, ivreq)
	if err != nil {
		return res, nil, err
	}
	out.Checks = append(out.Checks, ivout.Checks...)
	out.CheckPaths = append(out.CheckPaths, ivout.CheckPaths...)
	var ivcovered []report.Check
	for _, paths := range ivout.CheckPaths {
		for _, p := range paths {
			ivcovered = append(ivcovered, report.Check{Path: p})
		}
	}
	for _, n := range ivout.NotChecked {
		ivcovered = append(ivcovered, report.Check{Path: n.Path})
	}
	out.NotChecked = append(coveredElsewhere(out.NotChecked, ivcovered), ivout.NotChecked...)
	sreq := sigstore.Request{Object: obj, Operation: cfg.Operation, OldObject: old, NamespaceLabels: labels, NamespaceUnknown: req.NamespaceUnknown}
	sout, err := engs.sigstore.Checks(ctx, sreq)
	if err != nil {
		return res, nil, err
	}
	out.Checks = append(out.Checks, sout.Checks...)
	out.CheckPaths = append(out.CheckPaths, make([][]string, len(sout.Checks))...)
	out.NotChecked = append(coveredElsewhere(out.NotChecked, sout.Checks), sout.NotChecked...)
	kreq := kubewarden.Request{Object: obj, Operation: cfg.Operation, OldObject: old, NamespaceLabels: labels, NamespaceUnknown: req.NamespaceUnknown}
	kout := engs.kubewarden.Checks(ctx, kreq)
	out.Checks = append(out.Checks, kout.Checks...)
	out.CheckPaths = append(out.CheckPaths, make([][]string, len(kout.Checks))...)
	out.NotChecked = append(coveredElsewhere(out.NotChecked, kout.Checks), kout.NotChecked...)
	res.InputWarnings = append(res.InputWarnings, out.InputWarnings...)
	for _, g := range cfg.Gaps {
		if g.Namespace == "" || g.Namespace == ns {
			out.Checks = append(out.Checks, report.Check{Engine: g.Engine, Result: report.ResultError, Message: report.ToolErrorPrefix + g.Message})
			out.CheckPaths = append(out.CheckPaths, nil)
		}
	}
	kyverno.SortChecks(out.Checks, out.CheckPaths)
	res.Checks = append(res.Checks, out.Checks...)
	res.NotChecked = append(res.NotChecked, out.NotChecked...)
	hooks := func(enforce bool) []admission.Webhook {
		// Kyverno's ClusterPolicy and ImageValidatingPolicy webhooks share its resource
		// configurations, whose webhooks it sorts by name (controller.go
		// buildResource*WebhookConfiguration): ivpol.mutate.kyverno.svc-* is called before
		// mutate.kyverno.svc-*, and -fail before -ignore.
		out := append(engs.kyverno.Webhooks(req, enforce), engs.ivpol.Webhooks(ivreq, enforce)...)
		sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		out = append(out, engs.sigstore.Webhooks(sreq, enforce)...)
		return append(out, engs.kubewarden.Webhooks(kreq, enforce)...)
	}
	now, err := admission.Run(ctx, obj, hooks(false))
	if err != nil {
		return res, nil, err
	}
	enforced, err := admission.Run(ctx, obj, hooks(true))
	if err != nil {
		return res, nil, err
	}
	res.Decision, res.DecisionIfEnforced = report.Allow, report.Allow
	if !now.Allowed {
		res.Decision = report.Deny
		res.Message = now.Message
	}
	if !enforced.Allowed {
		res.DecisionIfEnforced = report.Deny
	}
	if now.Warnings != nil {
		res.Warnings = now.Warnings
	}
	res.Patch = now.Patch
	return res, imageRows(res, containers, out.CheckPaths), nil
}

// coveredElsewhere drops the entries no engine's policy applies to (engine "") for images
// another engine's checks cover (they are checked after all), or that another engine's
// policy applies to without selecting them (its entry says so).
func coveredElsewhere(nc []report.NotChecked, checks []report.Check) []report.NotChecked {
	covered := map[string]bool{}
	for _, c := range checks {
		covered[c.Path] = true
	}
	out := nc[:0:0]
	for _, n := range nc {
		if n.Engine == "" && covered[n.Path] {
			continue
		}
		out = append(out, n)
	}
	return out
}

// owner names the controller owner when it is among the inputs.
// kindName is how an owner reference names an object among the inputs.
type kindName struct{ kind, name string }

// kindNames indexes the inputs for owner: every resource asks, so a scan of all of them each
// time would make a run quadratic in its size.
func kindNames(objs []manifest.Object) map[kindName]bool {
	m := make(map[kindName]bool, len(objs))
	for _, o := range objs {
		m[kindName{o.Kind(), o.Name()}] = true
	}
	return m
}

func owner(obj map[string]any, inputs map[kindName]bool) *report.Owner {
	meta, _ := obj["metadata"].(map[string]any)
	refs, _ := meta["ownerReferences"].([]any)
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		if c, _ := ref["controller"].(bool); !c {
			continue
		}
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		if inputs[kindName{kind, name}] {
			return &report.Owner{Kind: kind, Name: name}
		}
	}
	return nil
}

var severity = map[string]int{report.ResultSkip: 1, report.ResultPass: 2, report.ResultWarn: 3, report.ResultFail: 4, report.ResultError: 5}

func imageRows(res report.Result, containers []extract.Container, paths [][]string) []report.ImageRow {
	var rows []report.ImageRow
	for _, c := range containers {
		row := report.ImageRow{Resource: res.Resource, Container: c.Name, Path: c.Pointer, Image: c.Image, Checks: []report.Check{}, NotChecked: []report.NotChecked{}, Result: "none"}
		worst := 0
		for i, ch := range res.Checks {
			covers := ch.Path == c.Pointer
			for _, p := range paths[i] {
				if p == c.Pointer {
					covers = true
				}
			}
			if !covers {
				continue
			}
			row.Checks = append(row.Checks, ch)
			if ch.Digest != "" && row.Digest == "" {
				row.Digest = ch.Digest
			}
			if severity[ch.Result] > worst {
				worst = severity[ch.Result]
				row.Result = ch.Result
			}
		}
		for _, nc := range res.NotChecked {
			if nc.Path == c.Pointer {
				row.NotChecked = append(row.NotChecked, nc)
			}
		}
		if len(row.Checks) == 0 {
			row.Result = "none"
		}
		rows = append(rows, row)
	}
	return rows
}

// Summarize counts results as contract.md defines each field.
func Summarize(results []report.Result) report.Summary {
	var s report.Summary
	for _, r := range results {
		s.Resources++
		if r.Decision == report.Deny {
			s.Denied++
		} else {
			s.Allowed++
			if warned(r) {
				s.Warned++
			}
			for _, p := range r.Patch {
				if strings.HasSuffix(p.Path, "/image") {
					s.Mutated++
					break
				}
			}
		}
		errs, incomplete := false, false
		for _, c := range r.Checks {
			if c.Result == report.ResultError {
				errs = true
				if strings.HasPrefix(c.Message, report.ToolErrorPrefix) {
					incomplete = true
				}
			}
		}
		if errs {
			s.Errors++
		}
		if incomplete {
			s.Incomplete++
		}
		if r.DecisionIfEnforced == report.Deny {
			s.DeniedIfEnforced++
		}
		if r.Resource.Owner == nil {
			s.Workloads++
			if r.Decision == report.Deny {
				s.WorkloadsDenied++
			}
			if r.DecisionIfEnforced == report.Deny {
				s.WorkloadsDeniedIfEnforced++
			}
		}
	}
	return s
}

func warned(r report.Result) bool {
	if len(r.Warnings) > 0 {
		return true
	}
	for _, c := range r.Checks {
		if c.Mode != "enforce" && c.Mode != "deny" && c.Mode != "protect" && c.Result != report.ResultPass && c.Result != report.ResultSkip {
			return true
		}
	}
	return false
}

// FailOn decides the exit status from the report: 1 when a result reaches the threshold.
// failOn is deny, warn or never; enforce judges decisionIfEnforced instead of decision.
func FailOn(rep *report.SimulationReport, failOn string, enforce bool) bool {
	if failOn == "never" {
		return false
	}
	for _, r := range rep.Results {
		d := r.Decision
		if enforce {
			d = r.DecisionIfEnforced
		}
		if d == report.Deny {
			return true
		}
		if failOn == "warn" && warned(r) {
			return true
		}
	}
	return false
}
