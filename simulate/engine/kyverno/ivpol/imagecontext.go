package ivpol

import (
	"context"
	"errors"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// imageContext is the image cache Kyverno 1.19.1 keeps per engine call (the SDK's
// imagedataloader.imageContext), replayed for the one flaw that changes answers: Get returns
// a cached image without releasing its read lock, so a later Get of an image not cached yet
// waits for the write lock forever. Kyverno's call then never answers: `kyverno apply`
// hangs, and the API server times the webhook out (scenario ivpol-two-policies). A fetch
// that fails takes no lock.
type imageContext struct {
	cached     map[string]bool
	leaked     int
	deadlocked bool
}

// errDeadlock stops an evaluation where Kyverno's would block.
var errDeadlock = errors.New("kubectl-verify: Kyverno's image cache deadlocks here")

func newImageContext() *imageContext { return &imageContext{cached: map[string]bool{}} }

// get is imageContext.Get: the digest, from the run's verifier (which asks the registry once
// per run, whatever Kyverno's cache does).
func (ic *imageContext) get(ctx context.Context, v Verifier, image string, auth verify.Auth) (string, error) {
	if ic.deadlocked {
		return "", errDeadlock
	}
	if ic.cached[image] {
		ic.leaked++
		return v.Digest(ctx, image, auth)
	}
	d, err := v.Digest(ctx, image, auth)
	if err != nil {
		return "", err
	}
	if ic.leaked > 0 {
		ic.deadlocked = true
		return "", errDeadlock
	}
	ic.cached[image] = true
	return d, nil
}
