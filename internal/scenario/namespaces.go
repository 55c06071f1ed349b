package scenario

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// MetadataNameLabel is the label the API server puts on every Namespace.
const MetadataNameLabel = "kubernetes.io/metadata.name"

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// Object is the identity and labels of one manifest document.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Labels     map[string]string
}

// Objects parses a multi-document YAML manifest into the identity of each non-empty document.
func Objects(manifest []byte) ([]Object, error) {
	var out []Object
	for i, doc := range docSep.Split(string(manifest), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string            `json:"name"`
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if o.Kind == "" {
			return nil, fmt.Errorf("document %d: no kind", i+1)
		}
		out = append(out, Object{
			APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Metadata.Namespace,
			Name: o.Metadata.Name, Labels: o.Metadata.Labels,
		})
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// NamespaceLabels returns the labels of every namespace the manifest mentions, as a cluster
// would have them: a Namespace object's labels, plus kubernetes.io/metadata.name on each,
// and for namespaces only named by a resource's metadata.namespace just that label.
func NamespaceLabels(manifest []byte) (map[string]map[string]string, error) {
	objs, err := Objects(manifest)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	add := func(ns string, labels map[string]string) {
		if ns == "" {
			return
		}
		m := out[ns]
		if m == nil {
			m = map[string]string{}
			out[ns] = m
		}
		for k, v := range labels {
			m[k] = v
		}
		m[MetadataNameLabel] = ns
	}
	for _, o := range objs {
		if o.Kind == "Namespace" && (o.APIVersion == "v1" || o.APIVersion == "") {
			add(o.Name, o.Labels)
		} else {
			add(o.Namespace, nil)
		}
	}
	return out, nil
}

// HasNamespaceObjects reports whether the manifest contains Namespace objects.
func HasNamespaceObjects(manifest []byte) (bool, error) {
	objs, err := Objects(manifest)
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		if o.Kind == "Namespace" {
			return true, nil
		}
	}
	return false, nil
}

// KyvernoValues renders a Kyverno CLI values file (`kyverno apply --values-file`) that gives
// the CLI the namespace labels NamespaceLabels finds: without one, `kyverno apply` evaluates
// namespaceSelectors against no labels at all (it never reads Namespace objects from
// --resource files).
func KyvernoValues(manifest []byte) ([]byte, error) {
	labels, err := NamespaceLabels(manifest)
	if err != nil {
		return nil, err
	}
	type sel struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	}
	v := struct {
		APIVersion        string            `json:"apiVersion"`
		Kind              string            `json:"kind"`
		Metadata          map[string]string `json:"metadata"`
		NamespaceSelector []sel             `json:"namespaceSelector"`
	}{APIVersion: "cli.kyverno.io/v1alpha1", Kind: "Value", Metadata: map[string]string{"name": "values"}}
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.NamespaceSelector = append(v.NamespaceSelector, sel{Name: n, Labels: labels[n]})
	}
	return yaml.Marshal(v)
}
