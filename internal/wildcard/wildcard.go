// Package wildcard is go-wildcard v1.0.3's Match as Kyverno's ext/wildcard uses it.
package wildcard

// Match is go-wildcard v1.0.3's Match as Kyverno's ext/wildcard uses it (spec/kyverno.md §2.4):
// '*' is any run of characters, '/' and ':' included; '?' is exactly one character; no
// classes, no escapes, case-sensitive, whole string.
func Match(patternStr, str string) bool {
	if patternStr == "" {
		return str == ""
	}
	if patternStr == "*" {
		return true
	}
	// go-wildcard compares runes, so '?' is one character, not one byte.
	pattern, s := []rune(patternStr), []rune(str)
	// Iterative glob with backtracking to the last star: linear in practice.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		// A star first: a '*' in the pattern is always one, even facing a '*' in s.
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Any reports whether some pattern matches s.
func Any(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}
