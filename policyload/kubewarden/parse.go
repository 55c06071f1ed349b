package kubewarden

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/admissioncel"
	"github.com/kubectl-verify/kubectl-verify/internal/groupexpr"
)

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec *spec `json:"spec"`
}

type spec struct {
	Module                                  string           `json:"module"`
	Mode                                    string           `json:"mode"`
	Mutating                                *bool            `json:"mutating"`
	Rules                                   []Rule           `json:"rules"`
	FailurePolicy                           string           `json:"failurePolicy"`
	NamespaceSelector                       *LabelSelector   `json:"namespaceSelector"`
	ObjectSelector                          *LabelSelector   `json:"objectSelector"`
	MatchConditions                         []MatchCondition `json:"matchConditions"`
	Message                                 string           `json:"message"`
	AllowInsideAdmissionControllerNamespace bool             `json:"allowInsideAdmissionControllerNamespace"`
	Settings                                json.RawMessage  `json:"settings"`
	// A policy group's.
	Expression string                 `json:"expression"`
	Policies   map[string]groupMember `json:"policies"`
}

type groupMember struct {
	Module   string          `json:"module"`
	Settings json.RawMessage `json:"settings"`
}

// Parse reads one ClusterAdmissionPolicy or AdmissionPolicy. An AdmissionPolicy without a
// namespace gets defaultNamespace, as kubectl would create it. What the API server would
// refuse (the CRD's required fields, the controller's validating webhook) is an error naming
// the field.
func Parse(raw []byte, source, defaultNamespace string) (*Policy, error) {
	var obj object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decoding Kubewarden policy: %w", err)
	}
	group := IsGroup(obj.APIVersion, obj.Kind)
	if !IsPolicy(obj.APIVersion, obj.Kind) && !group {
		return nil, fmt.Errorf("not a Kubewarden policy: %s %s", obj.APIVersion, obj.Kind)
	}
	p := &Policy{Kind: obj.Kind, APIVersion: obj.APIVersion, Name: obj.Metadata.Name, Source: source, Mode: "protect", FailurePolicy: "Fail", Group: group}
	if obj.Kind == "AdmissionPolicy" || obj.Kind == "AdmissionPolicyGroup" {
		p.Namespace = obj.Metadata.Namespace
		if p.Namespace == "" {
			p.Namespace = defaultNamespace
		}
	}
	ref := obj.Kind + "/" + p.Name
	invalid := func(path, msg string) error { return fmt.Errorf("%s is invalid: %s: %s", ref, path, msg) }
	if p.Name == "" {
		return nil, fmt.Errorf("%s: metadata.name: Required value", obj.Kind)
	}
	s := obj.Spec
	if s == nil {
		return nil, invalid("spec", "Required value")
	}
	switch {
	case group && s.Expression == "":
		return nil, invalid("spec.expression", "Required value")
	case group && s.Message == "":
		return nil, invalid("spec.message", "Required value")
	case group && len(s.Policies) == 0:
		return nil, invalid("spec.policies", "Required value: a policy group needs policies")
	case !group && s.Module == "":
		return nil, invalid("spec.module", "Required value")
	case !group && s.Mutating == nil:
		return nil, invalid("spec.mutating", "Required value")
	case len(s.Rules) == 0:
		return nil, invalid("spec.rules", "Required value: a value must be specified")
	}
	for i, r := range s.Rules {
		path := fmt.Sprintf("spec.rules[%d]", i)
		for _, f := range []struct {
			name string
			vals []string
		}{{"operations", r.Operations}, {"apiVersions", r.APIVersions}, {"resources", r.Resources}} {
			if len(f.vals) == 0 {
				return nil, invalid(path+"."+f.name, "Required value: "+f.name+" must be specified")
			}
			for _, v := range f.vals {
				if v == "" {
					return nil, invalid(path+"."+f.name, "Invalid value: \"\": must not be empty")
				}
			}
		}
	}
	switch s.Mode {
	case "", "protect":
	case "monitor":
		p.Mode = "monitor"
	default:
		return nil, invalid("spec.mode", fmt.Sprintf("Unsupported value: %q: supported values: \"protect\", \"monitor\"", s.Mode))
	}
	switch s.FailurePolicy {
	case "", "Fail":
	case "Ignore":
		p.FailurePolicy = "Ignore"
	default:
		return nil, invalid("spec.failurePolicy", fmt.Sprintf("Unsupported value: %q: supported values: \"Fail\", \"Ignore\"", s.FailurePolicy))
	}
	p.Rules = s.Rules
	p.ObjectSelector, p.MatchConditions, p.Message = s.ObjectSelector, s.MatchConditions, s.Message
	if obj.Kind == "ClusterAdmissionPolicy" || obj.Kind == "ClusterAdmissionPolicyGroup" {
		p.NamespaceSelector = s.NamespaceSelector
		p.AllowInsideAdmissionControllerNamespace = s.AllowInsideAdmissionControllerNamespace
	}
	if err := p.compileConditions(invalid); err != nil {
		return nil, err
	}
	if group {
		// Groups never mutate ("by design"): a member's patch makes that member reject.
		p.Expression = s.Expression
		if err := p.checkExpression(s, invalid); err != nil {
			return nil, err
		}
		names := make([]string, 0, len(s.Policies))
		for name := range s.Policies {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			m := Member{Name: name, Module: s.Policies[name].Module, VerifyImages: IsVerifyImageSignatures(s.Policies[name].Module)}
			if m.VerifyImages {
				settings, err := ParseSettings(s.Policies[name].Settings)
				if err != nil {
					m.SettingsError = err.Error()
					p.Warnings = append(p.Warnings, fmt.Sprintf("member %s: settings are invalid, so policy-server does not start with the group and its webhook is never registered (it stays pending): %s/%s: Policy settings are invalid: %s", name, p.Name, name, m.SettingsError))
				}
				m.Settings = settings
				p.VerifyImages = true
			} else {
				p.Warnings = append(p.Warnings, fmt.Sprintf("member %s: module %s is not verify-image-signatures: not simulated (the expression is decided without it where it can be)", name, m.Module))
			}
			p.Members = append(p.Members, m)
		}
		if !p.VerifyImages {
			p.Warnings = append(p.Warnings, "no member runs verify-image-signatures: not simulated")
		}
		return p, nil
	}
	p.Module, p.Mutating = s.Module, *s.Mutating
	p.VerifyImages = IsVerifyImageSignatures(p.Module)
	if !p.VerifyImages {
		p.Warnings = append(p.Warnings, fmt.Sprintf("module %s is not verify-image-signatures: not simulated", p.Module))
		return p, nil
	}
	settings, err := ParseSettings(s.Settings)
	if err != nil {
		p.SettingsError = err.Error()
		p.Warnings = append(p.Warnings, "settings are invalid, so policy-server does not start with it and its webhook is never registered (it stays pending): Policy settings are invalid: "+p.SettingsError)
	}
	p.Settings = settings
	return p, nil
}

// rhaiKeywords are names a member may not take: the expression calls members as Rhai
// functions.
var rhaiKeywords = map[string]bool{"true": true, "false": true, "let": true, "const": true, "if": true, "else": true, "switch": true,
	"do": true, "while": true, "until": true, "loop": true, "for": true, "in": true, "continue": true, "break": true, "return": true,
	"throw": true, "try": true, "catch": true, "fn": true, "private": true, "import": true, "export": true, "as": true, "global": true,
	"Fn": true, "call": true, "curry": true, "this": true, "type_of": true, "print": true, "debug": true, "eval": true, "is_def_fn": true, "is_def_var": true}

// checkExpression is the controller's validation of a group: members named as Rhai functions
// can be, and an expression that calls only members. An expression this tool does not parse
// is not refused (Rhai may accept it): it is not replayed.
func (p *Policy) checkExpression(s *spec, invalid func(path, msg string) error) error {
	for name := range s.Policies {
		if !isIdent(name) || rhaiKeywords[name] {
			return invalid("spec.policies."+name, "Invalid value: a member's name must be a valid function name in the expression")
		}
	}
	calls, err := groupexpr.Calls(s.Expression)
	if err != nil {
		p.Unsupported = append(p.Unsupported, fmt.Sprintf("spec.expression (%v: only member calls, true, false, !, &&, ||, ==, != and parentheses are replayed)", err))
		return nil
	}
	for _, c := range calls {
		if _, ok := s.Policies[c]; !ok {
			return invalid("spec.expression", fmt.Sprintf("Invalid value: %q: %s() is not a policy of the group", s.Expression, c))
		}
	}
	return nil
}

func isIdent(s string) bool {
	for i, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// compileConditions checks matchConditions as the controller's webhook does (at most 64,
// names unique, CEL that compiles) and compiles them. A condition using the authorizer is not
// replayed (the tool does not ask the API server's authorizer).
func (p *Policy) compileConditions(invalid func(path, msg string) error) error {
	if len(p.MatchConditions) > 64 {
		return invalid("spec.matchConditions", fmt.Sprintf("Too many: %d: must have at most 64 items", len(p.MatchConditions)))
	}
	seen := map[string]bool{}
	var programs []*admissioncel.Program
	for i, c := range p.MatchConditions {
		path := fmt.Sprintf("spec.matchConditions[%d]", i)
		switch {
		case c.Name == "":
			return invalid(path+".name", "Required value")
		case seen[c.Name]:
			return invalid(path+".name", fmt.Sprintf("Duplicate value: %q", c.Name))
		case c.Expression == "":
			return invalid(path+".expression", "Required value")
		}
		seen[c.Name] = true
		if strings.Contains(c.Expression, "authorizer") {
			p.Unsupported = append(p.Unsupported, path+" (conditions on the authorizer are not replayed)")
			continue
		}
		prg, err := admissioncel.Compile(c.Expression)
		switch {
		case err != nil && strings.Contains(err.Error(), "undeclared reference"):
			// Kubernetes' own CEL libraries are not declared here: the API server may well
			// accept the condition.
			p.Unsupported = append(p.Unsupported, fmt.Sprintf("%s (%v: a function of Kubernetes' CEL libraries not replayed)", path, err))
			continue
		case err != nil:
			return invalid(path+".expression", fmt.Sprintf("Invalid value: %q: %v", c.Expression, err))
		}
		programs = append(programs, prg)
	}
	if len(p.Unsupported) == 0 {
		p.Conditions = programs
	}
	return nil
}

// IsVerifyImageSignatures recognizes the module by reference: a repository named
// verify-image-signatures in any registry or mirror, by tag or digest
// (registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11, or the same without
// scheme), or an http(s)/file URL of its wasm file: verify-image-signatures.wasm, optionally
// with a version (verify-image-signatures-v1.0.11.wasm), or a policy.wasm under a
// verify-image-signatures path segment, as GitHub releases publish it. A module whose name only
// starts with the string (verify-image-signatures-fork) is another policy.
func IsVerifyImageSignatures(module string) bool {
	ref := module
	if scheme, rest, ok := strings.Cut(module, "://"); ok {
		switch scheme {
		case "registry":
			ref = rest
		case "http", "https", "file":
			u, err := url.Parse(module)
			if err != nil {
				return false
			}
			segments := strings.Split(u.Path, "/")
			base := segments[len(segments)-1]
			if base == "policy.wasm" {
				return slices.Contains(segments[:len(segments)-1], "verify-image-signatures")
			}
			return isVersionedName(strings.TrimSuffix(base, ".wasm"))
		default:
			return false
		}
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.Index(last, ":"); i >= 0 {
		last = last[:i]
	}
	return last == "verify-image-signatures"
}

// isVersionedName reports whether a file name (without .wasm) is verify-image-signatures,
// alone or followed by -, _ or @ and a version (v1.0.11, 1.0.11).
func isVersionedName(base string) bool {
	rest, ok := strings.CutPrefix(base, "verify-image-signatures")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	if !strings.ContainsRune("-_@", rune(rest[0])) {
		return false
	}
	version := strings.TrimPrefix(rest[1:], "v")
	return version != "" && version[0] >= '0' && version[0] <= '9'
}

// isNull reports whether a raw value is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
