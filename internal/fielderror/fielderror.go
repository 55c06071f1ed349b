// Package fielderror renders diagnostics the way knative's apis.FieldError does
// (knative.dev/pkg apis/field_error.go at 74c4be5e935e, the version policy-controller pins):
// the text policy-controller's webhooks answer with, both when a ClusterImagePolicy is
// refused and when an image is. A List is the tree flattened: knative's Also only appends,
// and ViaField and At apply to every leaf below.
package fielderror

import (
	"fmt"
	"sort"
	"strings"
)

// Level is a DiagnosticLevel: errors deny, warnings become admission warnings.
type Level int

// The levels, in knative's order (it sorts by it).
const (
	Error Level = iota
	Warning
)

func (l Level) String() string {
	if l == Warning {
		return "Warning"
	}
	return "Error"
}

// Entry is one leaf of a FieldError tree.
type Entry struct {
	Msg     string
	Paths   []string
	Level   Level
	Details string
}

// List is a FieldError flattened, leaves in order.
type List []Entry

// MissingField is ErrMissingField.
func MissingField(paths ...string) List {
	return List{{Msg: "missing field(s)", Paths: paths}}
}

// MissingOneOf is ErrMissingOneOf.
func MissingOneOf(paths ...string) List {
	return List{{Msg: "expected exactly one, got neither", Paths: paths}}
}

// MultipleOneOf is ErrMultipleOneOf.
func MultipleOneOf(paths ...string) List {
	return List{{Msg: "expected exactly one, got both", Paths: paths}}
}

// DisallowedFields is ErrDisallowedFields.
func DisallowedFields(paths ...string) List {
	return List{{Msg: "must not set the field(s)", Paths: paths}}
}

// InvalidValue is ErrInvalidValue.
func InvalidValue(value, path string, details ...string) List {
	return List{{Msg: "invalid value: " + value, Paths: []string{path}, Details: strings.Join(details, ", ")}}
}

// Generic is ErrGeneric: a message at paths.
func Generic(msg string, paths ...string) List {
	return List{{Msg: msg, Paths: paths}}
}

// Via prefixes every path with field (knative ViaField: a "[i]" segment sticks to the
// segment before it, empty segments vanish).
func (fs List) Via(field string) List {
	out := make(List, len(fs))
	for i, f := range fs {
		paths := make([]string, len(f.Paths))
		for j, p := range f.Paths {
			paths[j] = joinPath(field, p)
		}
		f.Paths = paths
		out[i] = f
	}
	return out
}

// ViaIndex is ViaFieldIndex.
func (fs List) ViaIndex(field string, i int) List {
	return fs.Via(fmt.Sprintf("[%d]", i)).Via(field)
}

// At is FieldError.At: every leaf so far moves to l.
func (fs List) At(l Level) List {
	out := make(List, len(fs))
	for i, f := range fs {
		f.Level = l
		out[i] = f
	}
	return out
}

// Only is FieldError.Filter: the leaves of one level.
func (fs List) Only(l Level) List {
	var out List
	for _, f := range fs {
		if f.Level == l {
			out = append(out, f)
		}
	}
	return out
}

func joinPath(parts ...string) string {
	var segs []string
	for _, part := range parts {
		for _, s := range strings.Split(part, ".") {
			switch {
			case s == "":
			case len(segs) > 0 && strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
				segs[len(segs)-1] += s
			default:
				segs = append(segs, s)
			}
		}
	}
	return strings.Join(segs, ".")
}

// Merged is knative's WrappedErrors: leaves with equal level, message and details become one
// with their paths unioned and sorted; the result is sorted by message, details, level.
func (fs List) Merged() List {
	index := map[string]int{}
	var out List
	for _, f := range fs {
		k := fmt.Sprintf("%s-%s-%s", f.Level, f.Msg, f.Details)
		if i, ok := index[k]; ok {
			for _, p := range f.Paths {
				if !hasString(out[i].Paths, p) {
					out[i].Paths = append(out[i].Paths, p)
				}
			}
			continue
		}
		index[k] = len(out)
		f.Paths = append([]string(nil), f.Paths...)
		out = append(out, f)
	}
	for i := range out {
		sort.Strings(out[i].Paths)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Msg != b.Msg {
			return a.Msg < b.Msg
		}
		if a.Details != b.Details {
			return a.Details < b.Details
		}
		return a.Level < b.Level
	})
	return out
}

// String is one merged leaf as FieldError.Error() writes it.
func (f Entry) String() string {
	s := f.Msg + ": " + strings.Join(f.Paths, ", ")
	if f.Details != "" {
		s += "\n" + f.Details
	}
	return s
}

// String is FieldError.Error(): every merged leaf, one after the other.
func (fs List) String() string {
	var lines []string
	for _, f := range fs.Merged() {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}

// Warnings are what knative's admission puts in a response's warnings: one per merged
// warning leaf.
func (fs List) Warnings() []string {
	var out []string
	for _, f := range fs.Only(Warning).Merged() {
		out = append(out, f.String())
	}
	return out
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
