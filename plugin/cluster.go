package plugin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/internal/memo"
	"github.com/kubectl-verify/kubectl-verify/policyload"
)

// defaultKinds are the pod-bearing kinds read from the cluster when no TYPE is given.
const defaultKinds = "pods,deployments,replicasets,statefulsets,daemonsets,replicationcontrollers,jobs,cronjobs"

// ClusterUnreachableError means the cluster could not be asked at all: exit 2.
type ClusterUnreachableError struct {
	Server string
	Err    error
}

func (e *ClusterUnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the cluster at %s: %v", e.Server, e.Err)
}

func (e *ClusterUnreachableError) Unwrap() error { return e.Err }

// cluster is the kubeconfig context in use, checked reachable once.
type cluster struct {
	flags   *genericclioptions.ConfigFlags
	context string
	server  string
	dyn     dynamic.Interface
	raw     rest.Interface
}

// connect resolves the context and asks the API server for its version, so that an
// unreachable cluster fails once, early, naming the server. The API server's warnings (a
// deprecated policy version, say) go to errOut once each, as kubectl prints them.
func connect(flags *genericclioptions.ConfigFlags, errOut io.Writer) (*cluster, error) {
	warnings := rest.NewWarningWriter(errOut, rest.WarningWriterOptions{Deduplicate: true})
	wrap := flags.WrapConfigFn
	flags.WrapConfigFn = func(cfg *rest.Config) *rest.Config {
		if wrap != nil {
			cfg = wrap(cfg)
		}
		cfg.WarningHandler = warnings
		return cfg
	}
	c := &cluster{flags: flags}
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err == nil {
		c.context = raw.CurrentContext
		if flags.Context != nil && *flags.Context != "" {
			c.context = *flags.Context
		}
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, &ClusterUnreachableError{Server: "(no server: " + kubeconfigHint(flags) + ")", Err: err}
	}
	c.server = cfg.Host
	dc, err := flags.ToDiscoveryClient()
	if err != nil {
		return nil, &ClusterUnreachableError{Server: c.server, Err: err}
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, &ClusterUnreachableError{Server: c.server, Err: err}
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	// A client of its own for apiCall GETs: the discovery client's caches responses on disk.
	rc := rest.CopyConfig(cfg)
	rc.GroupVersion, rc.APIPath = &schema.GroupVersion{}, "/"
	rc.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	if c.raw, err = rest.UnversionedRESTClientFor(rc); err != nil {
		return nil, err
	}
	return c, nil
}

func kubeconfigHint(flags *genericclioptions.ConfigFlags) string {
	if flags.KubeConfig != nil && *flags.KubeConfig != "" {
		return "kubeconfig " + *flags.KubeConfig
	}
	return "the current kubeconfig"
}

// Source is how results from this cluster name their provenance.
func (c *cluster) Source() string { return "cluster/" + c.context }

// clusterResources lists resources the way kubectl get does: TYPE[/NAME] through discovery,
// -n/-A/-l, paged by chunkSize. A kind the user may not list is a warning, not a failure.
func (c *cluster) resources(ctx context.Context, args []string, namespace string, all bool, selector string, chunkSize int64) ([]manifest.Object, []string, error) {
	if len(args) == 0 {
		args = []string{defaultKinds}
	}
	b := resource.NewBuilder(c.flags).Unstructured().ContinueOnError().
		NamespaceParam(namespace).DefaultNamespace().AllNamespaces(all).
		LabelSelectorParam(selector).RequestChunksOf(chunkSize).
		ResourceTypeOrNameArgs(true, args...).Latest().Flatten()
	r := b.Do()
	if err := r.Err(); err != nil {
		return nil, nil, err
	}
	var objs []manifest.Object
	var gaps []string
	err := r.Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		if u, ok := info.Object.(*unstructured.Unstructured); ok {
			objs = append(objs, manifest.Object{Obj: u.Object, Source: c.Source()})
		}
		return nil
	})
	for _, e := range flatten(err) {
		if apierrors.IsForbidden(e) {
			gaps = append(gaps, fmt.Sprintf("%s: those resources are not evaluated", forbiddenText(e)))
			continue
		}
		return nil, nil, e
	}
	return objs, gaps, ctx.Err()
}

// policyLoader reads policies through the dynamic client.
func (c *cluster) policyLoader(kyvernoNamespace, sigstoreNamespace string, chunk int64) (policyload.Cluster, error) {
	mapper, err := c.flags.ToRESTMapper()
	if err != nil {
		return policyload.Cluster{}, err
	}
	return policyload.Cluster{Dynamic: c.dyn, Mapper: mapper, Source: c.Source(), KyvernoNamespace: kyvernoNamespace, SigstoreNamespace: sigstoreNamespace, ChunkSize: chunk}, nil
}

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// namespaceLabels reads the labels of the namespaces results live in: one paged list, or,
// when the user may not list namespaces, one get per namespace. A namespace that cannot be
// read is reported, not guessed.
func (c *cluster) namespaceLabels(ctx context.Context, wanted []string, chunk int64) (map[string]map[string]string, map[string]string, []string, error) {
	labels := map[string]map[string]string{}
	unknown := map[string]string{}
	var warnings []string
	dyn := c.dyn
	if chunk <= 0 {
		chunk = 500
	}
	keep := func(u *unstructured.Unstructured) {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		labels[u.GetName()] = l
	}
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return dyn.Resource(namespacesGVR).List(ctx, opts)
	})
	p.PageSize = chunk
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			keep(u)
		}
		return nil
	})
	if err == nil {
		return labels, unknown, nil, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, nil, nil, err
	}
	for _, ns := range wanted {
		u, err := dyn.Resource(namespacesGVR).Get(ctx, ns, metav1.GetOptions{})
		switch {
		case err == nil:
			keep(u)
		case apierrors.IsForbidden(err):
			unknown[ns] = forbiddenText(err)
			warnings = append(warnings, fmt.Sprintf("cannot read the labels of namespace %s: %s; rules that select namespaces by label, and policy-controller (whose namespaces opt in by label), give kubectl-verify errors there", ns, forbiddenText(err)))
		case apierrors.IsNotFound(err):
			labels[ns] = map[string]string{"kubernetes.io/metadata.name": ns}
		default:
			return nil, nil, nil, err
		}
	}
	return labels, unknown, warnings, nil
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		var out []error
		for _, e := range agg.Errors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func forbiddenText(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return strings.TrimSpace(st.Status().Message)
	}
	return err.Error()
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// secretReader reads key Secrets through the dynamic client.
type secretReader struct{ dyn dynamic.Interface }

func (c *cluster) secrets() secretReader { return secretReader{c.dyn} }

// Secret returns the Secret's data, decoded.
func (r secretReader) Secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	u, err := r.dyn.Resource(secretsGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	raw, _, _ := unstructured.NestedStringMap(u.Object, "data")
	out := make(map[string][]byte, len(raw))
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s key %s: %w", namespace, name, k, err)
		}
		out[k] = b
	}
	return out, nil
}

// Forbidden reports an RBAC refusal.
func (r secretReader) Forbidden(err error) bool { return apierrors.IsForbidden(err) }

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// configMapReader reads the ConfigMaps Kyverno rule context entries name, each once a run.
type configMapReader struct {
	dyn  dynamic.Interface
	read *memo.Memo[map[string]any]
}

func (c *cluster) configMaps() configMapReader {
	return configMapReader{c.dyn, &memo.Memo[map[string]any]{}}
}

// ConfigMap returns the object as the API server gives it.
func (r configMapReader) ConfigMap(ctx context.Context, namespace, name string) (map[string]any, error) {
	return r.read.Do(ctx, namespace+"/"+name, func() (map[string]any, error) {
		u, err := r.dyn.Resource(configMapsGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return u.Object, nil
	})
}

// Forbidden reports an RBAC refusal.
func (r configMapReader) Forbidden(err error) bool { return apierrors.IsForbidden(err) }

// apiReader makes the GETs Kyverno apiCall context entries ask for, each URI once a run.
type apiReader struct {
	raw  rest.Interface
	read *memo.Memo[[]byte]
}

func (c *cluster) api() apiReader { return apiReader{c.raw, &memo.Memo[[]byte]{}} }

// Get is a GET of uri (path and query) as Kyverno's client makes it (RequestURI).
func (r apiReader) Get(ctx context.Context, uri string) ([]byte, error) {
	return r.read.Do(ctx, uri, func() ([]byte, error) {
		return r.raw.Get().RequestURI(uri).DoRaw(ctx)
	})
}

// Forbidden reports an RBAC refusal.
func (r apiReader) Forbidden(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}
