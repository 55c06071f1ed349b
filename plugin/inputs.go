package plugin

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// stdinSource is how resource.Builder names a stream we hand it.
const stdinSource = "STDIN"

// readObjects reads local inputs the way kubectl does (resource.Builder, local mode: no API
// request, no REST mapping), then attaches provenance: FILE:LINE from re-reading each local
// file with internal/manifest (the Builder keeps only the file name), -:LINE for stdin,
// kustomize:DIR for -k. Stdin is the injected stream, never os.Stdin.
func readObjects(getter resource.RESTClientGetter, paths []string, recursive bool, kustomize string, stdin io.Reader) ([]manifest.Object, error) {
	var files []string
	var stdinData []byte
	readStdin := false
	for _, p := range paths {
		if p == "-" {
			readStdin = true
			continue
		}
		files = append(files, p)
	}
	b := resource.NewBuilder(getter).Unstructured().Local().ContinueOnError()
	if len(files) > 0 || kustomize != "" {
		b = b.FilenameParam(false, &resource.FilenameOptions{Filenames: files, Recursive: recursive, Kustomize: kustomize})
	}
	if readStdin {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		stdinData = data
		b = b.Stream(bytes.NewReader(data), stdinSource)
	}
	// Our own parse of the files (for file:line) runs beside the Builder's decoding, a file per
	// goroutine, instead of after it.
	parsed := prefetch(files, recursive)
	infos, err := b.Flatten().Do().Infos()
	if err != nil {
		return nil, err
	}
	lines := provenance{stdin: stdinData, kustomize: kustomize, seen: map[string]int{}, parsed: parsed()}
	out := make([]manifest.Object, 0, len(infos))
	for _, info := range infos {
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("%s: %s/%s is not an unstructured object", info.Source, info.Mapping, info.Name)
		}
		out = append(out, manifest.Object{Obj: u.Object, Source: lines.of(info.Source)})
	}
	return out, nil
}

// provenance maps the n-th object the Builder read from a source to the n-th object our
// parser finds there: both split documents and flatten Lists in file order.
type provenance struct {
	stdin     []byte
	kustomize string
	seen      map[string]int
	// parsed holds each source's objects' FILE:LINE, in the Builder's order.
	parsed map[string][]string
}

func (p *provenance) of(source string) string {
	switch {
	case p.kustomize != "" && (source == p.kustomize || strings.HasPrefix(source, p.kustomize)) && !isManifestFile(source):
		return "kustomize:" + p.kustomize
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		return source
	}
	name := source
	if source == stdinSource {
		name = "-"
	}
	lines, ok := p.parsed[source]
	if !ok {
		data := p.stdin
		if source != stdinSource {
			var err error
			if data, err = os.ReadFile(source); err != nil {
				data = nil
			}
		}
		lines = sourcesOf(data, name)
		p.parsed[source] = lines
	}
	i := p.seen[source]
	p.seen[source] = i + 1
	if i < len(lines) {
		return lines[i]
	}
	return name
}

// sourcesOf is the FILE:LINE of each object internal/manifest finds in data: only those are
// kept, not the objects (the Builder's are the ones evaluated).
func sourcesOf(data []byte, name string) []string {
	objs, _ := manifest.Parse(data, name)
	lines := make([]string, len(objs))
	for i, o := range objs {
		lines[i] = o.Source
	}
	return lines
}

// prefetch parses the manifest files under paths (as the Builder finds them: files named,
// .json/.yaml/.yml files of directories, subdirectories only when recursive) in parallel,
// and returns a wait for the results by path. A file it misses is parsed when asked.
func prefetch(paths []string, recursive bool) func() map[string][]string {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
		case !st.IsDir():
			files = append(files, p)
		default:
			_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				switch {
				case err != nil:
					return nil //nolint:nilerr // the Builder reports unreadable paths
				case d.IsDir() && path != p && !recursive:
					return filepath.SkipDir
				case !d.IsDir() && slices.Contains([]string{".json", ".yaml", ".yml"}, filepath.Ext(path)):
					files = append(files, path)
				}
				return nil
			})
		}
	}
	out := make([][]string, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			if data, err := os.ReadFile(f); err == nil {
				out[i] = sourcesOf(data, f)
			}
			return nil
		})
	}
	return func() map[string][]string {
		_ = g.Wait()
		m := make(map[string][]string, len(files))
		for i, f := range files {
			m[f] = out[i]
		}
		return m
	}
}

func isManifestFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
