// Package collect gathers the resources to evaluate and the namespace labels selectors need.
package collect

import (
	"fmt"
	"io"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Files reads -f/-R inputs and -k directories.
func Files(paths []string, recursive bool, kustomize string, stdin io.Reader) ([]manifest.Object, error) {
	objs, err := manifest.Read(paths, recursive, stdin)
	if err != nil {
		return nil, err
	}
	if kustomize != "" {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		m, err := k.Run(filesys.MakeFsOnDisk(), kustomize)
		if err != nil {
			return nil, &manifest.Error{Source: "kustomize:" + kustomize, Err: err}
		}
		data, err := m.AsYaml()
		if err != nil {
			return nil, &manifest.Error{Source: "kustomize:" + kustomize, Err: err}
		}
		kobjs, err := manifest.Parse(data, "kustomize:"+kustomize)
		if err != nil {
			return nil, err
		}
		for i := range kobjs {
			kobjs[i].Source = "kustomize:" + kustomize
		}
		objs = append(objs, kobjs...)
	}
	return objs, nil
}

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
