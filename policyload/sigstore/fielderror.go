package sigstore

import (
	"fmt"
	"sort"
	"strings"
)

// The controller's CIP webhook answers with knative FieldErrors; the refusal text a user sees
// is their rendering, so validation collects the same leaves and renders them the same way
// (knative.dev/pkg apis/field_error.go at the pinned 74c4be5e935e).

type diagLevel int

const (
	levelError diagLevel = iota
	levelWarning
)

func (l diagLevel) String() string {
	if l == levelWarning {
		return "Warning"
	}
	return "Error"
}

// ferr is one leaf of a FieldError tree. A flat list keeps what matters: knative's Also only
// appends, and ViaField/At apply to every leaf below.
type ferr struct {
	msg     string
	paths   []string
	level   diagLevel
	details string
}

type ferrs []ferr

func missingField(paths ...string) ferrs {
	return ferrs{{msg: "missing field(s)", paths: paths}}
}

func missingOneOf(paths ...string) ferrs {
	return ferrs{{msg: "expected exactly one, got neither", paths: paths}}
}

func multipleOneOf(paths ...string) ferrs {
	return ferrs{{msg: "expected exactly one, got both", paths: paths}}
}

func disallowedFields(paths ...string) ferrs {
	return ferrs{{msg: "must not set the field(s)", paths: paths}}
}

func invalidValue(value, path string, details ...string) ferrs {
	return ferrs{{msg: "invalid value: " + value, paths: []string{path}, details: strings.Join(details, ", ")}}
}

// via prefixes every path with field (knative ViaField: a "[i]" segment sticks to the
// segment before it, empty segments vanish).
func (fs ferrs) via(field string) ferrs {
	out := make(ferrs, len(fs))
	for i, f := range fs {
		paths := make([]string, len(f.paths))
		for j, p := range f.paths {
			paths[j] = joinPath(field, p)
		}
		f.paths = paths
		out[i] = f
	}
	return out
}

func (fs ferrs) viaIndex(field string, i int) ferrs {
	return fs.via(fmt.Sprintf("[%d]", i)).via(field)
}

func (fs ferrs) at(l diagLevel) ferrs {
	out := make(ferrs, len(fs))
	for i, f := range fs {
		f.level = l
		out[i] = f
	}
	return out
}

func (fs ferrs) only(l diagLevel) ferrs {
	var out ferrs
	for _, f := range fs {
		if f.level == l {
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

// merged is knative's WrappedErrors: leaves with equal level, message and details become one
// with their paths unioned and sorted; the result is sorted by message, details, level.
func (fs ferrs) merged() ferrs {
	index := map[string]int{}
	var out ferrs
	for _, f := range fs {
		k := fmt.Sprintf("%s-%s-%s", f.level, f.msg, f.details)
		if i, ok := index[k]; ok {
			for _, p := range f.paths {
				if !hasString(out[i].paths, p) {
					out[i].paths = append(out[i].paths, p)
				}
			}
			continue
		}
		index[k] = len(out)
		f.paths = append([]string(nil), f.paths...)
		out = append(out, f)
	}
	for i := range out {
		sort.Strings(out[i].paths)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.msg != b.msg {
			return a.msg < b.msg
		}
		if a.details != b.details {
			return a.details < b.details
		}
		return a.level < b.level
	})
	return out
}

func (f ferr) String() string {
	s := f.msg + ": " + strings.Join(f.paths, ", ")
	if f.details != "" {
		s += "\n" + f.details
	}
	return s
}

// String is FieldError.Error(): every merged leaf, one after the other.
func (fs ferrs) String() string {
	var lines []string
	for _, f := range fs.merged() {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
