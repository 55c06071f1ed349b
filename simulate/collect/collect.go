// Package collect gathers the resources to evaluate and the namespace labels selectors need.
package collect

import (
	"fmt"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// NamespaceLabels returns the labels of every Namespace object among objs, each with
// kubernetes.io/metadata.name as the API server sets it.
func NamespaceLabels(objs []manifest.Object) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range objs {
		if o.Kind() != "Namespace" || o.APIVersion() != "v1" {
			continue
		}
		labels := map[string]string{}
		meta, _ := o.Obj["metadata"].(map[string]any)
		if l, ok := meta["labels"].(map[string]any); ok {
			for k, v := range l {
				labels[k] = fmt.Sprint(v)
			}
		}
		labels["kubernetes.io/metadata.name"] = o.Name()
		out[o.Name()] = labels
	}
	return out
}
