package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// TestSplitReadIsWholeRead: a large file read in parts, a Builder each, gives the objects,
// order and file:line one Builder over the whole file gives, and the same error.
func TestSplitReadIsWholeRead(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 300; i++ {
		switch {
		case i == 150:
			// A List among the documents: its items have their own lines.
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: listed, namespace: ns}\n  spec: {containers: [{name: a, image: img}]}\n")
		case i%75 == 0:
			// A flow mapping where a part may begin, and an empty document.
			fmt.Fprintf(&b, "---\n# nothing\n---\n{apiVersion: v1, kind: Pod, metadata: {name: p%d, namespace: ns}}\n", i)
		default:
			fmt.Fprintf(&b, "---\n# pod %d\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d\n  namespace: ns\nspec:\n  containers:\n  - name: a\n    image: registry.example/app%d:v1\n", i, i, i%7)
		}
	}
	dir := t.TempDir()
	var plain strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&plain, "# pod %d\napiVersion: v1\nkind: Pod\nmetadata:\n  name: q%d\n  namespace: ns\n---\n", i, i)
	}
	files := map[string]string{"mixed.yaml": b.String(), "plain.yaml": plain.String(), "bad.yaml": b.String() + "---\napiVersion: v1\nkind: Pod\nmetadata: [\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: s, namespace: ns}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(procs int, paths ...string) ([]manifest.Object, error) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return readObjects(genericclioptions.NewConfigFlags(false), paths, false, "", nil)
	}
	for _, tt := range []struct {
		name       string
		paths      []string
		knownLines bool // the splitter tells the lines, no parse needed
	}{
		{"mixed", []string{filepath.Join(dir, "mixed.yaml")}, false},
		{"plain, between small files", []string{small, filepath.Join(dir, "plain.yaml"), small}, true},
		{"a decode error", []string{filepath.Join(dir, "bad.yaml")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, lines, split := splitFileWith(4, tt.paths)
			if !split {
				t.Fatal("the test file is too small to be split: the test would compare a read with itself")
			}
			if (lines != nil) != tt.knownLines {
				t.Fatalf("lines known = %v, want %v", lines != nil, tt.knownLines)
			}
			whole, werr := read(1, tt.paths...)
			parts, perr := read(4, tt.paths...)
			if fmt.Sprint(werr) != fmt.Sprint(perr) {
				t.Fatalf("errors differ:\nwhole: %v\nparts: %v", werr, perr)
			}
			if d := cmp.Diff(whole, parts); d != "" {
				t.Errorf("objects (-whole +parts):\n%s", d)
			}
			if werr == nil && len(whole) < 300 {
				t.Errorf("%d objects read, want at least 300", len(whole))
			}
		})
	}
}

// splitFileWith reports whether any of paths is split with procs cores.
func splitFileWith(procs int, paths []string) ([][]byte, []string, bool) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	for _, p := range paths {
		if parts, lines, ok := splitFile(p); ok {
			return parts, lines, true
		}
	}
	return nil, nil, false
}
