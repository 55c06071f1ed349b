package verify_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// TestRetries: answers that say "later" are asked again a bounded number of times, after what
// Retry-After asks, never past the run's deadline; what still fails is never a pass.
func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		failures   int    // answers with status before the registry's own
		status     int    // the failing answer's status
		retryAfter string // its Retry-After
		deadline   time.Duration
		want       string // outcome
		attempts   int    // asks of the tag, in all
		minTime    time.Duration
		maxTime    time.Duration
	}{
		{"429 once, Retry-After 1", 1, http.StatusTooManyRequests, "1", 0, "verified", 2, time.Second, 3 * time.Second},
		{"503 twice, backoff", 2, http.StatusServiceUnavailable, "", 0, "verified", 3, 700 * time.Millisecond, 3 * time.Second},
		{"503 always: three asks", 100, http.StatusServiceUnavailable, "", 0, "could-not-verify", 3, 700 * time.Millisecond, 3 * time.Second},
		{"Retry-After past the deadline: not waited for", 100, http.StatusTooManyRequests, "30", 2 * time.Second, "could-not-verify", 1, 0, time.Second},
		{"404 is not retried", 100, http.StatusNotFound, "", 0, "could-not-verify", 1, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			asks := 0
			host, ref, key := faultyRegistry(t, false, "retry/app", func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !strings.HasSuffix(r.URL.Path, "/manifests/v1") {
					return false
				}
				mu.Lock()
				asks++
				fail := asks <= tt.failures
				mu.Unlock()
				if fail {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					http.Error(w, "later", tt.status)
				}
				return fail
			})
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			v := verify.New(must(verify.NewRegistry("", nil, "test")))
			start := time.Now()
			_, err := v.VerifySignature(ctx, verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM})
			took := time.Since(start)
			if got := outcome(err); got != tt.want {
				t.Errorf("outcome %s (%v), want %s", got, err, tt.want)
			}
			if asks != tt.attempts {
				t.Errorf("the tag was asked %d times, want %d", asks, tt.attempts)
			}
			if took < tt.minTime || took > tt.maxTime {
				t.Errorf("took %s, want between %s and %s", took, tt.minTime, tt.maxTime)
			}
			if err != nil && !strings.Contains(err.Error(), host) {
				t.Errorf("error %q does not name the registry", err)
			}
		})
	}
}
