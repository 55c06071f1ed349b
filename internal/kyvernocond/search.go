package kyvernocond

import (
	gojmespath "github.com/kyverno/go-jmespath"
)

// Search evaluates expr, in Kyverno's JMESPath dialect with the functions replayed here, over
// data (any JSON value), as Kyverno's jmespath Query(expr).Search(data) does: compile errors
// and search errors are returned apart so callers can word them as Kyverno does.
func Search(expr string, data any) (result any, compileErr, searchErr error) {
	jp, err := gojmespath.Compile(expr)
	if err != nil {
		return nil, err, nil
	}
	res, err := jp.Search(data, gojmespath.WithFunctionCaller(functions))
	return res, nil, err
}

// UnreplayedFunctions lists the Kyverno functions expr calls that are not replayed here
// (nothing for an expression that does not parse: its error is replayed).
func UnreplayedFunctions(expr string) []string {
	ast, err := gojmespath.NewParser().Parse(expr)
	if err != nil {
		return nil
	}
	var out []string
	walk(ast, false, func(fn string) {
		if Unreplayed(fn) {
			out = append(out, "JMESPath function "+fn+"()")
		}
	}, func([]string) {})
	return out
}
