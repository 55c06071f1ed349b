package kyverno

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConditions(t *testing.T) {
	const attestation = `"attestations":[{"name":"review","type":"t","attestors":[{"entries":[{"keys":{"publicKeys":"k8s://ns/key","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]`
	cond := func(conds string) string { return attestation + `,"conditions":` + conds + `}]` }
	validate := func(v string) string { return attestation + `}],"validate":` + v }
	tests := []struct {
		name        string
		entry       string
		unsupported []string
		invalidPath string
		invalidMsg  string
		check       func(t *testing.T, iv ImageVerification)
	}{
		{name: "conditions replayed", entry: cond(`[{"all":[{"key":"{{ repo.uri }}","operator":"Equals","value":"x","message":"m"}],"any":[]}]`),
			check: func(t *testing.T, iv ImageVerification) {
				c := iv.Attestations[0].Conditions
				if len(c) != 1 || len(c[0].All) != 1 || c[0].All[0].Operator != "Equals" || c[0].Any == nil {
					t.Errorf("conditions = %+v, want one all condition and an empty (present) any", c)
				}
			}},
		{name: "operator outside the CRD enum", entry: cond(`[{"any":[{"key":"a","operator":"Equal","value":"a"}]}]`),
			invalidPath: "spec.rules[0].verifyImages[0].attestations[0].conditions[0].any[0].operator", invalidMsg: `Unsupported value: "Equal"`},
		{name: "operator missing", entry: cond(`[{"all":[{"key":"a","value":"a"}]}]`),
			invalidPath: "spec.rules[0].verifyImages[0].attestations[0].conditions[0].all[0].operator"},
		{name: "function not replayed", entry: cond(`[{"all":[{"key":"{{ random('[a-z]{4}') }}","operator":"Equals","value":"abcd"}]}]`),
			unsupported: []string{"spec.rules[0].verifyImages[0].attestations[0].conditions: JMESPath function random()"}},
		{name: "request beyond object, namespace and operation", entry: cond(`[{"all":[{"key":"{{ request.userInfo.username }}","operator":"Equals","value":"a"}]}]`),
			unsupported: []string{"spec.rules[0].verifyImages[0].attestations[0].conditions: variable request.userInfo.username (only request.object, request.namespace and request.operation are replayed)"}},
		{name: "validate replayed", entry: validate(`{"message":"m","deny":{"conditions":{"any":[{"key":"{{ review.repo.branch }}","operator":"NotEquals","value":"main"}]}}}`),
			check: func(t *testing.T, iv ImageVerification) {
				v := iv.Validation
				if !v.IsSet() || v.Message != "m" || v.Deny == nil || v.Deny.Conditions == nil || v.Deny.Conditions.Legacy || len(v.Deny.Conditions.AnyAll.Any) != 1 {
					t.Errorf("validate = %+v, want the message and one any condition", v)
				}
			}},
		{name: "validate legacy list, deprecated Equal", entry: validate(`{"deny":{"conditions":[{"key":"a","operator":"Equal","value":"b"}]}}`),
			check: func(t *testing.T, iv ImageVerification) {
				if c := iv.Validation.Deny.Conditions; c == nil || !c.Legacy || len(c.List) != 1 {
					t.Errorf("deny conditions = %+v, want the legacy list", c)
				}
			}},
		{name: "deny without conditions", entry: validate(`{"deny":{}}`),
			check: func(t *testing.T, iv ImageVerification) {
				if !iv.Validation.IsSet() || iv.Validation.Deny.Conditions != nil {
					t.Errorf("validate = %+v, want set, no conditions", iv.Validation)
				}
			}},
		{name: "validate without deny", entry: validate(`{"message":"m"}`),
			unsupported: []string{"spec.rules[0].verifyImages[0].validate.deny (absent while the rule has validate: Kyverno 1.19's policy validation dereferences it)"}},
		{name: "empty validate is not set", entry: validate(`{}`),
			check: func(t *testing.T, iv ImageVerification) {
				if iv.Validation.IsSet() {
					t.Error("validate {} is set")
				}
			}},
		{name: "deny condition without a value", entry: validate(`{"deny":{"conditions":{"all":[{"key":"a","operator":"Equals"}]}}}`),
			invalidPath: "spec.rules[0].verifyImages[0].validate.deny.conditions.all[0]", invalidMsg: "entered value of `key`, `value` or `operator` is missing or misspelled"},
		{name: "deny condition with an unknown operator", entry: validate(`{"deny":{"conditions":[{"key":"a","operator":"Like","value":"a"}]}}`),
			invalidPath: "spec.rules[0].verifyImages[0].validate.deny.conditions[0].operator", invalidMsg: "entered value of `operator` is invalid"},
		{name: "deny conditions of another shape", entry: validate(`{"deny":{"conditions":"x"}}`),
			invalidPath: "spec", invalidMsg: "failed to unmarshal Conditions"},
		{name: "message with variables (substituted with the rule)", entry: validate(`{"message":"{{ review.x }}","deny":{"conditions":{"any":[{"key":"{{ images.containers }}","operator":"Equals","value":"a"}]}}}`),
			unsupported: []string{"spec.rules[0].verifyImages[0].validate.deny: variable images.containers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseEntry(tt.entry)
			if tt.invalidPath != "" {
				var ie *InvalidError
				if !errors.As(err, &ie) || ie.Path != tt.invalidPath || !strings.Contains(ie.Msg, tt.invalidMsg) {
					t.Fatalf("Parse() error = %v, want *InvalidError at %s containing %q", err, tt.invalidPath, tt.invalidMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := p.Spec.Rules[0]
			if strings.Join(r.Unsupported, "|") != strings.Join(tt.unsupported, "|") {
				t.Errorf("Unsupported = %q, want %q", r.Unsupported, tt.unsupported)
			}
			if tt.check != nil {
				tt.check(t, r.VerifyImages[0])
			}
		})
	}
}

func parseEntry(entry string) (*Policy, error) {
	raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"failureAction":"Enforce",` + entry + `}]}]}}`
	return Parse([]byte(raw), "f.yaml:1", "default")
}

// TestConditionsCacheWarning: conditions that read the request warn about Kyverno's
// verification cache, unless the entry turns the cache off.
func TestConditionsCacheWarning(t *testing.T) {
	const att = `"attestations":[{"type":"t","attestors":[{"entries":[{"keys":{"publicKeys":"k8s://ns/key","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}],"conditions":[{"all":[{"key":"%s","operator":"Equals","value":"x"}]}]}]`
	tests := []struct {
		name  string
		entry string
		want  bool
	}{
		{name: "predicate only", entry: strings.Replace(att, "%s", "{{ repo.uri }}", 1)},
		{name: "request, cache on by default", entry: strings.Replace(att, "%s", "{{ request.object.metadata.name }}", 1), want: true},
		{name: "request, cache off", entry: `"useCache":false,` + strings.Replace(att, "%s", "{{ request.namespace }}", 1)},
		{name: "deny reading the request", entry: strings.Replace(att, "%s", "a", 1) + `,"validate":{"deny":{"conditions":{"any":[{"key":"{{ request.operation }}","operator":"Equals","value":"CREATE"}]}}}`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseEntry(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, w := range p.Warnings {
				got = got || strings.Contains(w, "verification cache")
			}
			if got != tt.want {
				t.Errorf("cache warning = %v, want %v (warnings %q)", got, tt.want, p.Warnings)
			}
		})
	}
}
