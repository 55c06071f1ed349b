package ivpol

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
)

// boundFunctions are the image verification functions of Kyverno's imageverify library: they
// reach the registry and the request's evidence, so an expression calling one gets its
// program per evaluation, with these bound to that evaluation (cel.Functions).
var boundFunctions = []string{"verifyImageSignatures", "verifyAttestationSignatures", "getImageData", "extractPayload"}

// expr is one compiled expression. prg is set when it calls none of boundFunctions: then one
// program serves every evaluation.
type expr struct {
	ast *cel.Ast
	prg cel.Program
	env *cel.Env
}

func compileExpr(env *cel.Env, src string) (*expr, error) {
	ast, iss := env.Compile(src)
	if err := iss.Err(); err != nil {
		return nil, err
	}
	e := &expr{ast: ast, env: env}
	if !callsBound(ast) {
		prg, err := env.Program(ast)
		if err != nil {
			return nil, err
		}
		e.prg = prg
	}
	return e, nil
}

func callsBound(ast *cel.Ast) bool {
	found := false
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.CallKind && slices.Contains(boundFunctions, e.AsCall().FunctionName()) {
			found = true
		}
	}))
	return found
}

// eval evaluates e with vars; st binds the verification functions when e calls them.
func (e *expr) eval(ctx context.Context, vars map[string]any, st *evalState) (ref.Val, error) {
	prg := e.prg
	if prg == nil {
		var err error
		// cel-go 0.29 binds a function per program only through cel.Functions: its late
		// bindings have no runtime form yet, and an Env per evaluation costs far more.
		prg, err = e.env.Program(e.ast, cel.Functions(st.overloads()...)) //nolint:staticcheck // SA1019, see above

		if err != nil {
			return nil, err
		}
	}
	out, _, err := prg.ContextEval(ctx, vars)
	return out, err
}

// attestorVal is an entry of the attestors variable: what verifyImageSignatures and
// verifyAttestationSignatures take. key and certs hold what the attestor's CEL expressions
// evaluated to.
type attestorVal struct {
	a                               *ivpol.Attestor
	key, cert, certChain, trustRoot string
}

var attestorType = types.NewOpaqueType("kyverno.attestor")

func (a *attestorVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("an attestor converts to no native type")
}
func (a *attestorVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return attestorType
	}
	return types.NewErr("type conversion error from attestor to '%s'", t)
}
func (a *attestorVal) Equal(o ref.Val) ref.Val { return types.Bool(a == o) }
func (a *attestorVal) Type() ref.Type          { return attestorType }
func (a *attestorVal) Value() any              { return a.a }

// lazyMap is a map(string, dyn) whose values are computed on first access, as Kyverno's
// variables and attestors are: an expression that fails only fails what uses it.
type lazyMap struct {
	names []string
	get   func(name string) ref.Val
	vals  map[string]ref.Val
}

func newLazyMap(names []string, get func(string) ref.Val) *lazyMap {
	return &lazyMap{names: names, get: get, vals: map[string]ref.Val{}}
}

func (m *lazyMap) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("a lazily evaluated map converts to no native type")
}
func (m *lazyMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}
func (m *lazyMap) Equal(o ref.Val) ref.Val { return types.Bool(m == o) }
func (m *lazyMap) Type() ref.Type          { return types.MapType }
func (m *lazyMap) Value() any              { return m }
func (m *lazyMap) Contains(k ref.Val) ref.Val {
	_, ok := m.Find(k)
	return types.Bool(ok)
}
func (m *lazyMap) Get(k ref.Val) ref.Val {
	v, ok := m.Find(k)
	if !ok {
		return types.NewErr("no such key: %v", k)
	}
	return v
}
func (m *lazyMap) Find(k ref.Val) (ref.Val, bool) {
	s, ok := k.(types.String)
	if !ok || !slices.Contains(m.names, string(s)) {
		return nil, false
	}
	if v, ok := m.vals[string(s)]; ok {
		return v, true
	}
	v := m.get(string(s))
	if v == nil {
		v = types.NullValue
	}
	m.vals[string(s)] = v
	return v, true
}
func (m *lazyMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, m.names).Iterator()
}
func (m *lazyMap) Size() ref.Val { return types.Int(len(m.names)) }

var _ traits.Mapper = (*lazyMap)(nil)

// overloads binds the verification functions to st, under both their overload ids and their
// names (the checked AST names the first, a dynamic dispatch the second).
func (st *evalState) overloads() []*functions.Overload {
	sig := func(args ...ref.Val) ref.Val { return st.verifyImageSignatures(args[0], args[1]) }
	att := func(args ...ref.Val) ref.Val { return st.verifyAttestationSignatures(args[0], args[1], args[2]) }
	data := func(arg ref.Val) ref.Val { return st.getImageData(arg) }
	payload := func(a, b ref.Val) ref.Val { return st.extractPayload(a, b) }
	return []*functions.Overload{
		{Operator: "verify_image_signature_string_stringarray", Function: sig},
		{Operator: "verifyImageSignatures", Function: sig},
		{Operator: "verify_image_attestations_string_string_stringarray", Function: att},
		{Operator: "verifyAttestationSignatures", Function: att},
		{Operator: "get_image_data_string", Unary: data},
		{Operator: "getImageData", Unary: data},
		{Operator: "payload_string_string", Binary: payload},
		{Operator: "extractPayload", Binary: payload},
	}
}

// attestorsOf reads the list a verification function is given: attestors.<name> values only.
func attestorsOf(v ref.Val) ([]*attestorVal, error) {
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("attestors must be a list, got %s", v.Type().TypeName())
	}
	var out []*attestorVal
	for it := l.Iterator(); it.HasNext() == types.True; {
		e := it.Next()
		if types.IsError(e) {
			return nil, e.(*types.Err)
		}
		a, ok := e.(*attestorVal)
		if !ok {
			return nil, fmt.Errorf("failed to convert attestor: unsupported type %s", e.Type().TypeName())
		}
		out = append(out, a)
	}
	return out, nil
}
