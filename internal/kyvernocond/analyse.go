package kyvernocond

import (
	"fmt"
	"sort"
	"strings"

	gojmespath "github.com/kyverno/go-jmespath"
)

// AttestationDocument is the JSON data Kyverno substitutes for an attestation's conditions.
func AttestationDocument(conds []AnyAll) any { return conditionsDocument(conds) }

// DenyDocument is the JSON data of a deny block: its conditions with their messages.
func DenyDocument(conds *Conditions) any {
	if conds == nil {
		return nil
	}
	if conds.Legacy {
		items := make([]any, len(conds.List))
		for i, c := range conds.List {
			items[i] = conditionDocument(c)
		}
		return items
	}
	return conditionsDocument([]AnyAll{conds.AnyAll})
}

// Unsupported lists what the variables in doc (strings and keys, nested variables included)
// use that is not replayed: Kyverno functions not implemented here, context this replay
// does not hold (the request beyond object, namespace and operation; images; the service
// account; the whole context) and `$( )` references. Expressions that do not parse are not
// listed: Kyverno's error for them is replayed. (No foreach runs here, so `element` is
// whatever the predicate holds, as in Kyverno.)
func Unsupported(doc any) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	_, _ = traverse(doc, "", func(s, _ string) (any, error) {
		if strings.Contains(s, "$(") {
			add("$( ) references")
		}
		_, _ = substituteString(s, "", func(variable string) (any, error) {
			if variable == "@" {
				add("{{@}}")
				return nil, nil
			}
			if jp, err := gojmespath.NewParser().Parse(variable); err == nil {
				for _, u := range astUnsupported(jp) {
					add(u)
				}
			}
			return nil, nil
		})
		return nil, nil
	})
	sort.Strings(out)
	return out
}

// ReadsRequest reports whether the variables in doc read the admission request.
func ReadsRequest(doc any) bool {
	reads := false
	_, _ = traverse(doc, "", func(s, _ string) (any, error) {
		_, _ = substituteString(s, "", func(variable string) (any, error) {
			if jp, err := gojmespath.NewParser().Parse(variable); err == nil {
				walk(jp, true, func(string) {}, func(path []string) { reads = reads || path[0] == "request" })
			}
			return nil, nil
		})
		return nil, nil
	})
	return reads
}

func astUnsupported(n gojmespath.ASTNode) []string {
	var out []string
	walk(n, true, func(fn string) {
		if Unreplayed(fn) {
			out = append(out, "JMESPath function "+fn+"()")
		}
	}, func(path []string) {
		if why := unsupportedRoot(path); why != "" {
			out = append(out, why)
		}
	})
	return out
}

// unsupportedRoot says why a variable path read from the root of the context is not
// replayed, or "".
func unsupportedRoot(path []string) string {
	switch path[0] {
	case "request":
		if len(path) > 1 && (path[1] == "object" || path[1] == "namespace" || path[1] == "operation") {
			return ""
		}
		return fmt.Sprintf("variable %s (only request.object, request.namespace and request.operation are replayed)", strings.Join(path, "."))
	case "images", "image", "serviceAccountName", "serviceAccountNamespace", "@":
		return "variable " + strings.Join(path, ".")
	}
	return ""
}

// walk visits every function call of n, and every field path n reads from the context it
// is evaluated against when atRoot (paths inside projections, filters and pipes read from
// their elements, not the root).
func walk(n gojmespath.ASTNode, atRoot bool, fn func(string), root func([]string)) {
	children := n.Children
	switch n.NodeType {
	case gojmespath.ASTField:
		if atRoot {
			root([]string{fmt.Sprint(n.Value)})
		}
		return
	case gojmespath.ASTCurrentNode, gojmespath.ASTIdentity:
		if atRoot {
			root([]string{"@"})
		}
		return
	case gojmespath.ASTSubexpression, gojmespath.ASTIndexExpression:
		if p := leadingPath(n); p != nil && atRoot {
			root(p)
			for _, c := range children {
				walk(c, false, fn, func([]string) {})
			}
			return
		}
		if len(children) == 2 {
			walk(children[0], atRoot, fn, root)
			walk(children[1], false, fn, root)
			return
		}
	case gojmespath.ASTProjection, gojmespath.ASTFilterProjection, gojmespath.ASTValueProjection,
		gojmespath.ASTFlatten, gojmespath.ASTPipe:
		for i, c := range children {
			walk(c, atRoot && i == 0, fn, root)
		}
		return
	case gojmespath.ASTFunctionExpression:
		fn(fmt.Sprint(n.Value))
	case gojmespath.ASTExpRef:
		for _, c := range children {
			walk(c, false, fn, root)
		}
		return
	}
	for _, c := range children {
		walk(c, atRoot, fn, root)
	}
}

// leadingPath is the field chain an expression starts with (a.b.c, a.b[0]), or nil.
func leadingPath(n gojmespath.ASTNode) []string {
	switch n.NodeType {
	case gojmespath.ASTField:
		return []string{fmt.Sprint(n.Value)}
	case gojmespath.ASTSubexpression:
		if len(n.Children) != 2 {
			return nil
		}
		p := leadingPath(n.Children[0])
		if p == nil {
			return nil
		}
		if n.Children[1].NodeType == gojmespath.ASTField {
			return append(p, fmt.Sprint(n.Children[1].Value))
		}
		return p
	case gojmespath.ASTIndexExpression:
		if len(n.Children) == 0 {
			return nil
		}
		return leadingPath(n.Children[0])
	}
	return nil
}
