package kyvernocond

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testContext() *Context {
	return NewContext(map[string]any{
		"repo":      map[string]any{"uri": "https://github.com/example/app", "branch": "main"},
		"reviewers": []any{"ann", "bob"},
		"score":     9.0,
		"braces":    "{{ repo.branch }}",
		"keyname":   "renamed",
		"builder":   map[string]any{"id": "https://example.com/builder@v2"},
		"at":        "2026-01-02T09:00:00Z",
	})
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name    string
		doc     any
		want    any
		wantErr string
	}{
		{name: "whole string is the value", doc: "{{ reviewers }}", want: []any{"ann", "bob"}},
		{name: "number value", doc: "{{score}}", want: 9.0},
		{name: "printed into a string", doc: "score {{ score }} by {{ reviewers }}", want: `score 9 by ["ann","bob"]`},
		{name: "nested, innermost first", doc: "{{ regex_match('^https://example.com/builder@v[0-9]+$', '{{ builder.id }}') }}", want: true},
		{name: "nested result re-scanned", doc: "x {{ braces }}", want: "x main"},
		{name: "shallow: braces in the value kept", doc: "x {{- braces }}", want: "x {{ repo.branch }}"},
		{name: "escaped braces kept", doc: `a \{{ score }}`, want: "a {{ score }}"},
		{name: "object key renamed", doc: map[string]any{"{{ keyname }}": "v"}, want: map[string]any{"renamed": "v"}},
		{name: "list elements", doc: []any{"{{ repo.branch }}", 1.0}, want: []any{"main", 1.0}},
		{name: "custom function", doc: "{{ time_since('', '{{ at }}', '2026-01-03T09:00:00Z') }}", want: "24h0m0s"},
		{name: "missing key names the path", doc: map[string]any{"all": []any{map[string]any{"key": "{{ score2 }}"}}},
			wantErr: `failed to resolve score2 at path /all/0/key: JMESPath query failed: Unknown key "score2" in path`},
		{name: "path of a top-level string is empty", doc: "{{ repo.tag }}", wantErr: `failed to resolve repo.tag at path : JMESPath query failed: Unknown key "tag" in path`},
		{name: "empty variable", doc: "{{}}", wantErr: "failed to resolve  at path : invalid query (nil)"},
		{name: "unknown function", doc: "{{ nope(score) }}", wantErr: "failed to resolve nope(score) at path : JMESPath query failed: unknown function: nope"},
		{name: "syntax error", doc: "{{ a[ }}", wantErr: "failed to resolve a[ at path : incorrect query a[: "},
		{name: "argument type", doc: "{{ to_upper(score) }}", wantErr: "failed to resolve to_upper(score) at path : JMESPath query failed: Invalid type for: 9, expected: []jmespath.JpType{\"string\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testContext().Substitute(tt.doc)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Substitute(%v) error = %v, want %q", tt.doc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Substitute(%v) error = %v", tt.doc, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Substitute(%v) mismatch (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestSubstituteShallowNonString(t *testing.T) {
	_, err := testContext().Substitute("x {{- score }}")
	if !errors.Is(err, ErrNotReplayed) {
		t.Errorf("Substitute(shallow number) error = %v, want ErrNotReplayed (Kyverno panics)", err)
	}
}

func TestFunctions(t *testing.T) {
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return time.Date(2026, 1, 2, 12, 0, 0, 0, time.FixedZone("x", 3600)) }
	c := NewContext(map[string]any{"n": 1.5, "big": 123456789.0})
	tests := []struct {
		query   string
		want    any
		wantErr string
	}{
		{query: `regex_match('^1.5$', n)`, want: true},
		// Kyverno prints a number subject at float32 precision.
		{query: `regex_match('^123456790$', big)`, want: true},
		{query: `regex_match('(', 'x')`, wantErr: "JMESPath query failed: error parsing regexp: missing closing ): `(`"},
		{query: `pattern_match('ex*le', 'example')`, want: true},
		{query: `time_since('', '2026-01-02T09:00:00Z', '')`, want: "2h0m0s"},
		{query: `time_now_utc()`, want: "2026-01-02T11:00:00Z"},
		{query: `time_now()`, want: "2026-01-02T12:00:00+01:00"},
		{query: `time_after('2026-01-02T10:00:00Z', '2026-01-02T09:00:00Z')`, want: true},
		{query: `time_before('2026-01-02T10:00:00Z', '2026-01-02T09:00:00Z')`, want: false},
		{query: `time_between('2026-01-02T10:00:00Z', '2026-01-02T09:00:00Z', '2026-01-02T11:00:00Z')`, want: true},
		{query: `time_diff('2026-01-02T09:00:00Z', '2026-01-02T10:30:00Z')`, want: "1h30m0s"},
		{query: `time_add('2026-01-02T09:00:00Z', '90m')`, want: "2026-01-02T10:30:00Z"},
		{query: `time_truncate('2026-01-02T09:47:00Z', '1h')`, want: "2026-01-02T09:00:00Z"},
		{query: `time_utc('2026-01-02T09:00:00+02:00')`, want: "2026-01-02T07:00:00Z"},
		{query: `time_parse('1136239445', '1767344400')`, want: "2026-01-02T09:00:00Z"},
		{query: `time_to_cron('2026-01-02T09:05:00Z')`, want: "5 9 2 1 5"},
		{query: `time_after('yesterday', '2026-01-02T09:00:00Z')`, wantErr: `JMESPath query failed: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{query: `to_upper('a')`, want: "A"},
		{query: `to_lower('A')`, want: "a"},
		{query: `equal_fold('A', 'a')`, want: true},
		{query: `compare('a', 'b')`, want: -1},
		{query: `split('a/b', '/')`, want: []any{"a", "b"}},
		{query: `trim('--a--', '-')`, want: "a"},
		{query: `trim_prefix('docker://x', 'docker://')`, want: "x"},
		{query: `replace_all('a.b.c', '.', '/')`, want: "a/b/c"},
		{query: `base64_decode('aGk=')`, want: "hi"},
		{query: `base64_encode('hi')`, want: "aGk="},
		{query: `length(split('a/b/c', '/'))`, want: 3.0},
		{query: `to_upper('a', 'b')`, wantErr: "JMESPath query failed: incorrect number of args"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := c.Query(tt.query)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Query(%s) error = %v, want %q", tt.query, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Query(%s) error = %v", tt.query, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Query(%s) mismatch (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

func TestUnreplayed(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"regex_match", false}, // implemented
		{"sum", false},         // Kyverno's, shadowing go-jmespath's built-in
		// Its answer cannot be known ahead.
		{"random", true},
		{"length", false}, // go-jmespath built-in
		{"nope", false},   // unknown to Kyverno too: its error is replayed
	}
	for _, tt := range tests {
		if got := Unreplayed(tt.name); got != tt.want {
			t.Errorf("Unreplayed(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestContextEntries(t *testing.T) {
	c := NewContext(nil)
	if err := c.AddEntry("sbom", []byte(`{"a":{"x":1},"b":2}`)); err != nil {
		t.Fatal(err)
	}
	// A second entry under the same name merges objects key by key (Kyverno's mergeMaps).
	if err := c.AddEntry("sbom", []byte(`{"a":{"y":3},"b":4}`)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Query("sbom")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": map[string]any{"x": 1.0, "y": 3.0}, "b": 4.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged entry mismatch (-want +got):\n%s", diff)
	}
	c.Checkpoint()
	c.Merge(map[string]any{"sbom": map[string]any{"b": 5.0}})
	c.Restore()
	if got, _ := c.Query("sbom.b"); got != 4.0 {
		t.Errorf("after Restore sbom.b = %v, want 4", got)
	}
	big := NewContext(nil)
	raw, _ := json.Marshal(map[string]string{"x": strings.Repeat("a", int(DefaultMaxContextSize))})
	err = big.AddEntry("big", raw)
	var sl SizeLimitError
	if !errors.As(err, &sl) || !strings.HasPrefix(err.Error(), "context size limit exceeded: ") || !strings.HasSuffix(err.Error(), " bytes exceeds limit of 2097152 bytes") {
		t.Errorf("AddEntry(over 2 MiB) error = %v, want the size limit error", err)
	}
}
