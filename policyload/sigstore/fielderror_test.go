package sigstore

import "testing"

// TestFieldErrorRendering pins the knative FieldError behavior the refusal texts rely on.
func TestFieldErrorRendering(t *testing.T) {
	tests := []struct {
		name string
		errs ferrs
		want string
	}{
		{"index sticks to its field", missingField("name").viaIndex("secrets", 2).viaIndex("source", 0).via("spec"),
			"missing field(s): spec.source[0].secrets[2].name"},
		{"current field vanishes", invalidValue("x", "", "why").via("glob").viaIndex("images", 1),
			"invalid value: x: images[1].glob\nwhy"},
		{"equal entries merge, paths deduplicated and sorted", append(append(multipleOneOf("data", "remote"), multipleOneOf("remote", "configMapRef")...), multipleOneOf("data")...),
			"expected exactly one, got both: configMapRef, data, remote"},
		{"different details stay apart, sorted by details", append(invalidValue("v", "a", "zeta"), invalidValue("v", "b", "alpha")...),
			"invalid value: v: b\nalpha\ninvalid value: v: a\nzeta"},
		{"sorted by message", append(missingField("m"), multipleOneOf("b")...),
			"expected exactly one, got both: b\nmissing field(s): m"},
		{"levels do not merge", append(missingField("a"), missingField("b").at(levelWarning)...),
			"missing field(s): a\nmissing field(s): b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.errs.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
