// Command kubectl-verify is the kubectl plugin `kubectl verify`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/plugin"
)

// The garbage collector's settings, unless GOGC and GOMEMLIMIT say otherwise. A run is short
// and allocates fast: collecting at every doubling of a small heap cost a quarter of the CPU
// of 2,000 Pods, so the heap may grow to five times what is live (gcPercent), while the soft
// limit makes the collector work harder near 200 MiB, where runs over tens of thousands of
// resources then stay instead of doubling their live heap.
const (
	gcPercent       = 400
	softMemoryLimit = 200 << 20
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := plugin.NewCmdRoot(streams).ExecuteContext(ctx)
	stop()
	code := plugin.ExitCode(err)
	if err != nil && code == 2 {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
	}
	os.Exit(code)
}
