// Command referrers-registry serves an in-memory OCI registry with the OCI 1.1 referrers API
// on a loopback address. The end-to-end suite runs it for scenarios that set `registry:
// referrers` in images.yaml, because neither `crane registry serve` nor Debian's registry 2.8
// answers GET /v2/<name>/referrers/<digest>.
//
//	referrers-registry --address 127.0.0.1:5000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
}

// run parses the flags, listens, and serves until ctx ends (SIGTERM or SIGINT in main).
func run(ctx context.Context, args []string, logw io.Writer) error {
	l, verbose, err := listen(args, logw)
	if err != nil {
		return err
	}
	// The harness polls /v2/, but this line lets a human with --address 127.0.0.1:0 find it.
	fmt.Fprintf(logw, "serving OCI registry with referrers API on %s\n", l.Addr())
	if err := serve(ctx, l, verbose, logw); err != nil {
		return err
	}
	fmt.Fprintln(logw, "stopped")
	return nil
}

func listen(args []string, logw io.Writer) (net.Listener, bool, error) {
	fs := flag.NewFlagSet("referrers-registry", flag.ContinueOnError)
	fs.SetOutput(logw)
	address := fs.String("address", "127.0.0.1:0", "loopback host:port to listen on")
	verbose := fs.Bool("v", false, "log every request (the registry's own log)")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	host, _, err := net.SplitHostPort(*address)
	if err != nil {
		return nil, false, fmt.Errorf("--address %q: %w", *address, err)
	}
	// Plain HTTP without authentication is only acceptable where nothing else can reach it.
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, false, fmt.Errorf("--address %q: only loopback addresses are served", *address)
	}
	l, err := net.Listen("tcp", *address)
	if err != nil {
		return nil, false, err
	}
	return l, *verbose, nil
}

// serve answers registry requests on l until ctx ends, then lets requests in flight finish.
func serve(ctx context.Context, l net.Listener, verbose bool, logw io.Writer) error {
	reqLog := log.New(io.Discard, "", 0)
	if verbose {
		reqLog = log.New(logw, "", log.LstdFlags)
	}
	srv := &http.Server{
		Handler:           ocireg.New(true, reqLog),
		ReadHeaderTimeout: 30 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
