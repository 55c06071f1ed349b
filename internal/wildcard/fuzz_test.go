package wildcard

import (
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
)

// FuzzMatch: Match never panics; every pattern matches itself (a metacharacter matches
// itself too); Any of one pattern is Match; and Match agrees with a plain dynamic-programming
// glob over runes (the definition in Match's comment).
func FuzzMatch(f *testing.F) {
	images := fuzzseed.Strings(f, "resources.yaml", "image")
	patterns := append(fuzzseed.Strings(f, "policies.yaml", "imageReferences"), fuzzseed.Strings(f, "policies.yaml", "skipImageReferences")...)
	// Kubewarden's signatures[].image are matched the same way.
	patterns = append(patterns, fuzzseed.Strings(f, "policies.yaml", "image")...)
	for i, p := range patterns {
		f.Add(p, images[i%len(images)])
	}
	for _, s := range []struct{ p, s string }{
		{"", ""}, {"*", "anything/at:all"}, {"a*b*c", "aXbYbZc"}, {"a?c", "a/c"}, {"ghcr.io/org/img:*", "ghcr.io/org/img@sha256:abc"},
		{"**?*", "é"}, {"?", "\xff"}, {"*\xff", "a\xfe"},
	} {
		f.Add(s.p, s.s)
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		defer fuzzseed.Watchdog(pattern, s)()
		if len(pattern) > 1<<10 || len(s) > 1<<10 {
			t.Skip("input over 1 KiB: the reference matcher is quadratic")
		}
		if !Match(pattern, pattern) {
			t.Errorf("Match(%q, itself) = false", pattern)
		}
		got := Match(pattern, s)
		if want := reference(pattern, s); got != want {
			t.Errorf("Match(%q, %q) = %v, want %v", pattern, s, got, want)
		}
		if anyOf := Any([]string{pattern}, s); anyOf != got {
			t.Errorf("Any([%q], %q) = %v, Match = %v", pattern, s, anyOf, got)
		}
	})
}

// reference is glob matching by the table: m[i][j] says pattern[:i] matches s[:j].
func reference(patternStr, str string) bool {
	p, s := []rune(patternStr), []rune(str)
	m := make([][]bool, len(p)+1)
	for i := range m {
		m[i] = make([]bool, len(s)+1)
	}
	m[0][0] = true
	for i := 1; i <= len(p); i++ {
		for j := 0; j <= len(s); j++ {
			switch {
			case p[i-1] == '*':
				m[i][j] = m[i-1][j] || (j > 0 && m[i][j-1])
			case j > 0 && (p[i-1] == '?' || p[i-1] == s[j-1]):
				m[i][j] = m[i-1][j-1]
			}
		}
	}
	return m[len(p)][len(s)]
}
