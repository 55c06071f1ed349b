package policyload

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/pager"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	"github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// Gap is part of the cluster the tool could not read (RBAC): checks it affects become
// tool-caused errors instead of verdicts.
type Gap struct {
	Engine string
	// Namespace limits the gap to one namespace; "" means every namespace.
	Namespace string
	Message   string
}

// Cluster reads policies and engine configuration from a live cluster.
type Cluster struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Source names where objects came from, e.g. cluster/CONTEXT.
	Source           string
	KyvernoNamespace string
	// SigstoreNamespace is policy-controller's (its config-policy-controller ConfigMap,
	// and the only namespace a key.secretRef may name); default cosign-system.
	SigstoreNamespace string
	// SigstoreCompiled, when set, is used instead of the cluster's config-image-policies.
	SigstoreCompiled *sigstore.Compiled
	// ChunkSize pages every list (default 500).
	ChunkSize int64
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Load lists every engine's policies at their preferred served version. An engine whose
// CRDs are absent contributes nothing; a list the user may not make is a Gap.
func (c Cluster) Load(ctx context.Context) (*Set, error) {
	set := &Set{Found: map[string][]string{}}
	var objs []manifest.Object
	for _, kind := range []string{"ClusterPolicy", "Policy"} {
		items, found, err := c.list(ctx, "kyverno", schema.GroupKind{Group: kyverno.Group, Kind: kind}, set)
		if err != nil {
			return nil, err
		}
		if found != "" {
			set.Found["kyverno"] = append(set.Found["kyverno"], found)
		}
		objs = append(objs, items...)
	}
	if err := c.loadImageValidating(ctx, set); err != nil {
		return nil, err
	}
	if err := c.loadSigstore(ctx, set); err != nil {
		return nil, err
	}
	if err := c.loadKubewarden(ctx, set); err != nil {
		return nil, err
	}
	for _, o := range objs {
		raw, err := json.Marshal(o.Obj)
		if err != nil {
			return nil, err
		}
		p, err := kyverno.Parse(raw, o.Source, o.Namespace())
		if err != nil {
			// Kyverno admitted it, so we are stricter than the engine here: say so, and mark
			// what the policy would have checked as not known.
			msg := fmt.Sprintf("%s %s/%s is not replayed: %v", o.Kind(), o.Namespace(), o.Name(), err)
			set.Warnings = append(set.Warnings, msg)
			set.Gaps = append(set.Gaps, Gap{Engine: "kyverno", Namespace: o.Namespace(), Message: msg})
			continue
		}
		for _, w := range p.Warnings {
			set.Warnings = append(set.Warnings, fmt.Sprintf("%s %s: %s", p.Kind, p.Key(), w))
		}
		set.Kyverno = append(set.Kyverno, p)
	}
	if len(set.Found["kyverno"]) > 0 {
		cm, err := c.Dynamic.Resource(configMaps).Namespace(c.KyvernoNamespace).Get(ctx, "kyverno", metav1.GetOptions{})
		switch {
		case err == nil:
			data := map[string]string{}
			if d, ok := cm.Object["data"].(map[string]any); ok {
				for k, v := range d {
					data[k] = fmt.Sprint(v)
				}
			}
			cfg, warnings := kyverno.ParseConfig(data, fmt.Sprintf("%s ConfigMap %s/kyverno", c.Source, c.KyvernoNamespace))
			set.KyvernoConfig = &cfg
			set.Warnings = append(set.Warnings, warnings...)
		case apierrors.IsNotFound(err):
			set.Warnings = append(set.Warnings, fmt.Sprintf("ConfigMap %s/kyverno not found: using Kyverno's built-in defaults (no resourceFilters); set --kyverno-namespace if Kyverno runs elsewhere", c.KyvernoNamespace))
		case apierrors.IsForbidden(err):
			msg := fmt.Sprintf("cannot read ConfigMap %s/kyverno (resourceFilters, defaultRegistry): %s", c.KyvernoNamespace, statusText(err))
			set.Warnings = append(set.Warnings, msg)
			set.Gaps = append(set.Gaps, Gap{Engine: "kyverno", Message: msg})
		default:
			return nil, err
		}
	}
	return set, nil
}

// loadKubewarden lists Kubewarden's ClusterAdmissionPolicies and AdmissionPolicies, and the
// policy groups. One the parser refuses (the API server admitted it) is a gap, not a failure
// of the run.
func (c Cluster) loadKubewarden(ctx context.Context, set *Set) error {
	kinds := []string{"ClusterAdmissionPolicy", "AdmissionPolicy", "ClusterAdmissionPolicyGroup", "AdmissionPolicyGroup"}
	return c.eachPolicy(ctx, set, "kubewarden", "kubewarden", kubewarden.Group, kinds, func(o manifest.Object, raw []byte) {
		p, err := kubewarden.Parse(raw, o.Source, o.Namespace())
		if err != nil {
			msg := fmt.Sprintf("%s %s is not replayed: %v", o.Kind(), o.Name(), err)
			set.Warnings = append(set.Warnings, msg)
			set.Gaps = append(set.Gaps, Gap{Engine: "kubewarden", Namespace: o.Namespace(), Message: msg})
			return
		}
		set.addKubewarden(p)
	})
}

// loadImageValidating lists Kyverno's ImageValidatingPolicies, both kinds. One the parser
// refuses (the API server admitted it) is a warning: its decisions are not known. So is a list
// the user may not make, as the policies it would show are not replayed yet either: no gap.
func (c Cluster) loadImageValidating(ctx context.Context, set *Set) error {
	return c.eachPolicy(ctx, set, "kyverno", "", ivpol.Group, []string{ivpol.KindCluster, ivpol.KindNamespaced}, func(o manifest.Object, raw []byte) {
		p, err := ivpol.Parse(raw, o.Source, o.Namespace())
		if err != nil {
			set.Warnings = append(set.Warnings, fmt.Sprintf("%s %s is not replayed: %v", o.Kind(), o.Name(), err))
			return
		}
		set.addImageValidating(p)
	})
}

// eachPolicy lists every object of group's kinds the cluster serves, records the kinds found
// under engine, and hands each object, as JSON, to parse. gapEngine names the engine a list
// the user may not make leaves a gap in ("" for none: a warning only).
func (c Cluster) eachPolicy(ctx context.Context, set *Set, engine, gapEngine, group string, kinds []string, parse func(manifest.Object, []byte)) error {
	for _, kind := range kinds {
		items, found, err := c.list(ctx, gapEngine, schema.GroupKind{Group: group, Kind: kind}, set)
		if err != nil {
			return err
		}
		if found == "" {
			continue
		}
		set.Found[engine] = append(set.Found[engine], found)
		for _, o := range items {
			raw, err := json.Marshal(o.Obj)
			if err != nil {
				return err
			}
			parse(o, raw)
		}
	}
	return nil
}

// list pages through every object of gk; found names the served version listed. A list the
// user may not make is a warning, and a gap of engine's unless engine is "".
func (c Cluster) list(ctx context.Context, engine string, gk schema.GroupKind, set *Set) ([]manifest.Object, string, error) {
	mapping, err := c.Mapper.RESTMapping(gk)
	if meta.IsNoMatchError(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	found := mapping.GroupVersionKind.GroupVersion().String() + " " + gk.Kind
	chunk := c.ChunkSize
	if chunk <= 0 {
		chunk = 500
	}
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return c.Dynamic.Resource(mapping.Resource).List(ctx, opts)
	})
	p.PageSize = chunk
	var out []manifest.Object
	err = p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		u, ok := obj.(interface{ UnstructuredContent() map[string]any })
		if !ok {
			return fmt.Errorf("unexpected %T listing %s", obj, gk)
		}
		out = append(out, manifest.Object{Obj: u.UnstructuredContent(), Source: c.Source})
		return nil
	})
	if apierrors.IsForbidden(err) {
		msg := fmt.Sprintf("cannot list %s: %s", found, statusText(err))
		set.Warnings = append(set.Warnings, msg)
		if engine != "" {
			set.Gaps = append(set.Gaps, Gap{Engine: engine, Message: msg})
		}
		return nil, found, nil
	}
	return out, found, err
}

func statusText(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		return st.Status().Message
	}
	return err.Error()
}

// loadSigstore reads policy-controller's configuration (config-policy-controller in its
// namespace; absent: the defaults) and its ClusterImagePolicies.
func (c Cluster) loadSigstore(ctx context.Context, set *Set) error {
	items, found, err := c.list(ctx, "sigstore", schema.GroupKind{Group: sigstore.Group, Kind: "ClusterImagePolicy"}, set)
	if err != nil || found == "" {
		return err
	}
	set.Found["sigstore"] = append(set.Found["sigstore"], found)
	ns := c.SigstoreNamespace
	if ns == "" {
		ns = "cosign-system"
	}
	cfg := sigstore.DefaultConfig()
	cm, err := c.Dynamic.Resource(configMaps).Namespace(ns).Get(ctx, "config-policy-controller", metav1.GetOptions{})
	switch {
	case err == nil:
		data := map[string]string{}
		if d, ok := cm.Object["data"].(map[string]any); ok {
			for k, v := range d {
				data[k] = fmt.Sprint(v)
			}
		}
		var warnings []string
		cfg, warnings = sigstore.ParseConfig(data, fmt.Sprintf("%s ConfigMap %s/config-policy-controller", c.Source, ns))
		set.Warnings = append(set.Warnings, warnings...)
	case apierrors.IsNotFound(err):
		if len(items) > 0 {
			set.Warnings = append(set.Warnings, fmt.Sprintf("ConfigMap %s/config-policy-controller not found: using policy-controller's defaults (no-match-policy deny); set --sigstore-namespace if it runs elsewhere", ns))
		}
	case apierrors.IsForbidden(err) && len(items) == 0:
		// Without policies only no-match-policy would matter, in namespaces that opt in:
		// the default (deny) stands, unannounced.
	case apierrors.IsForbidden(err):
		msg := fmt.Sprintf("cannot read ConfigMap %s/config-policy-controller (no-match-policy): %s", ns, statusText(err))
		set.Warnings = append(set.Warnings, msg)
		set.Gaps = append(set.Gaps, Gap{Engine: "sigstore", Message: msg})
	default:
		return err
	}
	cfg.Namespace = ns
	set.SigstoreConfig = &cfg
	roots, _, err := c.list(ctx, "sigstore", schema.GroupKind{Group: sigstore.Group, Kind: "TrustRoot"}, set)
	if err != nil {
		return err
	}
	for _, o := range roots {
		raw, err := json.Marshal(o.Obj)
		if err != nil {
			return err
		}
		tr, err := sigstore.ParseTrustRoot(raw, o.Source)
		if err != nil {
			set.Warnings = append(set.Warnings, fmt.Sprintf("TrustRoot %s is not replayed: %v", o.Name(), err))
			continue
		}
		set.addTrustRoot(tr)
	}
	// Without ClusterImagePolicies there is nothing to look up, and no right to ask for. A
	// compiled ConfigMap the user gave (--sigstore-config) stands in for the cluster's.
	if c.SigstoreCompiled != nil {
		cfg.Compiled = c.SigstoreCompiled
	} else if len(items) > 0 {
		if cfg.Compiled, err = c.compiledPolicies(ctx, ns, set); err != nil {
			return err
		}
	}
	for _, o := range items {
		raw, err := json.Marshal(o.Obj)
		if err != nil {
			return err
		}
		p, err := sigstore.Parse(raw, o.Source, cfg)
		if err != nil {
			// The controller admitted it: we are stricter than the engine here. Say so, and
			// mark what it would have checked as not known.
			msg := fmt.Sprintf("ClusterImagePolicy %s is not replayed: %v", o.Name(), err)
			set.Warnings = append(set.Warnings, msg)
			set.Gaps = append(set.Gaps, Gap{Engine: "sigstore", Message: msg})
			continue
		}
		if !set.compile(p, cfg.Compiled) {
			continue
		}
		for _, w := range p.Warnings {
			set.Warnings = append(set.Warnings, fmt.Sprintf("ClusterImagePolicy %s: %s", p.Name, w))
		}
		set.Sigstore = append(set.Sigstore, p)
	}
	return nil
}

// compiledPolicies is policy-controller's config-image-policies ConfigMap (nil when absent):
// the policies its webhook enforces, as its reconciler compiled them.
func (c Cluster) compiledPolicies(ctx context.Context, ns string, set *Set) (*sigstore.Compiled, error) {
	cm, err := c.Dynamic.Resource(configMaps).Namespace(ns).Get(ctx, sigstore.ConfigMapCompiled, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case apierrors.IsForbidden(err):
		set.Warnings = append(set.Warnings, fmt.Sprintf("cannot read ConfigMap %s/%s (the policies policy-controller enforces, keys inlined): %s; replaying the ClusterImagePolicy objects", ns, sigstore.ConfigMapCompiled, statusText(err)))
		return nil, nil
	case err != nil:
		return nil, err
	}
	data := map[string]string{}
	if d, ok := cm.Object["data"].(map[string]any); ok {
		for k, v := range d {
			data[k] = fmt.Sprint(v)
		}
	}
	return sigstore.CompiledFrom(data, fmt.Sprintf("ConfigMap %s/%s", ns, sigstore.ConfigMapCompiled)), nil
}
