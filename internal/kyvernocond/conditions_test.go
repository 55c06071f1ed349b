package kyvernocond

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func parseAnyAll(t *testing.T, s string) []AnyAll {
	t.Helper()
	var out []AnyAll
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckStatement(t *testing.T) {
	statement := map[string]any{
		"type": "https://example.com/CodeReview/v1",
		"predicate": map[string]any{
			"repo":      map[string]any{"uri": "https://github.com/example/app", "branch": "dev"},
			"reviewers": []any{"ann"},
			"score":     5.0,
			"count":     2.0,
			"escaped":   `\{{ score }}`,
		},
	}
	tests := []struct {
		name     string
		conds    string
		want     bool
		wantMsg  string
		wantErr  string
		notAgain bool
	}{
		{name: "no conditions", conds: `[]`, want: true},
		{name: "all hold: true messages joined", conds: `[{"all":[{"key":"{{ repo.branch }}","operator":"Equals","value":"dev","message":"a"},{"key":"{{ score }}","operator":"LessThan","value":6,"message":"b"}]}]`,
			want: true, wantMsg: "a; b"},
		{name: "blocks hold: messages joined without a space", conds: `[{"all":[{"key":"a","operator":"Equals","value":"a","message":"a"}]},{"all":[{"key":"x","operator":"Equals","value":"x","message":"b"}]}]`,
			want: true, wantMsg: "a;b"},
		{name: "all stops at the first false", conds: `[{"all":[{"key":"{{ repo.branch }}","operator":"Equals","value":"main","message":"branch {{ repo.branch }}"},{"key":"{{ nothere }}","operator":"Equals","value":"x"}]}]`,
			wantErr: `failed to substitute variables in attestation conditions: failed to resolve nothere at path /0/all/1/key: JMESPath query failed: Unknown key "nothere" in path`},
		{name: "false: the failing condition's message, variables resolved", conds: `[{"all":[{"key":"{{ repo.branch }}","operator":"Equals","value":"main","message":"branch {{ repo.branch }}"},{"key":"1","operator":"Equals","value":1,"message":"later"}]}]`,
			wantMsg: "branch dev"},
		{name: "any: every false message", conds: `[{"any":[{"key":"{{ score }}","operator":"GreaterThan","value":8,"message":"low"},{"key":"{{ reviewers }}","operator":"AnyIn","value":["chief"],"message":"no chief"}]}]`,
			wantMsg: "low; no chief"},
		{name: "any holds, all fails: the any's earlier false messages too", conds: `[{"any":[{"key":"a","operator":"Equals","value":"b","message":"m1"},{"key":"a","operator":"Equals","value":"a","message":"m2"}],"all":[{"key":"a","operator":"Equals","value":"c","message":"m3"}]}]`,
			wantMsg: "m1; m3"},
		{name: "first false block decides", conds: `[{"all":[{"key":"a","operator":"Equals","value":"a","message":"ok"}]},{"all":[{"key":"a","operator":"Equals","value":"b","message":"second"}]},{"all":[{"key":"a","operator":"Equals","value":"b","message":"third"}]}]`,
			wantMsg: "second"},
		{name: "empty any left out of the document holds", conds: `[{"any":[]}]`, want: true},
		{name: "no message", conds: `[{"all":[{"key":"a","operator":"Equals","value":"b"}]}]`, wantMsg: ""},
		{name: "whole-variable number compared with a literal", conds: `[{"all":[{"key":"{{ length(reviewers) }}","operator":"GreaterThanOrEquals","value":2,"message":"{{ length(reviewers) }} reviewer(s)"}]}]`,
			wantMsg: "1 reviewer(s)"},
		{name: "number equal to a number string", conds: `[{"all":[{"key":"{{ count }}","operator":"Equals","value":"2"}]}]`, want: true},
		// The first substitution unescapes \{{, the second (as preconditions) resolves it.
		{name: "escaped braces substituted the second time", conds: `[{"all":[{"key":"x {{ escaped }}","operator":"Equals","value":"x 5"}]}]`, want: true},
		// A whole-string variable's value is taken as is: the first pass leaves its \{{, the
		// second only unescapes it.
		{name: "escaped braces of a whole value", conds: `[{"all":[{"key":"{{ escaped }}","operator":"Equals","value":"{{ score }}"}]}]`, wantMsg: ""},
		{name: "quantity key against a number", conds: `[{"all":[{"key":"1","operator":"Equals","value":1}]}]`, wantMsg: ""},
		{name: "unknown operator", conds: `[{"all":[{"key":"a","operator":"Like","value":"a"}]}]`,
			wantErr: "failed to create handler for condition operator: %!w(<nil>)"},
		{name: "operator substituted", conds: `[{"all":[{"key":"a","operator":"{{ repo.branch }}","value":"a"}]}]`,
			wantErr: "failed to create handler for condition operator: %!w(<nil>)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewContext(map[string]any{"other": "x"})
			ok, msg, err := c.CheckStatement(parseAnyAll(t, tt.conds), statement)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("CheckStatement() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckStatement() error = %v", err)
			}
			if ok != tt.want || msg != tt.wantMsg {
				t.Errorf("CheckStatement() = %v, %q, want %v, %q", ok, msg, tt.want, tt.wantMsg)
			}
			// The predicate is gone afterwards: it was merged into a checkpoint.
			if _, err := c.Query("repo"); err == nil {
				t.Error("the predicate stayed in the context")
			}
		})
	}
}

func TestCheckStatementPredicateNotObject(t *testing.T) {
	_, _, err := NewContext(nil).CheckStatement(parseAnyAll(t, `[{"all":[{"key":"a","operator":"Equals","value":"a"}]}]`),
		map[string]any{"type": "t", "predicate": "text"})
	want := "failed to extract predicate from statement: map[predicate:text type:t]"
	if err == nil || err.Error() != want {
		t.Errorf("CheckStatement(string predicate) error = %v, want %q", err, want)
	}
}

func TestEvaluate(t *testing.T) {
	ctx := func() *Context {
		c := NewContext(nil)
		if err := c.AddEntry("sbom", []byte(`{"bomFormat":"CycloneDX","metadata":{"timestamp":"2026-01-02T10:00:00Z"}}`)); err != nil {
			t.Fatal(err)
		}
		if err := c.AddEntry("scan", []byte(`{"descriptor":{"timestamp":"2026-01-02T09:00:00Z"}}`)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		conds   string // "" for none
		want    bool
		wantMsg string
		wantErr string
	}{
		{name: "no conditions hold (deny)", want: true},
		{name: "null conditions hold", conds: `null`, want: true},
		// Kyverno's conformance test multiple-image-verification-attestations-fail.
		{name: "any: the true condition's message", conds: `{"any":[{"key":"{{ sbom.bomFormat }}","operator":"NotEquals","value":"CycloneDX","message":"test1"},{"key":"{{ time_after('{{ sbom.metadata.timestamp }}', '{{ scan.descriptor.timestamp }}' ) }}","operator":"Equals","value":true,"message":"test2"}]}`,
			want: true, wantMsg: "test2"},
		{name: "any: none true", conds: `{"any":[{"key":"{{ sbom.bomFormat }}","operator":"NotEquals","value":"CycloneDX","message":"test1"},{"key":"{{ time_after('{{ sbom.metadata.timestamp }}', '{{ scan.descriptor.timestamp }}' ) }}","operator":"Equals","value":false,"message":"test2"}]}`,
			wantMsg: "test1; test2"},
		{name: "condition messages are not substituted here", conds: `{"all":[{"key":"{{ sbom.bomFormat }}","operator":"Equals","value":"CycloneDX","message":"{{ sbom.bomFormat }}"}]}`,
			want: true, wantMsg: "{{ sbom.bomFormat }}"},
		{name: "empty any is false", conds: `{"any":[]}`},
		{name: "legacy list: ANDed, messages joined without a space", conds: `[{"key":"a","operator":"Equals","value":"a","message":"x"},{"key":"b","operator":"Equal","value":"b","message":"y"}]`,
			want: true, wantMsg: "x;y"},
		{name: "legacy list: the first false", conds: `[{"key":"a","operator":"Equals","value":"a","message":"x"},{"key":"b","operator":"Equals","value":"c","message":"y"},{"key":"b","operator":"Equals","value":"d","message":"z"}]`,
			wantMsg: "y"},
		{name: "missing key: no path for a scalar key", conds: `{"any":[{"key":"{{ sbom.version }}","operator":"Equals","value":1}]}`,
			wantErr: `failed to substitute variables in condition key: failed to resolve sbom.version at path : JMESPath query failed: Unknown key "version" in path`},
		{name: "missing value", conds: `{"any":[{"key":"a","operator":"AnyIn","value":["{{ scan.ids }}"]}]}`,
			wantErr: `failed to substitute variables in condition value: failed to resolve scan.ids at path /0: JMESPath query failed: Unknown key "ids" in path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conds *Conditions
			if tt.conds != "" {
				if err := json.Unmarshal([]byte(tt.conds), &conds); err != nil {
					t.Fatal(err)
				}
			}
			ok, msg, err := ctx().Evaluate(conds)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Evaluate() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate() error = %v", err)
			}
			if ok != tt.want || msg != tt.wantMsg {
				t.Errorf("Evaluate() = %v, %q, want %v, %q", ok, msg, tt.want, tt.wantMsg)
			}
		})
	}
}

func TestConditionsJSON(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantLegacy bool
		wantErr    bool
	}{
		{name: "any/all block", in: `{"any":[{"key":"a","operator":"Equals","value":"a"}]}`},
		{name: "legacy list", in: `[{"key":"a","operator":"Equals","value":"a"}]`, wantLegacy: true},
		{name: "neither", in: `"x"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Conditions
			err := json.Unmarshal([]byte(tt.in), &c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "failed to unmarshal Conditions") {
					t.Errorf("error = %v, want Kyverno's text", err)
				}
				return
			}
			if c.Legacy != tt.wantLegacy {
				t.Errorf("Legacy = %v, want %v", c.Legacy, tt.wantLegacy)
			}
			out, err := json.Marshal(c)
			if err != nil || string(out) != tt.in {
				t.Errorf("Marshal() = %s, %v, want %s", out, err, tt.in)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name string
		doc  any
		want []string
	}{
		{name: "predicate fields and functions replayed", doc: "{{ regex_match('^x', '{{ builder.id }}') }} {{ length(reviewers) }} {{ time_since('', '{{ a }}', '') }}"},
		{name: "request object, namespace and operation", doc: "{{ request.object.metadata.name }} {{ request.namespace }} {{ request.operation }}"},
		{name: "request beyond them", doc: "{{ request.userInfo.username }}",
			want: []string{"variable request.userInfo.username (only request.object, request.namespace and request.operation are replayed)"}},
		{name: "the whole request", doc: "{{ request }}",
			want: []string{"variable request (only request.object, request.namespace and request.operation are replayed)"}},
		{name: "images and service account", doc: []any{"{{ images.containers }}", "{{ serviceAccountName }}"},
			want: []string{"variable images.containers", "variable serviceAccountName"}},
		{name: "fields inside a projection read elements, not the root", doc: "{{ scanner.result.Results[].Vulnerabilities[?Severity == 'HIGH'] | length(@) }}"},
		{name: "the whole context", doc: "{{ keys(@) }}", want: []string{"variable @"}},
		{name: "function not replayed", doc: map[string]any{"key": "{{ random('[a-z]{4}') }}", "value": "{{ semver_compare(v, '>1') }}"},
			want: []string{"JMESPath function random()"}},
		{name: "unknown to Kyverno: replayed as its error", doc: "{{ nope(a) }}"},
		{name: "references", doc: "$(./key)", want: []string{"$( ) references"}},
		{name: "key of an object", doc: map[string]any{"{{ request.name }}": "x"},
			want: []string{"variable request.name (only request.object, request.namespace and request.operation are replayed)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unsupported(tt.doc)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Unsupported(%v) = %q, want %q", tt.doc, got, tt.want)
			}
		})
	}
}

func TestBlocksFromDocumentNotReplayed(t *testing.T) {
	// An operator substituted into a number: Kyverno's decoder refuses it in its own words.
	_, err := blocksFromDocument([]any{map[string]any{"all": []any{map[string]any{"operator": 3.0}}}})
	if !errors.Is(err, ErrNotReplayed) {
		t.Errorf("blocksFromDocument(number operator) error = %v, want ErrNotReplayed", err)
	}
}

func TestReadsRequest(t *testing.T) {
	tests := []struct {
		doc  any
		want bool
	}{
		{doc: "{{ repo.uri }}"},
		{doc: "{{ request.object.metadata.name }}", want: true},
		{doc: map[string]any{"key": "{{ to_upper(request.namespace) }}"}, want: true},
		// Inside a projection `request` is a field of each element, not the request.
		{doc: "{{ items[].request }}"},
		{doc: "x {{ regex_match('a', '{{ request.operation }}') }}", want: true},
	}
	for _, tt := range tests {
		if got := ReadsRequest(tt.doc); got != tt.want {
			t.Errorf("ReadsRequest(%v) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}
