package sigstore

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// globChars is what a glob may hold (pkg/apis/glob, spec §3.1).
var globChars = regexp.MustCompile(`^[a-zA-Z0-9-_:\/\*\.@]+$`)

// compiled globs, by glob: a run asks the same few globs for every image.
var compiled sync.Map

// compileGlob is policy-controller's glob: `*` alone means Docker Hub library images, `*/*`
// any Docker Hub image; `*` matches within one path segment (`:` and `@` included), `**`
// anything; anchored at both ends.
func compileGlob(glob string) (*regexp.Regexp, error) {
	if re, ok := compiled.Load(glob); ok {
		return re.(*regexp.Regexp), nil
	}
	g := glob
	switch g {
	case "*/*":
		g = "index.docker.io/*/*"
	case "*":
		g = "index.docker.io/library/*"
	}
	if !globChars.MatchString(g) {
		return nil, fmt.Errorf("invalid glob %q", glob)
	}
	g = strings.ReplaceAll(g, ".", `\.`)
	g = strings.ReplaceAll(g, "**", "#")
	g = strings.ReplaceAll(g, "*", "[^/]*")
	g = strings.ReplaceAll(g, "#", ".*")
	re, err := regexp.Compile("^" + g + "$")
	if err != nil {
		return nil, err
	}
	compiled.Store(glob, re)
	return re, nil
}

// globMatch is glob.Match: the glob against the reference's normalised name, then (a
// deprecated fallback) against the string as given when that differs.
func globMatch(glob, image string) (bool, error) {
	re, err := compileGlob(glob)
	if err != nil {
		return false, err
	}
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return false, err
	}
	if re.MatchString(ref.Name()) {
		return true, nil
	}
	return ref.Name() != image && re.MatchString(image), nil
}
