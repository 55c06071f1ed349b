package admission

import (
	"unicode"
	"unicode/utf8"
)

// The API server's limits on the Warning headers of one response (k8s.io/apiserver
// pkg/endpoints/filters/warning.go): past 4096 runes in all, every warning is cut to 256 runes
// and those that no longer fit are dropped.
const (
	warningsTotalRunes = 4 * 1024
	warningItemRunes   = 256
)

// apiServerWarnings is what the API server's warning recorder makes of the warnings the
// webhooks returned, in order: empty and repeated texts are dropped, a text with a control
// character cannot be a header and is dropped (still counting as seen), and past the total
// limit the list is cut as described above.
func apiServerWarnings(in []string) []string {
	seen := map[string]bool{}
	var kept []string
	written, truncating := 0, false
	cut := func(s string) string {
		if utf8.RuneCountInString(s) > warningItemRunes {
			return string([]rune(s)[:warningItemRunes])
		}
		return s
	}
	for _, text := range in {
		if text == "" {
			continue
		}
		if truncating && written >= warningsTotalRunes {
			break
		}
		if seen[text] {
			continue
		}
		seen[text] = true
		if !utf8.ValidString(text) || hasControl(text) {
			continue
		}
		if truncating {
			text = cut(text)
			written += utf8.RuneCountInString(text)
			kept = append(kept, text)
			continue
		}
		if n := utf8.RuneCountInString(text); written+n <= warningsTotalRunes {
			written += n
			kept = append(kept, text)
			continue
		}
		// Over the limit: everything recorded so far is replayed cut, then this one.
		truncating, written = true, 0
		kept = append(kept, text)
		for i := range kept {
			kept[i] = cut(kept[i])
			written += utf8.RuneCountInString(kept[i])
		}
	}
	return kept
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
