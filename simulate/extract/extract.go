// Package extract finds container images in pod-bearing objects, the way the API server's
// built-in kinds nest pod specs. Every engine starts from this list; each then applies its own
// normalisation and selection.
package extract

import (
	"fmt"
	"strings"
)

// Container is one image field of an object.
type Container struct {
	// Type is initContainers, containers or ephemeralContainers.
	Type  string
	Name  string
	Index int
	// Pointer is the JSON pointer of the image field, e.g. /spec/template/spec/containers/0/image.
	Pointer string
	Image   string
	// PresentImage is false when the container has no image field at all.
	PresentImage bool
}

// podSpecPaths maps kinds to where their pod spec lives (spec/kyverno.md §2.1).
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// ContainerTypes is the scan order Kyverno uses.
var ContainerTypes = []string{"initContainers", "containers", "ephemeralContainers"}

// HandlesKind reports whether kind carries a pod spec we know how to read.
func HandlesKind(kind string) bool {
	_, ok := podSpecPaths[kind]
	return ok
}

// podSpec is kind's pod spec within obj, and its JSON pointer.
func podSpec(kind string, obj map[string]any) (map[string]any, string, bool) {
	path, ok := podSpecPaths[kind]
	if !ok {
		return nil, "", false
	}
	spec, ok := lookup(obj, path)
	return spec, "/" + strings.Join(path, "/"), ok
}

// Images lists the containers of obj in Kyverno's scan order.
func Images(kind string, obj map[string]any) []Container {
	spec, prefix, ok := podSpec(kind, obj)
	if !ok {
		return nil
	}
	var out []Container
	for _, t := range ContainerTypes {
		list, _ := spec[t].([]any)
		for i, c := range list {
			m, _ := c.(map[string]any)
			name, _ := m["name"].(string)
			img, present := m["image"].(string)
			out = append(out, Container{
				Type: t, Name: name, Index: i, Image: img, PresentImage: present,
				Pointer: fmt.Sprintf("%s/%s/%d/image", prefix, t, i),
			})
		}
	}
	return out
}

func lookup(obj map[string]any, path []string) (map[string]any, bool) {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// PullSecrets are the names in the pod spec's imagePullSecrets.
func PullSecrets(kind string, obj map[string]any) []string {
	spec, _, ok := podSpec(kind, obj)
	if !ok {
		return nil
	}
	list, _ := spec["imagePullSecrets"].([]any)
	var out []string
	for _, s := range list {
		m, _ := s.(map[string]any)
		if n, _ := m["name"].(string); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Resource is the API resource a kind is requested as: meta.UnsafeGuessKindToResource, which
// the built-in workload kinds all follow.
func Resource(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(k, "s"):
		return k + "es"
	case strings.HasSuffix(k, "y"):
		return k[:len(k)-1] + "ies"
	}
	return k + "s"
}

// StringMap is the string values of an object's map field (labels, annotations); nil or
// other values give an empty map.
func StringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}

// GroupVersionKind is an object's API group ("" for the core group), version and kind.
func GroupVersionKind(obj map[string]any) (group, version, kind string) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ = obj["kind"].(string)
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	return group, version, kind
}
