package verifytest

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// MoveToPrefix moves ref's signature and attestation tags (sha256-<hex>.sig, .att) to
// <prefix>sha256-<hex>.sig, .att, as policy-controller's own e2e does with crane for
// source.tagPrefix: cosign cannot write prefixed tags itself. A suffix the image does not
// have is skipped; the unprefixed tags are gone afterwards, so only a prefixed lookup finds
// them.
func MoveToPrefix(ref, prefix string, opts ...remote.Option) error {
	digest, err := resolve(ref, opts...)
	if err != nil {
		return err
	}
	base := strings.Replace(digest.DigestStr(), ":", "-", 1)
	for _, suffix := range []string{".sig", ".att"} {
		from := digest.Context().Tag(base + suffix)
		desc, err := remote.Get(from, opts...)
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return err
		}
		to := digest.Context().Tag(prefix + base + suffix)
		if err := remote.Tag(to, desc, opts...); err != nil {
			return err
		}
		if err := remote.Delete(from, opts...); err != nil {
			return err
		}
	}
	return nil
}
