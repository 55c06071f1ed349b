package kyverno

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTemplatedAndResolve(t *testing.T) {
	key := testPublicKey(t)
	policy := func(entry string) string {
		return `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},` +
			`"context":[{"name":"cm","configMap":{"name":"keys","namespace":"kyverno"}}],"verifyImages":[` + entry + `]}]}}`
	}
	tests := []struct {
		name        string
		entry       string
		templated   bool
		values      map[string]any // what the variables resolve to, by the whole string
		wantKey     string
		wantNested  bool
		unsupported string
		invalid     string
	}{
		{name: "no variables", entry: `{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}]}`},
		{name: "variables only in attestation conditions are not the rule's",
			entry: `{"imageReferences":["*"],"attestations":[{"type":"t","attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}],"conditions":[{"all":[{"key":"{{ builder.id }}","operator":"Equals","value":"x"}]}]}]}`},
		{name: "key from a context entry", entry: `{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"{{ cm.data.key }}"}}]}]}`,
			templated: true, values: map[string]any{"{{ cm.data.key }}": key}, wantKey: key},
		{name: "key inside a nested set", entry: `{"imageReferences":["*"],"attestors":[{"entries":[{"attestor":{"entries":[{"keys":{"publicKeys":"{{ cm.data.key }}"}}]}}]}]}`,
			templated: true, values: map[string]any{"{{ cm.data.key }}": key}, wantNested: true},
		{name: "a KMS reference after substitution", entry: `{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"{{ cm.data.key }}"}}]}]}`,
			templated: true, values: map[string]any{"{{ cm.data.key }}": "awskms:///arn"}, unsupported: "publicKeys (awskms reference)"},
		{name: "an invalid PEM after substitution", entry: `{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"{{ cm.data.key }}"}}]}]}`,
			templated: true, values: map[string]any{"{{ cm.data.key }}": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----"}, invalid: "not a valid PEM public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(policy(tt.entry)), "f.yaml:1", "default")
			if err != nil {
				t.Fatal(err)
			}
			r := &p.Spec.Rules[0]
			if r.Templated != tt.templated {
				t.Fatalf("Templated = %v, want %v", r.Templated, tt.templated)
			}
			if len(r.Unsupported) > 0 {
				t.Fatalf("Unsupported = %q", r.Unsupported)
			}
			if !tt.templated {
				return
			}
			doc, err := SubstitutionDocument(r)
			if err != nil {
				t.Fatal(err)
			}
			doc = replaceStrings(doc, tt.values)
			out, err := ResolveRule(p, r, doc)
			if tt.invalid != "" {
				var ie *InvalidError
				if !errors.As(err, &ie) || !strings.Contains(ie.Msg, tt.invalid) {
					t.Fatalf("ResolveRule() error = %v, want an InvalidError containing %q", err, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.unsupported != "" {
				if len(out.Unsupported) != 1 || !strings.Contains(out.Unsupported[0], tt.unsupported) {
					t.Fatalf("Unsupported = %q, want one containing %q", out.Unsupported, tt.unsupported)
				}
				return
			}
			if len(out.Unsupported) > 0 {
				t.Fatalf("Unsupported = %q", out.Unsupported)
			}
			e := out.VerifyImages[0].Attestors[0].Entries[0]
			if tt.wantNested {
				if e.Nested == nil || e.Nested.Entries[0].Keys.PublicKeys != key {
					t.Fatalf("nested set = %+v, want it parsed again with the substituted key", e.Nested)
				}
				return
			}
			if e.Keys.PublicKeys != tt.wantKey {
				t.Fatalf("key = %q, want %q", e.Keys.PublicKeys, tt.wantKey)
			}
			if !reflect.DeepEqual(out.Context, r.Context) {
				t.Fatalf("context = %+v, want %+v", out.Context, r.Context)
			}
		})
	}
}

// replaceStrings stands in for the engine's substitution: each string found in values is
// replaced by its value.
func replaceStrings(doc any, values map[string]any) any {
	switch t := doc.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = replaceStrings(v, values)
		}
	case []any:
		for i, v := range t {
			t[i] = replaceStrings(v, values)
		}
	case string:
		if v, ok := values[t]; ok {
			return v
		}
	}
	return doc
}

func TestResolveKeepsConditions(t *testing.T) {
	raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[` +
		`{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}],"validate":{"message":"{{ request.object.metadata.name }}","deny":{"conditions":{"any":[{"key":"{{ a.b }}","operator":"Equals","value":"x"}]}}},` +
		`"attestations":[{"name":"a","type":"t","attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}],"conditions":[{"all":[{"key":"{{ b }}","operator":"Equals","value":"y"}]}]}]}]}]}}`
	p, err := Parse([]byte(raw), "f.yaml:1", "default")
	if err != nil {
		t.Fatal(err)
	}
	r := &p.Spec.Rules[0]
	if !r.Templated {
		t.Fatal("a validate message with variables makes the rule templated")
	}
	doc, err := SubstitutionDocument(r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ResolveRule(p, r, replaceStrings(doc, map[string]any{"{{ request.object.metadata.name }}": "pod"}))
	if err != nil {
		t.Fatal(err)
	}
	iv := out.VerifyImages[0]
	if iv.Validation.Message != "pod" {
		t.Errorf("message = %q, want the substituted one", iv.Validation.Message)
	}
	if iv.Validation.Deny != r.VerifyImages[0].Validation.Deny || !reflect.DeepEqual(iv.Attestations[0].Conditions, r.VerifyImages[0].Attestations[0].Conditions) {
		t.Errorf("the deny and attestation conditions are not the rule's own: %+v %+v", iv.Validation.Deny, iv.Attestations[0].Conditions)
	}
}

func testPublicKey(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
