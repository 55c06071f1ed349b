package kyverno

import (
	"strings"
	"testing"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
)

func TestRuleImages(t *testing.T) {
	e := &Engine{Config: DefaultConfig()}
	obj := map[string]any{"kind": "Task", "spec": map[string]any{
		"steps":    []any{map[string]any{"name": "a", "image": "reg.io/a:1"}, map[string]any{"name": "b", "image": "  "}},
		"byName":   map[string]any{"z": map[string]any{"image": "reg.io/z:1"}, "y": map[string]any{"image": "reg.io/y:1"}},
		"dup":      []any{map[string]any{"n": "same", "image": "reg.io/first:1"}, map[string]any{"n": "same", "image": "reg.io/second:1"}},
		"scalar":   "x",
		"keyless":  []any{map[string]any{"image": "reg.io/k:1"}},
		"badimage": []any{map[string]any{"image": "reg.io/Not A Tag"}},
	}}
	builtIn := []imageInfo{{Registry: "builtin"}}
	tests := []struct {
		name    string
		ext     map[string][]kpol.ImageExtractor
		want    []string // pointers
		wantErr string
	}{
		{"no extractors: built-in images", nil, []string{""}, ""},
		{"kind not listed: built-in images", map[string][]kpol.ImageExtractor{"Other": {{Path: "/spec/steps/*/image"}}}, []string{""}, ""},
		{"kind listed without extractors", map[string][]kpol.ImageExtractor{"Task": {}}, nil, "no extractors found for Task"},
		{"array, blank image skipped", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/steps/*/image"}}}, []string{"/spec/steps/0/image"}, ""},
		{"map keys in sorted order", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/byName/*", Value: "image"}}}, []string{"/spec/byName/y/image", "/spec/byName/z/image"}, ""},
		{"same key: the later image wins", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/dup/*", Value: "image", Key: "n"}}}, []string{"/spec/dup/1/image"}, ""},
		{"key field missing", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/keyless/*", Value: "image", Key: "n"}}}, nil, "invalid key"},
		{"star over a scalar", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/scalar/*/image"}}}, nil, "invalid type"},
		{"image that does not parse", map[string][]kpol.ImageExtractor{"Task": {{Path: "/spec/badimage/*/image"}}}, nil, "invalid image 'reg.io/Not A Tag' (bad image: reg.io/Not A Tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.ruleImages(obj, builtIn, &kpol.Rule{ImageExtractors: tt.ext})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var pointers []string
			for _, g := range got {
				pointers = append(pointers, g.Pointer)
			}
			if strings.Join(pointers, ",") != strings.Join(tt.want, ",") {
				t.Errorf("pointers = %q, want %q", pointers, tt.want)
			}
		})
	}
}
