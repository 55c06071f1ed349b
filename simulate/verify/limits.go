package verify

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// What a registry may send in one answer. Blobs (signature layers, attestations, bundles)
// get cosign's own limit on attachments (128 MiB, COSIGN_MAX_ATTACHMENT_SIZE's default);
// everything else (manifests, indexes, tokens, the /v2/ ping) is small by nature.
const (
	maxBlobBytes     = 128 << 20
	maxResponseBytes = 16 << 20
)

// sizeLimit refuses registry answers over their limit, whether they announce their size or
// stream: nothing read from a registry is unbounded.
type sizeLimit struct{ next http.RoundTripper }

// TooLargeError is a registry answer over its limit.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the registry's answer to %s is larger than %d MiB: refused", e.URL, e.Limit>>20)
}

func (s sizeLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	limit := int64(maxResponseBytes)
	if strings.Contains(req.URL.Path, "/blobs/") {
		limit = maxBlobBytes
	}
	tooLarge := &TooLargeError{URL: req.URL.Redacted(), Limit: limit}
	if resp.ContentLength > limit {
		resp.Body.Close() //nolint:errcheck // refused unread
		return nil, tooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: limit, err: tooLarge}
	return resp, nil
}

// limitedBody fails a read past its limit instead of truncating quietly.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - 1, b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// readLayer reads a layer's content, uncompressed, refusing more than limit bytes: a small
// compressed layer may still inflate without bound.
func readLayer(l v1.Layer, limit int64, what string) ([]byte, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close() //nolint:errcheck // read-only
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: refused", what, limit)
	}
	return b, nil
}
