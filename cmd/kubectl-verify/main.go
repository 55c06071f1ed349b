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

// softMemoryLimit is the heap size at which the garbage collector starts working harder, when
// GOMEMLIMIT does not say otherwise: a run over tens of thousands of resources then stays
// near it instead of doubling its live heap, and smaller runs never reach it.
const softMemoryLimit = 200 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
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
