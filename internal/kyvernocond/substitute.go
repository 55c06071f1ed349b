package kyvernocond

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The variable syntax Kyverno's substitution scans for (pkg/engine/variables/regex): `{{...}}`
// at the start or after any character but a backslash, holding no braces but single-brace
// groups, so that the innermost of nested variables is found (and replaced) first.
var (
	variableRe     = regexp.MustCompile(`(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})`)
	variableInitRe = regexp.MustCompile(`^\{\{(\{[^{}]*\}|[^{}])*\}\}`)
)

// ErrNotReplayed marks inputs on which Kyverno 1.19 panics (a type assertion in its code) or
// fails with a message of another library's making: there is no answer to replay.
var ErrNotReplayed = errors.New("not replayed: Kyverno 1.19 panics on this input or words its error through another library")

// resolver looks a variable up; the engine's is Context.Query, the loader's a recorder.
type resolver func(variable string) (any, error)

// Substitute is SubstituteAll with the default resolver: every `{{ }}` in the strings and
// object keys of doc (JSON data) replaced by its value in c. A string that is exactly one
// variable becomes the value itself (any JSON type); otherwise the value is printed into
// the string (strings as is, the rest as JSON). Nested variables resolve innermost first;
// `{{- x }}` substitutes once, escaping the braces its value holds; `\{{` stays literal.
func (c *Context) Substitute(doc any) (any, error) {
	return substitute(doc, c.Query)
}

func substitute(doc any, resolve resolver) (any, error) {
	return traverse(doc, "", func(s, path string) (any, error) { return substituteString(s, path, resolve) })
}

// traverse applies f to every string leaf and object key of doc, as Kyverno's JSON
// traversal does, building a new document. Keys go in sorted order (Kyverno's map order is
// random; only which of two failing variables is reported can differ).
func traverse(doc any, path string, f func(s, path string) (any, error)) (any, error) {
	switch t := doc.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(t))
		for _, k := range keys {
			nk, err := f(k, path)
			if err != nil {
				return nil, err
			}
			key := k
			if nk != nil {
				s, ok := nk.(string)
				if !ok {
					return nil, fmt.Errorf("expected string after substituting variables in key \"%s\"", k)
				}
				key = s
			}
			v, err := traverse(t[k], path+"/"+strings.ReplaceAll(k, "/", `\/`), f)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			v, err := traverse(x, path+"/"+strconv.Itoa(i), f)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case string:
		return f(t, path)
	}
	return doc, nil
}

// substituteString is Kyverno's substituteVariablesIfAny for one string.
func substituteString(value, path string, resolve resolver) (any, error) {
	vars := variableRe.FindAllString(value, -1)
	for len(vars) > 0 {
		original := value
		shallow := false
		for _, v := range vars {
			initial := variableInitRe.MatchString(v)
			old := v
			if !initial {
				v = v[1:]
			}
			var variable string
			variable, shallow = variableName(v)
			if variable == "@" {
				// Kyverno resolves `{{@}}` against the rule's position in the resource; no
				// condition has one, and the loader refuses it.
				return nil, fmt.Errorf("failed to resolve %v at path %s: {{@}} is not replayed", variable, path)
			}
			got, err := resolve(variable)
			if err != nil {
				var nf notFound
				if errors.As(err, &nf) && nf.bare {
					return nil, nf.err
				}
				return nil, fmt.Errorf("failed to resolve %v at path %s: %w", variable, path, err)
			}
			if original == v {
				return got, nil
			}
			prefix := ""
			if !initial {
				prefix = old[:1]
			}
			if shallow && got != nil {
				s, ok := got.(string)
				if !ok {
					return nil, fmt.Errorf("shallow substitution of %v, not a string: %w", variable, ErrNotReplayed)
				}
				got = strings.ReplaceAll(s, "{{", `\{{`)
			}
			text, ok := got.(string)
			if !ok {
				b, err := json.Marshal(got)
				if err != nil {
					return nil, fmt.Errorf("failed to resolve %v at path %s: failed to marshal %T: %v", variable, path, got, got)
				}
				text = string(b)
			}
			value = strings.Replace(value, prefix+v, prefix+text, 1)
		}
		if shallow {
			break
		}
		vars = variableRe.FindAllString(value, -1)
	}
	return strings.ReplaceAll(value, `\{{`, "{{"), nil
}

// notFound lets a resolver hand back an error that substitution returns unwrapped (Kyverno
// returns go-jmespath's NotFoundError and InvalidVariableError so); the context's Query never
// does, as it wraps every search error.
type notFound struct {
	err  error
	bare bool
}

func (n notFound) Error() string { return n.err.Error() }

// variableName strips every `{{` and `}}`, then spaces; a leading `-` asks for a shallow
// substitution.
func variableName(v string) (string, bool) {
	s := strings.ReplaceAll(v, "{{", "")
	s = strings.ReplaceAll(s, "}}", "")
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return strings.TrimSpace(s[1:]), true
	}
	return s, false
}
