package admission

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDeepCopyIsARoundTrip: the copy is what a JSON round trip gives, numbers included, and
// shares nothing with the original.
func TestDeepCopyIsARoundTrip(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
	}{
		{"empty", map[string]any{}},
		{"scalars", map[string]any{"s": "x", "b": true, "f": 1.5, "i64": int64(3), "i": 7, "n": nil}},
		{"nested", map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "b", "ports": []any{int64(80)}}}}}},
		{"nil map and slice", map[string]any{"m": map[string]any(nil), "l": []any(nil)}},
		{"other types", map[string]any{"strings": []string{"a"}, "labels": map[string]string{"k": "v"}, "num": json.Number("12"), "i32": int32(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			got, err := DeepCopy(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("DeepCopy differs from a JSON round trip (-want +got):\n%s", d)
			}
			if spec, ok := got["spec"].(map[string]any); ok {
				spec["changed"] = true
				if _, leaked := tt.obj["spec"].(map[string]any)["changed"]; leaked {
					t.Error("the copy shares maps with the original")
				}
			}
		})
	}
}
