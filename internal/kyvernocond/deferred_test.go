package kyvernocond

import (
	"strings"
	"testing"
)

func TestDeferredVariables(t *testing.T) {
	obj := map[string]any{"request": map[string]any{"object": map[string]any{"metadata": map[string]any{"labels": map[string]any{"team": "payments"}}}}}
	tests := []struct {
		name    string
		vars    []Variable
		query   string
		want    any
		wantErr string
		// notLoaded names an entry the query must not have loaded.
		notLoaded string
	}{
		{"jmesPath over the request", []Variable{{Name: "team", JMESPath: "request.object.metadata.labels.team"}}, "team", "payments", "", ""},
		{"default when missing", []Variable{{Name: "owner", JMESPath: "request.object.metadata.labels.owner", Default: "nobody"}}, "owner", "nobody", "", ""},
		{"value built from another entry", []Variable{{Name: "team", JMESPath: "request.object.metadata.labels.team"}, {Name: "greeting", Value: "hello {{ team }}"}}, "greeting", "hello payments", "", ""},
		{"jmesPath over a value", []Variable{{Name: "n", Value: []any{"a", "b"}, JMESPath: "length(@)"}}, "n", float64(2), "", ""},
		{"an entry nothing reads is never loaded", []Variable{{Name: "broken", JMESPath: "request.object.metadata.labels.nothere"}, {Name: "team", JMESPath: "request.object.metadata.labels.team"}}, "team", "payments", "", "broken"},
		{"a missing value without default fails where it is read", []Variable{{Name: "broken", JMESPath: "request.object.metadata.labels.nothere"}}, "broken", nil,
			`failed to apply jmespath request.object.metadata.labels.nothere to variable <nil>: JMESPath query failed: Unknown key "nothere" in path`, ""},
		{"a null result fails as nil", []Variable{{Name: "empty", Value: map[string]any{"a": nil}, JMESPath: "a"}}, "empty", nil,
			"failed to add context entry for variable empty since it evaluated to nil", ""},
		{"a name only after a dot does not load the entry", []Variable{{Name: "team", Value: "x"}}, "request.object.metadata.labels.team", "payments", "", "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewContext(obj)
			for _, v := range tt.vars {
				if err := c.AddDeferred(v.Name, v.Load); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.Query(tt.query)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Query(%q) error = %v, want %q", tt.query, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Query(%q) = %#v, want %#v", tt.query, got, tt.want)
			}
			if _, loaded := c.data[tt.notLoaded]; tt.notLoaded != "" && loaded {
				t.Errorf("entry %q was loaded", tt.notLoaded)
			}
		})
	}
}
