package wildcard

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "anything/at:all", true},
		{"a*b*c", "aXbYbZc", true},
		{"a?c", "a/c", true},
		{"a?", "a", false},
		{"?", "é", true},
		{"a*b", "aXbY", false},
		// A '*' facing a '*' in the string is still a star (found by FuzzMatch: it was
		// taken for a literal, and the backtracking lost).
		{"*x", "*ax", true},
		{"*\xff", "*0\xc7", true},
		{"a*", "a*", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
