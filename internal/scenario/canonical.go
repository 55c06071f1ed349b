package scenario

import (
	"sort"
	"strings"
)

// skippedImagesMarker starts the image list of Kyverno's validating-phase messages
// ("image verified, skipped images: a b", "image skipped, skipped images: a b").
const skippedImagesMarker = "skipped images: "

// canonicalMessage sorts the image list of a "skipped images: " message. Kyverno builds that
// list from a Go map (pkg/engine/handlers/validation/validate_image.go), so its order changes
// from run to run (spec/kyverno.md §10.2) and only the set of images means anything: check sets
// are compared on this form. The list is split on single spaces, so any other difference in
// spacing still shows.
func canonicalMessage(msg string) string {
	i := strings.Index(msg, skippedImagesMarker)
	if i < 0 {
		return msg
	}
	head := msg[:i+len(skippedImagesMarker)]
	list := strings.Split(msg[len(head):], " ")
	sort.Strings(list)
	return head + strings.Join(list, " ")
}
