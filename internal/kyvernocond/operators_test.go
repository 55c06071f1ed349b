package kyvernocond

import (
	"errors"
	"testing"
)

func TestCompare(t *testing.T) {
	list := func(xs ...any) []any { return xs }
	tests := []struct {
		name       string
		op         string
		key, value any
		want       bool
	}{
		// Equals: the value is a wildcard pattern over a string key.
		{"equals wildcard", "Equals", "https://github.com/example/app", "https://github.com/example/*", true},
		{"equals wildcard is not reversed", "Equals", "https://github.com/example/*", "https://github.com/example/app", false},
		{"equals question mark is one rune", "Equals", "é", "?", true},
		{"equals durations by value", "Equals", "1h", "60m", true},
		{"equals duration against seconds", "Equals", "90s", 90.0, true},
		{"equals zero is no duration", "Equals", "0", "0s", false},
		{"equals quantities by value", "Equals", "1Gi", "1024Mi", true},
		{"equals quantity key, string value that is none", "Equals", "1", "one", false},
		{"equals quantity key, number value falls to false", "Equals", "1", 1.0, false},
		{"equals bool", "Equals", true, true, true},
		{"equals bool against string", "Equals", false, "False", false},
		{"equals int64 against float64", "Equals", int64(2), 2.0, true},
		{"equals int64 against fractional float", "Equals", int64(2), 2.5, false},
		{"equals float against string", "Equals", 2.5, "2.5", true},
		{"equals float against int64 when integral", "Equals", 3.0, int64(3), true},
		{"equals maps", "Equals", map[string]any{"a": "b"}, map[string]any{"a": "b"}, true},
		{"equals lists with other number types differ", "Equals", list(int64(1)), list(1.0), false},
		{"equals nil key", "Equals", nil, nil, false},
		{"deprecated Equal", "Equal", "a", "a", true},
		{"operator without case", "equals", "a", "a", true},
		// NotEquals: a value of another type is not equal, a nil key never.
		{"not equals wildcard", "NotEquals", "dev", "main", true},
		{"not equals same", "NotEquals", "main", "main", false},
		{"not equals type mismatch", "NotEquals", true, "true", true},
		{"not equals nil key", "NotEquals", nil, "x", false},
		{"not equals quantity against empty", "NotEquals", "1", "", true},
		{"not equals quantity against other string", "NotEquals", "1", "one", true},
		{"not equals fractional float against int", "NotEquals", 2.5, 2, true},
		// In / NotIn (deprecated): wildcard over a list, a JSON string array by equality.
		{"in list by wildcard", "In", "release-1", list("main", "release-*"), true},
		{"in pattern key over a list", "In", "release-*", list("release-1"), true},
		{"in JSON array string", "In", "b", `["a","b"]`, true},
		{"in string that is no JSON array", "In", "b", "c", false},
		{"in number key printed", "In", 3.0, list("3"), true},
		{"in set exact", "In", list("a", "b"), list("a", "b", "c"), true},
		{"in set without wildcards", "In", list("a*"), list("ab"), false},
		{"not in", "NotIn", "x", list("a"), true},
		{"not in one-key set equal to the string value", "NotIn", list("a"), "a", true},
		{"not in invalid value", "NotIn", "a", 3.0, false},
		// AnyIn / AnyNotIn.
		{"any in lists", "AnyIn", list("ann", "bob"), list("bob"), true},
		{"any in none", "AnyIn", list("ann"), list("chief"), false},
		{"any in range", "AnyIn", "5", "1-10", true},
		{"any in out of range", "AnyIn", "11", "1-10", false},
		{"any in plain string value", "AnyIn", "main", "main", true},
		{"any in number value", "AnyIn", list(1.0, 2.0), 2.0, true},
		{"any not in", "AnyNotIn", list("ann", "mallory"), list("ann"), true},
		{"any not in all present", "AnyNotIn", list("ann"), list("ann", "bob"), false},
		{"any not in one-key set equal", "AnyNotIn", list("a"), "a", false},
		// AllIn / AllNotIn.
		{"all in", "AllIn", list("GPL-3.0", "MIT"), list("GPL-3.0", "MIT", "BSD"), true},
		{"all in partly", "AllIn", list("GPL-3.0", "Apache"), list("GPL-3.0"), false},
		{"all in empty key list", "AllIn", list(), list("x"), true},
		{"all in number value is invalid", "AllIn", list(1.0), 1.0, false},
		{"all not in", "AllNotIn", list("ann", "bob"), list("mallory"), true},
		{"all not in hit", "AllNotIn", list("ann", "mallory"), list("mallory"), false},
		{"all not in range checks the range", "AllNotIn", list("5"), "1-10", false},
		// Ordering: numbers, number strings, durations, quantities, versions.
		{"greater than numbers", "GreaterThan", 9.0, int64(8), true},
		{"greater than or equals", "GreaterThanOrEquals", 2.0, 2.0, true},
		{"less than number string", "LessThan", "5", "10", true},
		{"less than durations", "LessThan", "3591h0m0s", "4380h", true},
		{"greater than duration against seconds", "GreaterThan", 7200.0, "1h", true},
		{"greater than quantities", "GreaterThan", "2Gi", "1500Mi", true},
		{"greater than versions", "GreaterThan", "1.10.0", "1.9.0", true},
		{"version against number", "GreaterThan", "1.10.0", 1.0, false},
		{"ordering needs the exact name", "greaterthan", 9.0, 8.0, false},
		{"ordering of a bool", "LessThan", true, 1.0, false},
		// Duration* (deprecated): numbers are seconds.
		{"duration greater than", "DurationGreaterThan", "2h", 3600.0, true},
		{"duration less than or equals", "DurationLessThanOrEquals", 60.0, "1m", true},
		{"duration of a non-duration", "DurationLessThan", "soon", "1m", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compare(tt.op, tt.key, tt.value)
			if err != nil {
				t.Fatalf("compare(%q, %#v, %#v) error = %v", tt.op, tt.key, tt.value, err)
			}
			if got != tt.want {
				t.Errorf("compare(%q, %#v, %#v) = %v, want %v", tt.op, tt.key, tt.value, got, tt.want)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	tests := []struct {
		name       string
		op         string
		key, value any
		wantErr    string
		notReplay  bool
	}{
		{name: "unknown operator", op: "Matches", key: "a", value: "a", wantErr: "failed to create handler for condition operator: %!w(<nil>)"},
		{name: "In over a list with a number (Kyverno panics)", op: "In", key: []any{1.0}, value: []any{"1"}, notReplay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compare(tt.op, tt.key, tt.value)
			if err == nil {
				t.Fatalf("compare(%q) = no error", tt.op)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("compare(%q) error = %q, want %q", tt.op, err, tt.wantErr)
			}
			if errors.Is(err, ErrNotReplayed) != tt.notReplay {
				t.Errorf("compare(%q) error = %v, ErrNotReplayed: want %v", tt.op, err, tt.notReplay)
			}
		})
	}
}
