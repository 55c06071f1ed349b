package verify

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Retries of a registry answer that says "later": the status codes go-containerregistry
// retries by default (as the engines' clients do), at most retryAttempts tries in all, waiting
// what Retry-After asks (up to maxRetryAfter) or retryBase doubling.
const (
	retryAttempts = 3
	retryBase     = 250 * time.Millisecond
	maxRetryAfter = 10 * time.Second
)

var retryStatus = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// networkRetries is go-containerregistry's backoff for connection errors (reset, refused),
// shortened: ours handles status codes, so the library's status retries are turned off
// (remote.WithRetryStatusCodes with none) and the two never multiply.
var networkRetries = remote.Backoff{Duration: retryBase, Factor: 2, Steps: retryAttempts}

// retrying retries GET and HEAD answers with a retryStatus code, honoring Retry-After and
// the request's deadline: a wait that would pass the deadline is not begun, and the last
// answer goes back as it came.
type retrying struct{ next http.RoundTripper }

func (r retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return r.next.RoundTrip(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if err != nil || attempt == retryAttempts || !slices.Contains(retryStatus, resp.StatusCode) {
			return resp, err
		}
		wait := retryBase << (attempt - 1)
		if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = min(after, maxRetryAfter)
		}
		if deadline, ok := req.Context().Deadline(); ok && time.Until(deadline) < wait {
			return resp, nil
		}
		resp.Body.Close() //nolint:errcheck // asked again
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
