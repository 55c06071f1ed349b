// Package manifest splits Kubernetes manifests into objects, keeping where each came from
// (FILE:LINE), and flattening List wrappers.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Object is one manifest object.
type Object struct {
	Obj    map[string]any
	Source string
}

// APIVersion is the object's apiVersion.
func (o Object) APIVersion() string { s, _ := o.Obj["apiVersion"].(string); return s }

// Kind is the object's kind.
func (o Object) Kind() string { s, _ := o.Obj["kind"].(string); return s }

// Name is metadata.name.
func (o Object) Name() string { return o.meta("name") }

// Namespace is metadata.namespace.
func (o Object) Namespace() string { return o.meta("namespace") }

func (o Object) meta(k string) string {
	m, _ := o.Obj["metadata"].(map[string]any)
	s, _ := m[k].(string)
	return s
}

// Error is unreadable or unparsable input, naming where.
type Error struct {
	Source string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Parse splits YAML or JSON documents; source names them in errors and provenance.
func Parse(data []byte, source string) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Object
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Error{source, fmt.Errorf("YAML does not parse: %w", err)}
		}
		if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			continue
		}
		node := doc.Content[0]
		objs, err := fromNode(node, source)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func fromNode(node *yaml.Node, source string) ([]Object, error) {
	where := fmt.Sprintf("%s:%d", source, node.Line)
	if node.Kind != yaml.MappingNode {
		return nil, &Error{where, fmt.Errorf("expected a Kubernetes object, found a %s", kindName(node.Kind))}
	}
	var raw any
	if err := node.Decode(&raw); err != nil {
		return nil, &Error{where, err}
	}
	obj, err := toJSONMap(raw)
	if err != nil {
		return nil, &Error{where, err}
	}
	kind, _ := obj["kind"].(string)
	if kind == "" {
		return nil, &Error{where, fmt.Errorf("object has no kind")}
	}
	if strings.HasSuffix(kind, "List") {
		if _, ok := obj["items"]; ok {
			var out []Object
			for i := 0; i+1 < len(node.Content); i += 2 {
				if node.Content[i].Value != "items" || node.Content[i+1].Kind != yaml.SequenceNode {
					continue
				}
				for _, item := range node.Content[i+1].Content {
					objs, err := fromNode(item, source)
					if err != nil {
						return nil, err
					}
					out = append(out, objs...)
				}
			}
			return out, nil
		}
	}
	if v, _ := obj["apiVersion"].(string); v == "" {
		return nil, &Error{where, fmt.Errorf("%s object has no apiVersion", kind)}
	}
	return []Object{{Obj: obj, Source: where}}, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "non-object"
}

// toJSONMap normalises YAML values to what encoding/json produces.
func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("expected a Kubernetes object")
	}
	return m, nil
}
