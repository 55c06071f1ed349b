package kyverno

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAttestations(t *testing.T) {
	const key = `"keys":{"publicKeys":"k8s://ns/key","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}`
	const noLogs = `"keys":{"publicKeys":"k8s://ns/key"}`
	tests := []struct {
		name         string
		entry        string // the verifyImages entry's fields after imageReferences
		unsupported  []string
		publicTrust  int
		invalidPath  string
		wantType     string
		wantAttestor bool
	}{
		{name: "type and key", entry: `"attestations":[{"type":"t","attestors":[{"entries":[{` + key + `}]}]}]`, wantType: "t", wantAttestor: true},
		{name: "deprecated predicateType", entry: `"attestations":[{"predicateType":"t","attestors":[{"entries":[{` + key + `}]}]}]`, wantType: "t", wantAttestor: true},
		{name: "conditions", entry: `"attestations":[{"type":"t","conditions":[{"all":[{"key":"{{ a }}","operator":"Equals","value":"b"}]}],"attestors":[{"entries":[{` + key + `}]}]}]`,
			wantType: "t", wantAttestor: true},
		{name: "validate", entry: `"validate":{"deny":{"conditions":{"any":[]}}},"attestations":[{"type":"t","attestors":[{"entries":[{` + key + `}]}]}]`,
			wantType: "t", wantAttestor: true},
		{name: "no attestors", entry: `"attestations":[{"type":"t"}]`,
			unsupported: []string{".attestations[0].attestors (none: Kyverno then accepts any Fulcio identity logged in the public Rekor)"}, wantType: "t"},
		{name: "logs checked", entry: `"attestations":[{"type":"t","attestors":[{"entries":[{` + noLogs + `}]}]}]`, publicTrust: 2, wantType: "t", wantAttestor: true},
		{name: "legacy key with attestations", entry: `"key":"-----BEGIN PUBLIC KEY-----","attestations":[{"type":"t","attestors":[{"entries":[{` + key + `}]}]}]`,
			unsupported: []string{".key with attestations"}, wantType: "t", wantAttestor: true},
		{name: "attestor set validated", entry: `"attestations":[{"type":"t","attestors":[{"count":2,"entries":[{` + key + `}]}]}]`,
			invalidPath: "spec.rules[0].verifyImages[0].attestations[0].attestors[0].count"},
		{name: "entry kind required", entry: `"attestations":[{"type":"t","attestors":[{"entries":[{}]}]}]`,
			invalidPath: "spec.rules[0].verifyImages[0].attestations[0].attestors[0].entries[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"failureAction":"Enforce",` + tt.entry + `}]}]}}`
			p, err := Parse([]byte(raw), "f.yaml:1", "default")
			if tt.invalidPath != "" {
				var ie *InvalidError
				if !errors.As(err, &ie) || ie.Path != tt.invalidPath {
					t.Fatalf("Parse() error = %v, want *InvalidError at %s", err, tt.invalidPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := p.Spec.Rules[0]
			if len(r.Unsupported) != len(tt.unsupported) {
				t.Fatalf("Unsupported = %q, want %d entries", r.Unsupported, len(tt.unsupported))
			}
			for i, w := range tt.unsupported {
				if !strings.HasSuffix(r.Unsupported[i], w) {
					t.Errorf("Unsupported[%d] = %q, want suffix %q", i, r.Unsupported[i], w)
				}
			}
			if len(r.PublicTrust) != tt.publicTrust {
				t.Errorf("PublicTrust = %q, want %d entries", r.PublicTrust, tt.publicTrust)
			}
			iv := r.VerifyImages[0]
			if len(iv.Attestations) != 1 || iv.Attestations[0].EffectiveType() != tt.wantType || (len(iv.Attestations[0].Attestors) > 0) != tt.wantAttestor {
				t.Errorf("attestations = %+v, want one of type %q (attestors: %v)", iv.Attestations, tt.wantType, tt.wantAttestor)
			}
			if len(iv.Attestors) != 0 {
				t.Errorf("attestors = %+v, want none", iv.Attestors)
			}
			if !iv.HasChecks() {
				t.Error("an entry with attestations has checks")
			}
		})
	}
}
