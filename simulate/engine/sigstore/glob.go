package sigstore

import (
	"regexp"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// compiled globs, by glob: a run asks the same few globs for every image.
var compiled sync.Map

func compileGlob(glob string) (*regexp.Regexp, error) {
	if re, ok := compiled.Load(glob); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := spol.CompileGlob(glob)
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
