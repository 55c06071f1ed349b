package plugin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/simulate"
)

// namespaceOr is the object's namespace, else def (what simulate gives it).
func namespaceOr(o manifest.Object, def string) string {
	if n := o.Namespace(); n != "" {
		return n
	}
	return def
}

func objectName(o manifest.Object, ns string) string {
	return fmt.Sprintf("%s %s/%s (%s)", o.Kind(), ns, o.Name(), o.Source)
}

// oldObjects pairs every resource with the old object of its UPDATE (contract.md "UPDATE"):
// from --old-filename, matched by apiVersion, kind, namespace and name; without it, the live
// object of the same identity, which for resources read from the cluster is the resource
// itself ("the next update of what runs now"). A resource without an old object is an error
// naming it; so is an old object given twice. Old objects that pair with no resource are
// returned as warnings.
func (o *SimulateOptions) oldObjects(ctx context.Context, resources []manifest.Object, c *cluster, ns string, fromCluster bool) (map[string]map[string]any, []string, error) {
	if o.Operation != simulate.OperationUpdate {
		return nil, nil, nil
	}
	wanted := simulate.Results(resources)
	old := map[string]map[string]any{}
	for _, r := range wanted {
		if r.Name() == "" {
			return nil, nil, fmt.Errorf("--operation=UPDATE: %s at %s has no metadata.name; only a named object can be updated", r.Kind(), r.Source)
		}
	}
	switch {
	case len(o.OldFiles) > 0:
		objs, err := readObjects(o.ConfigFlags, o.OldFiles, o.Sources.Recursive, "", o.In)
		if err != nil {
			return nil, nil, fmt.Errorf("--old-filename: %w", err)
		}
		from := map[string]manifest.Object{}
		for _, x := range objs {
			n := namespaceOr(x, ns)
			key := simulate.ObjectKey(x.APIVersion(), x.Kind(), n, x.Name())
			if prev, dup := from[key]; dup {
				return nil, nil, fmt.Errorf("--old-filename: %s %s/%s is given twice (%s and %s); one old object per resource", x.Kind(), n, x.Name(), prev.Source, x.Source)
			}
			from[key] = x
		}
		used := map[string]bool{}
		for _, r := range wanted {
			n := namespaceOr(r, ns)
			key := simulate.ObjectKey(r.APIVersion(), r.Kind(), n, r.Name())
			x, ok := from[key]
			if !ok {
				return nil, nil, fmt.Errorf("--operation=UPDATE: no old object for %s in --old-filename %s (old objects pair by apiVersion, kind, namespace and name)",
					objectName(r, n), strings.Join(o.OldFiles, ", "))
			}
			old[key], used[key] = x.Obj, true
		}
		var warnings []string
		for _, x := range objs {
			n := namespaceOr(x, ns)
			if !used[simulate.ObjectKey(x.APIVersion(), x.Kind(), n, x.Name())] && !simulate.IsNamespace(x) {
				warnings = append(warnings, fmt.Sprintf("--old-filename: %s pairs with no resource and is ignored", objectName(x, n)))
			}
		}
		return old, warnings, nil
	case fromCluster:
		for _, r := range wanted {
			old[simulate.ObjectKey(r.APIVersion(), r.Kind(), namespaceOr(r, ns), r.Name())] = r.Obj
		}
		return old, nil, nil
	}
	live, err := c.liveObjects(ctx, wanted, ns, o.Parallel)
	if err != nil {
		return nil, nil, err
	}
	return live, nil, nil
}

// liveObjects reads, for each object, the live object of the same identity: the old object
// of an UPDATE of local manifests.
func (c *cluster) liveObjects(ctx context.Context, objs []manifest.Object, ns string, parallel int) (map[string]map[string]any, error) {
	mapper, err := c.flags.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for _, o := range objs {
		n := namespaceOr(o, ns)
		g.Go(func() error {
			gv, err := schema.ParseGroupVersion(o.APIVersion())
			if err != nil {
				return fmt.Errorf("--operation=UPDATE: %s: apiVersion %q: %w", objectName(o, n), o.APIVersion(), err)
			}
			m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind()}, gv.Version)
			if err != nil {
				return fmt.Errorf("--operation=UPDATE: reading the live %s from %s for its old object: %w", objectName(o, n), c.server, err)
			}
			var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				ri = c.dyn.Resource(m.Resource).Namespace(n)
			}
			u, err := ri.Get(gctx, o.Name(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return fmt.Errorf("--operation=UPDATE: %s does not exist in the cluster at %s, so it has no old object: give one with --old-filename", objectName(o, n), c.server)
			case apierrors.IsForbidden(err):
				return fmt.Errorf("--operation=UPDATE: cannot read the live %s for its old object: %s", objectName(o, n), forbiddenText(err))
			case err != nil:
				return fmt.Errorf("--operation=UPDATE: reading the live %s from %s: %w", objectName(o, n), c.server, err)
			}
			mu.Lock()
			out[simulate.ObjectKey(o.APIVersion(), o.Kind(), n, o.Name())] = u.Object
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
