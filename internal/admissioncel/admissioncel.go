// Package admissioncel evaluates admission matchConditions as the API server does: a CEL
// expression over object, oldObject and request (unstructured, as the webhook sees them),
// which must give a bool. The CEL environment is built on first use, not at start-up.
package admissioncel

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// env is the matchConditions environment: Kubernetes' variables, CEL's standard library with
// the string extensions Kubernetes enables. authorizer is not declared: a condition that uses
// it does not compile here, and is reported as not replayed.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.Lists(),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
	)
})

// Program is one compiled condition.
type Program struct {
	expr string
	prg  cel.Program
}

// Compile compiles expr; the error is CEL's issues.
func Compile(expr string) (*Program, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	ast, issues := e.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %s", issues.String())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("must evaluate to bool, not %s", ast.OutputType())
	}
	prg, err := e.Program(ast)
	if err != nil {
		return nil, err
	}
	return &Program{expr: expr, prg: prg}, nil
}

// Eval evaluates the condition; an evaluation error reads as the API server words it.
func (p *Program) Eval(object, oldObject, request map[string]any) (bool, error) {
	vars := map[string]any{"object": nilIfEmpty(object), "oldObject": nilIfEmpty(oldObject), "request": request}
	out, _, err := p.prg.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("expression '%s' resulted in error: %v", p.expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression '%s' resulted in error: must evaluate to bool", p.expr)
	}
	return b, nil
}

// nilIfEmpty is a missing object as the API server passes it: null.
func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}
