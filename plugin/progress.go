package plugin

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kubectl-verify/kubectl-verify/simulate"
)

// progress writes a line on stderr while a run that has lasted more than a second goes on
// (resources collected, images verified of all), rewritten in place and cleared at the end;
// nothing when stderr is not a terminal, so that logs and CI output stay clean.
type progress struct {
	// after is how long a run may take before the line appears; every how often it changes.
	after, every time.Duration
	// isTerminal says whether w is one (golang.org/x/term on a file).
	isTerminal func(w io.Writer) bool
}

func defaultProgress() progress {
	return progress{after: time.Second, every: 200 * time.Millisecond, isTerminal: isTerminal}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// start shows p's counts on w until the returned stop is called.
func (pr progress) start(w io.Writer, p *simulate.Progress) (stop func()) {
	if !pr.isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-time.After(pr.after):
		}
		tick := time.NewTicker(pr.every)
		defer tick.Stop()
		for {
			fmt.Fprintf(w, "\r\x1b[K%d resources, %d/%d images verified", p.Resources.Load(), p.ImagesDone.Load(), p.ImagesTotal.Load())
			select {
			case <-done:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}
