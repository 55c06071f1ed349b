package ivpol

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gobwas/glob"
	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// IsPolicy says whether apiVersion/kind is a kind and version Kyverno 1.19 serves.
func IsPolicy(apiVersion, kind string) bool {
	group, version, _ := strings.Cut(apiVersion, "/")
	if group != Group {
		return false
	}
	switch kind {
	case KindCluster:
		return version == "v1" || version == "v1beta1" || version == "v1alpha1"
	case KindNamespaced:
		return version == "v1" || version == "v1beta1"
	}
	return false
}

// InvalidError is a policy that would be refused at creation: by the API server's schema, or
// by Kyverno's policy webhook, whose message (field.ErrorList's aggregate) Msg is.
type InvalidError struct {
	Policy string // Kind/name
	Msg    string
}

func (e *InvalidError) Error() string { return e.Policy + ": " + e.Msg }

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

// Parse decodes one policy (JSON), applies Kyverno's defaults and validates it as the API
// server and Kyverno's policy webhook would at creation. defaultNamespace is where a namespaced
// policy without metadata.namespace lands.
func Parse(raw []byte, source, defaultNamespace string) (*Policy, error) {
	var obj object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decoding policy: %w", err)
	}
	if !IsPolicy(obj.APIVersion, obj.Kind) {
		return nil, &InvalidError{"object", fmt.Sprintf("not an ImageValidatingPolicy or NamespacedImageValidatingPolicy Kyverno serves (apiVersion %q, kind %q)", obj.APIVersion, obj.Kind)}
	}
	p := &Policy{APIVersion: obj.APIVersion, Kind: obj.Kind, Name: obj.Metadata.Name, Source: source}
	if obj.Kind == KindNamespaced {
		p.Namespace = obj.Metadata.Namespace
		if p.Namespace == "" {
			p.Namespace = defaultNamespace
		}
	}
	id := obj.Kind + "/" + obj.Metadata.Name
	if p.Name == "" {
		return nil, &InvalidError{obj.Kind, "metadata.name: Required value: name or generateName is required"}
	}
	if len(obj.Spec) == 0 || string(obj.Spec) == "null" {
		return nil, &InvalidError{id, "spec: Required value"}
	}
	if err := json.Unmarshal(obj.Spec, &p.Spec); err != nil {
		return nil, &InvalidError{id, "spec: " + err.Error()}
	}
	if errs := schemaErrors(&p.Spec); len(errs) > 0 {
		return nil, &InvalidError{id, errs.ToAggregate().Error()}
	}
	// Kyverno's defaults (the CRD's and the engine's, docs/ivpol-research.md §1.1).
	if p.Spec.FailurePolicy == nil {
		fail := admissionregistrationv1.Fail
		p.Spec.FailurePolicy = &fail
	}
	if len(p.Spec.ValidationActions) == 0 {
		p.Spec.ValidationActions = []string{"Deny"}
	}
	notReplayed, errs := compile(&p.Spec)
	if len(errs) > 0 {
		return nil, &InvalidError{id, errs.ToAggregate().Error()}
	}
	p.NotReplayed = append(notReplayed, unsupported(&p.Spec)...)
	return p, nil
}

// unsupported names the attestor settings the engine does not replay: each makes the
// policy's result a kubectl-verify error, never a verdict.
func unsupported(s *Spec) []string {
	var out []string
	if ev := s.Evaluation; ev != nil && ev.Mode != "" && ev.Mode != "Kubernetes" {
		out = append(out, "spec.evaluation.mode: "+ev.Mode+" policies (for JSON payloads) are not replayed by kubectl-verify")
	}
	for i, a := range s.Attestors {
		path := fmt.Sprintf("spec.attestors[%d]", i)
		switch {
		case a.Notary != nil:
			out = append(out, path+".notary: notary signatures are not verified by kubectl-verify")
		case a.Cosign != nil:
			c := a.Cosign
			if c.Key != nil && c.Key.KMS != "" && c.Key.Data == "" && c.Key.Expression == "" && !strings.HasPrefix(c.Key.KMS, "k8s://") {
				out = append(out, path+".cosign.key.kms: KMS keys other than k8s:// are not read by kubectl-verify")
			}
			if len(c.Annotations) > 0 {
				out = append(out, path+".cosign.annotations: signature annotations are not matched by kubectl-verify")
			}
			if c.TUF != nil || c.TrustedRoot != nil {
				out = append(out, path+".cosign: a TUF repository or trustedRoot of its own is not read by kubectl-verify")
			}
		}
	}
	return out
}

// schemaErrors are what the CRD's schema refuses (the fields Kyverno's engine relies on).
func schemaErrors(s *Spec) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for i, a := range s.ValidationActions {
		if !slices.Contains([]string{"Deny", "Audit", "Warn"}, a) {
			errs = append(errs, field.NotSupported(spec.Child("validationActions").Index(i), a, []string{"Deny", "Audit", "Warn"}))
		}
	}
	if fp := s.FailurePolicy; fp != nil && *fp != admissionregistrationv1.Fail && *fp != admissionregistrationv1.Ignore {
		errs = append(errs, field.NotSupported(spec.Child("failurePolicy"), string(*fp), []string{"Ignore", "Fail"}))
	}
	if s.Attestors == nil {
		errs = append(errs, field.Required(spec.Child("attestors"), ""))
	}
	if s.Validations == nil {
		errs = append(errs, field.Required(spec.Child("validations"), ""))
	}
	for i, a := range s.Attestors {
		path := spec.Child("attestors").Index(i)
		if a.Name == "" {
			errs = append(errs, field.Required(path.Child("name"), ""))
		}
		if (a.Cosign == nil) == (a.Notary == nil) {
			errs = append(errs, field.Invalid(path, a.Name, "must validate one and only one schema (oneOf): cosign or notary"))
		}
		if a.Cosign != nil && a.Cosign.Keyless != nil && a.Cosign.Keyless.Identities == nil {
			errs = append(errs, field.Required(path.Child("cosign", "keyless", "identities"), ""))
		}
	}
	for i, a := range s.Attestations {
		if a.Name == "" {
			errs = append(errs, field.Required(spec.Child("attestations").Index(i).Child("name"), ""))
		}
	}
	for i, m := range s.Images {
		path := spec.Child("images").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(path.Child("name"), ""))
		}
		if m.Expression == "" {
			errs = append(errs, field.Required(path.Child("expression"), ""))
		}
	}
	for i, v := range s.Validations {
		if v.Expression == "" {
			errs = append(errs, field.Required(spec.Child("validations").Index(i).Child("expression"), ""))
		}
	}
	return errs
}

// compile compiles every expression and glob in Kyverno's order, stopping at the first group
// with an error as its compiler does. An expression that calls a function of a Kyverno or
// Kubernetes CEL library this tool does not declare cannot be checked here: it is listed as
// not replayed instead of refused.
func compile(s *Spec) ([]string, field.ErrorList) {
	env, err := policyEnv()
	if err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	refEnv, err := refEnv()
	if err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	c := &compiler{env: env}
	spec := field.NewPath("spec")

	for i, m := range s.MatchConditions {
		c.expr(spec.Child("matchConditions").Index(i).Child("expression"), m.Expression, m.Expression, types.BoolType)
	}
	if c.failed() {
		return nil, c.errs
	}
	for i, m := range s.MatchImageReferences {
		path := spec.Child("matchImageReferences").Index(i)
		switch {
		case m.Glob != "":
			if _, err := glob.Compile(m.Glob); err != nil {
				c.errs = append(c.errs, field.Invalid(path.Child("glob"), m.Glob, err.Error()))
			}
		case m.Expression != "":
			c.env = refEnv
			c.expr(path.Child("expression"), m.Expression, m.Expression, types.BoolType)
			c.env = env
		default:
			c.errs = append(c.errs, field.Invalid(path, m, "either glob or expression must be set"))
		}
	}
	if c.failed() {
		return nil, c.errs
	}
	for i, m := range s.Images {
		c.expr(spec.Child("images").Index(i).Child("expression"), m.Expression, m.Expression, types.NewListType(types.StringType), types.DynType, types.NewListType(types.DynType))
		if c.failed() {
			return nil, c.errs
		}
	}
	for i, v := range s.Variables {
		c.expr(spec.Child("variables").Index(i).Child("expression"), v.Expression, v.Expression)
	}
	if c.failed() {
		return nil, c.errs
	}
	for i, a := range s.Attestors {
		path := spec.Child("attestors").Index(i)
		switch {
		case a.Cosign != nil:
			if k := a.Cosign.Key; k != nil && k.Expression != "" {
				c.expr(path, k, k.Expression)
			} else if cert := a.Cosign.Certificate; cert != nil {
				for _, v := range []*StringOrExpression{cert.Cert, cert.CertChain} {
					if v != nil && v.Expression != "" {
						c.expr(path, cert, v.Expression)
					}
				}
			}
			if tr := a.Cosign.TrustedRoot; tr != nil && tr.Expression != "" {
				c.expr(path, tr, tr.Expression)
			}
		case a.Notary != nil:
			for _, v := range []*StringOrExpression{a.Notary.Certs, a.Notary.TSACerts} {
				if v != nil && v.Expression != "" {
					c.expr(path, a.Notary, v.Expression)
				}
			}
		}
		if c.failed() {
			return nil, c.errs
		}
	}
	for i, v := range s.Validations {
		path := spec.Child("validations").Index(i)
		c.expr(path.Child("expression"), v.Expression, v.Expression, types.BoolType)
		if !c.failed() && v.MessageExpression != "" {
			c.expr(path.Child("messageExpression"), v.MessageExpression, v.MessageExpression, types.StringType)
		}
		if c.failed() {
			return nil, c.errs
		}
	}
	for i, a := range s.AuditAnnotations {
		c.expr(spec.Child("auditAnnotations").Index(i).Child("valueExpression"), a.ValueExpression, a.ValueExpression, types.StringType, types.NullType)
		if c.failed() {
			return nil, c.errs
		}
	}
	return c.notReplayed, nil
}

type compiler struct {
	env         *cel.Env
	errs        field.ErrorList
	notReplayed []string
}

func (c *compiler) failed() bool { return len(c.errs) > 0 }

// expr compiles one expression; value is what the field error shows (the expression, or the
// attestor part holding it, as Kyverno's error does). want, when given, are the output types
// Kyverno accepts (exactly: a dyn result is not a bool).
func (c *compiler) expr(path *field.Path, value any, expr string, want ...*types.Type) {
	ast, iss := c.env.Compile(expr)
	if err := iss.Err(); err != nil {
		if names := undeclaredOnly(iss); len(names) > 0 && calledOnly(c.env, expr, names) {
			c.notReplayed = append(c.notReplayed, fmt.Sprintf("%s calls %s, of a CEL library kubectl-verify does not replay", path, strings.Join(names, ", ")))
			return
		}
		c.errs = append(c.errs, field.Invalid(path, value, err.Error()))
		return
	}
	if len(want) == 0 {
		return
	}
	for _, t := range want {
		if ast.OutputType().IsExactType(t) {
			return
		}
	}
	names := make([]string, len(want))
	for i, t := range want {
		names[i] = t.TypeName()
	}
	msg := "output is expected to be of type " + names[0]
	if len(names) == 2 && want[1] == types.NullType {
		msg = fmt.Sprintf("output is expected to be either of type %s or %s", names[0], names[1])
	}
	c.errs = append(c.errs, field.Invalid(path, value, msg))
}

// calledOnly says whether every one of names is used in expr as a function, never as a
// variable: an unknown variable is an error in Kyverno too, an unknown function may be one of
// its libraries'.
func calledOnly(env *cel.Env, expr string, names []string) bool {
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return false
	}
	ok := true
	celast.PostOrderVisit(parsed.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && slices.Contains(names, e.AsIdent()) {
			ok = false
		}
	}))
	return ok
}

// undeclaredOnly returns the names an expression's issues say are undeclared, when those are
// all its issues (a syntax or type error is a real refusal).
func undeclaredOnly(iss *cel.Issues) []string {
	var names []string
	for _, e := range iss.Errors() {
		name, ok := strings.CutPrefix(e.Message, "undeclared reference to '")
		if !ok {
			return nil
		}
		name, _, _ = strings.Cut(name, "'")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}
