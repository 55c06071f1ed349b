package simulate

import (
	"fmt"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
)

// ObjectKey is the identity an UPDATE's old object is paired by: apiVersion, kind, namespace
// and name (contract.md "UPDATE"). namespace is the defaulted one.
func ObjectKey(apiVersion, kind, namespace, name string) string {
	return apiVersion + "\x00" + kind + "\x00" + namespace + "\x00" + name
}

// requestObjects prepares obj (the resource's copy, namespace already defaulted to ns) for the
// operation and returns the request's old object: nil on CREATE, where a live object also
// loses Kyverno's verify annotations (spec/kyverno.md §4.5: the background scan re-verifies a
// live object as a CREATE without them); on UPDATE a copy of the paired old object, with its
// namespace defaulted as obj's was.
func requestObjects(cfg Config, o manifest.Object, obj map[string]any, ns string) (map[string]any, error) {
	switch cfg.Operation {
	case kyverno.OperationCreate:
		if cfg.FromCluster {
			kyverno.StripVerifyAnnotations(obj)
		}
		return nil, nil
	case kyverno.OperationUpdate:
	default:
		return nil, fmt.Errorf("operation %q is not replayed: use CREATE or UPDATE", cfg.Operation)
	}
	src, ok := cfg.OldObjects[ObjectKey(o.APIVersion(), o.Kind(), ns, o.Name())]
	if !ok {
		return nil, fmt.Errorf("%s %s/%s: UPDATE needs the old object, and none was given", o.Kind(), ns, o.Name())
	}
	old, err := admission.DeepCopy(src)
	if err != nil {
		return nil, err
	}
	meta, _ := old["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		old["metadata"] = meta
	}
	if s, _ := meta["namespace"].(string); s == "" {
		meta["namespace"] = ns
	}
	return old, nil
}
