package plugin

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/simulate"
)

// lockedBuffer is written by the progress goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgress: on a terminal, a run longer than `after` shows the counts, rewritten in place
// and cleared at the end; a shorter run, or a stderr that is no terminal, shows nothing.
func TestProgress(t *testing.T) {
	counts := &simulate.Progress{}
	counts.Resources.Store(3)
	counts.ImagesTotal.Store(5)
	counts.ImagesDone.Store(2)
	for _, tc := range []struct {
		name     string
		terminal bool
		after    time.Duration
		run      time.Duration
		want     string
	}{
		{name: "terminal, long run", terminal: true, after: 0, run: 50 * time.Millisecond, want: "\r\x1b[K3 resources, 2/5 images verified"},
		{name: "terminal, short run", terminal: true, after: time.Hour, run: 0},
		{name: "not a terminal", terminal: false, after: 0, run: 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out lockedBuffer
			pr := progress{after: tc.after, every: 10 * time.Millisecond, isTerminal: func(io.Writer) bool { return tc.terminal }}
			stop := pr.start(&out, counts)
			time.Sleep(tc.run)
			stop()
			got := out.String()
			switch {
			case tc.want == "" && got != "":
				t.Errorf("wrote %q, want nothing", got)
			case tc.want != "" && (!strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "\r\x1b[K")):
				t.Errorf("wrote %q, want the counts, then the line cleared", got)
			}
		})
	}
}
