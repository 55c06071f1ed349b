package kyverno

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

// ruleImages are the images a rule sees: with imageExtractors, those its extractors for the
// object's kind find (the built-in ones for a kind it does not list), as
// ExtractImagesFromResource does; otherwise the built-in images.
func (e *Engine) ruleImages(obj map[string]any, builtIn []imageInfo, r *kpol.Rule) ([]imageInfo, error) {
	if r.ImageExtractors == nil {
		return builtIn, nil
	}
	kind, _ := obj["kind"].(string)
	configs, ok := r.ImageExtractors[kind]
	if !ok {
		return builtIn, nil
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("no extractors found for %s", kind)
	}
	var out []imageInfo
	slot := map[string]int{}
	for _, c := range configs {
		name := c.Name
		if name == "" {
			name = "custom"
		}
		fields := splitPath(c.Path)
		value := c.Value
		if value == "" && len(fields) > 0 {
			value, fields = fields[len(fields)-1], fields[:len(fields)-1]
		}
		found, err := e.extractImages(obj, nil, c.Key, value, c.JMESPath, fields)
		if err != nil {
			return nil, err
		}
		// Kyverno files images by extractor name, then key (the pointer when none is set): a
		// second image under the same name and key replaces the first.
		for _, img := range found {
			k := img.key
			if k == "" {
				k = img.Pointer
			}
			if i, dup := slot[name+"\x00"+k]; dup {
				out[i] = img
				continue
			}
			slot[name+"\x00"+k] = len(out)
			out = append(out, img)
		}
	}
	return out, nil
}

// splitPath is the extractor path's non-empty, trimmed segments.
func splitPath(p string) []string {
	var out []string
	for _, f := range strings.Split(p, "/") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// extractImages walks fields from obj; `*` expands arrays (in order) and maps (Kyverno walks
// a Go map there; we take keys in sorted order).
func (e *Engine) extractImages(obj any, path []string, key, value, jmesPath string, fields []string) ([]imageInfo, error) {
	if obj == nil {
		return nil, nil
	}
	if len(fields) > 0 && fields[0] == "*" {
		var out []imageInfo
		switch typed := obj.(type) {
		case []any:
			for i, v := range typed {
				found, err := e.extractImages(v, append(slices.Clone(path), strconv.Itoa(i)), key, value, jmesPath, fields[1:])
				if err != nil {
					return nil, err
				}
				out = append(out, found...)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(typed)) {
				found, err := e.extractImages(typed[k], append(slices.Clone(path), k), key, value, jmesPath, fields[1:])
				if err != nil {
					return nil, err
				}
				out = append(out, found...)
			}
		default:
			return nil, fmt.Errorf("invalid type")
		}
		return out, nil
	}
	m, ok := obj.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("invalid image config")
	}
	if len(fields) > 0 {
		return e.extractImages(m[fields[0]], append(slices.Clone(path), fields[0]), key, value, jmesPath, fields[1:])
	}
	pointer := "/" + strings.Join(path, "/") + "/" + value
	if key != "" {
		if _, ok := m[key].(string); !ok {
			return nil, fmt.Errorf("invalid key")
		}
	}
	raw, ok := m[value].(string)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if jmesPath != "" {
		res, compileErr, searchErr := kyvernocond.Search(jmesPath, raw)
		switch {
		case compileErr != nil:
			return nil, fmt.Errorf("invalid jmespath %s: %v", jmesPath, compileErr)
		case searchErr != nil:
			return nil, fmt.Errorf("failed to apply jmespath %s: %v", jmesPath, searchErr)
		}
		str, ok := res.(string)
		if !ok {
			return nil, fmt.Errorf("jmespath %s must produce a string, but produced %v", jmesPath, res)
		}
		raw = str
	}
	info, err := e.parseImage(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid image '%s' (%s)", raw, err)
	}
	info.Pointer = pointer
	if key != "" {
		info.key, _ = m[key].(string)
	}
	return []imageInfo{info}, nil
}
