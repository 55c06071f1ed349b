package fielderror

import "testing"

// TestFieldErrorRendering pins the knative FieldError behavior the refusal texts rely on.
func TestFieldErrorRendering(t *testing.T) {
	tests := []struct {
		name string
		errs List
		want string
	}{
		{"index sticks to its field", MissingField("name").ViaIndex("secrets", 2).ViaIndex("source", 0).Via("spec"),
			"missing field(s): spec.source[0].secrets[2].name"},
		{"current field vanishes", InvalidValue("x", "", "why").Via("glob").ViaIndex("images", 1),
			"invalid value: x: images[1].glob\nwhy"},
		{"equal entries merge, paths deduplicated and sorted", append(append(MultipleOneOf("data", "remote"), MultipleOneOf("remote", "configMapRef")...), MultipleOneOf("data")...),
			"expected exactly one, got both: configMapRef, data, remote"},
		{"different details stay apart, sorted by details", append(InvalidValue("v", "a", "zeta"), InvalidValue("v", "b", "alpha")...),
			"invalid value: v: b\nalpha\ninvalid value: v: a\nzeta"},
		{"sorted by message", append(MissingField("m"), MultipleOneOf("b")...),
			"expected exactly one, got both: b\nmissing field(s): m"},
		{"levels do not merge", append(MissingField("a"), MissingField("b").At(Warning)...),
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
