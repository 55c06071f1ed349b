package sigstore

import (
	"fmt"
	"sort"
	"strings"
)

// level is a knative DiagnosticLevel: errors deny, warnings become admission warnings.
type level int

const (
	errorLevel level = iota
	warningLevel
)

func (l level) String() string {
	if l == warningLevel {
		return "Warning"
	}
	return "Error"
}

// fieldError is one leaf of a knative apis.FieldError (its normalized form): what the
// validating webhook renders into its denial and warnings (spec §6.1).
type fieldError struct {
	msg     string
	level   level
	paths   []string
	details string
}

// fieldErrors is a FieldError flattened: the tree knative builds with Also only matters
// through its leaves, in order.
type fieldErrors []fieldError

// at is FieldError.At: every entry so far moves to l (errorsToFieldErrors relies on this).
func (fs fieldErrors) at(l level) fieldErrors {
	out := make(fieldErrors, len(fs))
	for i, f := range fs {
		f.level = l
		out[i] = f
	}
	return out
}

// filter is FieldError.Filter: the entries of one level.
func (fs fieldErrors) filter(l level) fieldErrors {
	var out fieldErrors
	for _, f := range fs {
		if f.level == l {
			out = append(out, f)
		}
	}
	return out
}

// merged is WrappedErrors: entries with the same level, message and details become one, their
// paths unioned and sorted; then sorted by message, details, level.
func (fs fieldErrors) merged() fieldErrors {
	byKey := map[string]*fieldError{}
	var keys []string
	for _, f := range fs {
		k := fmt.Sprintf("%s-%s-%s", f.level, f.msg, f.details)
		if m, ok := byKey[k]; ok {
			for _, p := range f.paths {
				if !contains(m.paths, p) {
					m.paths = append(m.paths, p)
				}
			}
			continue
		}
		c := f
		c.paths = append([]string(nil), f.paths...)
		byKey[k] = &c
		keys = append(keys, k)
	}
	out := make(fieldErrors, 0, len(keys))
	for _, k := range keys {
		m := byKey[k]
		sort.Strings(m.paths)
		out = append(out, *m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].msg != out[j].msg {
			return out[i].msg < out[j].msg
		}
		if out[i].details != out[j].details {
			return out[i].details < out[j].details
		}
		return out[i].level < out[j].level
	})
	return out
}

// text is one merged entry as FieldError.Error() writes it.
func (f fieldError) text() string {
	s := f.msg + ": " + strings.Join(f.paths, ", ")
	if f.details != "" {
		s += "\n" + f.details
	}
	return s
}

// render is FieldError.Error(): the merged entries, one per line group.
func (fs fieldErrors) render() string {
	var parts []string
	for _, f := range fs.merged() {
		parts = append(parts, f.text())
	}
	return strings.Join(parts, "\n")
}

// warnings are the admission warnings: one per merged warning entry.
func (fs fieldErrors) warnings() []string {
	var out []string
	for _, f := range fs.filter(warningLevel).merged() {
		out = append(out, f.text())
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
