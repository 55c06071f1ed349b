package verify

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
)

// maxCachedBody bounds what one cached answer may hold: manifests and signature layers are
// small; anything larger passes through uncached.
const maxCachedBody = 4 << 20

// runCache remembers successful manifest and blob reads for one run, so that every engine,
// resource and key asking the same question of a registry with the same credentials costs one
// request. Answers are not shared across credentials: a request the registry would refuse
// (a Pod without the pull secret another Pod has) must still be refused.
type runCache struct {
	next  http.RoundTripper
	group singleflight.Group
	mu    sync.Mutex
	seen  map[string]*cachedAnswer
}

type cachedAnswer struct {
	status int
	header http.Header
	body   []byte
	// length is the answer's Content-Length: for HEAD, the size of what GET would return.
	length int64
}

// credentialsKey carries a request's credentials (Auth.Secrets) in its context.
type credentialsKey struct{}

func newRunCache(next http.RoundTripper) *runCache {
	return &runCache{next: next, seen: map[string]*cachedAnswer{}}
}

func cacheable(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	// The /v2/ ping is the same for every repository of a host, and each repository's
	// transport asks it: remembered, it costs one request per host and credentials.
	return req.URL.Path == "/v2/" || strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/blobs/")
}

func (c *runCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !cacheable(req) {
		return c.next.RoundTrip(req)
	}
	creds, _ := req.Context().Value(credentialsKey{}).(string)
	key := req.Method + " " + req.URL.String() + " " + req.Header.Get("Accept") + " " + creds
	c.mu.Lock()
	a, ok := c.seen[key]
	c.mu.Unlock()
	if ok {
		return a.response(req), nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		resp, err := c.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		// Only complete 200s are remembered; everything else (auth challenges, 404s, errors)
		// goes back to the caller as it came.
		if resp.StatusCode != http.StatusOK || resp.ContentLength > maxCachedBody {
			return resp, nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
		if err != nil {
			resp.Body.Close() //nolint:errcheck // failed already
			return nil, err
		}
		if len(body) > maxCachedBody {
			// Too large to remember (its size was not announced): the caller reads all of
			// it, what was read here first.
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			return resp, nil
		}
		resp.Body.Close() //nolint:errcheck // fully read
		a := &cachedAnswer{status: resp.StatusCode, header: resp.Header.Clone(), body: body, length: resp.ContentLength}
		c.mu.Lock()
		c.seen[key] = a
		c.mu.Unlock()
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	switch r := v.(type) {
	case *cachedAnswer:
		return r.response(req), nil
	case *http.Response:
		// A shared uncached answer can be read once: later waiters ask again.
		if r.Request == req {
			return r, nil
		}
		return c.next.RoundTrip(req)
	}
	return c.next.RoundTrip(req)
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (a *cachedAnswer) response(req *http.Request) *http.Response {
	return &http.Response{
		Status: http.StatusText(a.status), StatusCode: a.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: a.length, Request: req,
	}
}
