package plugin

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// stdinSource is how resource.Builder names a stream we hand it.
const stdinSource = "STDIN"

// readObjects reads local inputs the way kubectl does (resource.Builder, local mode: no API
// request, no REST mapping), then attaches provenance: FILE:LINE from re-reading each local
// file with internal/manifest (the Builder keeps only the file name), -:LINE for stdin,
// kustomize:DIR for -k. Stdin is the injected stream, never os.Stdin. A large YAML file is
// read in parts, a Builder per core (splitFile), with the objects, order, provenance and
// errors of one Builder over everything.
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
	if readStdin {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		stdinData = data
	}
	local := func() *resource.Builder { return resource.NewBuilder(getter).Unstructured().Local().ContinueOnError() }
	// Each job is one Builder; their objects are concatenated in job order, which is the
	// order one Builder over every input would give.
	var jobs []func() ([]*resource.Info, error)
	known := map[string][]string{} // FILE:LINE of the files split below
	if kustomize != "" {
		// The Builder checks -k against -f itself: one Builder, as kubectl has.
		jobs = append(jobs, func() ([]*resource.Info, error) {
			return local().FilenameParam(false, &resource.FilenameOptions{Filenames: files, Recursive: recursive, Kustomize: kustomize}).Flatten().Do().Infos()
		})
	} else {
		var rest []string
		flush := func() {
			if len(rest) == 0 {
				return
			}
			names := rest
			rest = nil
			jobs = append(jobs, func() ([]*resource.Info, error) {
				return local().FilenameParam(false, &resource.FilenameOptions{Filenames: names, Recursive: recursive}).Flatten().Do().Infos()
			})
		}
		for _, f := range files {
			parts, lines, ok := splitFile(f)
			if !ok {
				rest = append(rest, f)
				continue
			}
			flush()
			if lines != nil {
				known[f] = lines
			}
			for _, part := range parts {
				jobs = append(jobs, func() ([]*resource.Info, error) {
					return local().Stream(bytes.NewReader(part), f).Flatten().Do().Infos()
				})
			}
		}
		flush()
	}
	if readStdin {
		jobs = append(jobs, func() ([]*resource.Info, error) {
			return local().Stream(bytes.NewReader(stdinData), stdinSource).Flatten().Do().Infos()
		})
	}
	if len(jobs) == 0 {
		jobs = append(jobs, func() ([]*resource.Info, error) { return local().Flatten().Do().Infos() })
	}
	// Our own parse of the files (for file:line) runs beside the Builders' decoding, a file
	// per goroutine, instead of after it.
	parsed := prefetch(slices.DeleteFunc(slices.Clone(files), func(f string) bool { return known[f] != nil }), recursive)
	infos, err := runBuilders(jobs)
	if err != nil {
		return nil, err
	}
	lines := provenance{stdin: stdinData, kustomize: kustomize, seen: map[string]int{}, parsed: parsed()}
	maps.Copy(lines.parsed, known)
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

// runBuilders runs the jobs, a core each, and concatenates what they read in job order. Any
// error fails the read, as one Builder's would.
func runBuilders(jobs []func() ([]*resource.Info, error)) ([]*resource.Info, error) {
	out := make([][]*resource.Info, len(jobs))
	errs := make([]error, len(jobs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, job := range jobs {
		g.Go(func() error {
			out[i], errs[i] = job()
			return nil
		})
	}
	_ = g.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	switch len(failed) {
	case 0:
		return slices.Concat(out...), nil
	case 1:
		return nil, failed[0]
	}
	return nil, utilerrors.Flatten(utilerrors.NewAggregate(failed))
}

// splitFile cuts a large YAML file into as many parts as there are cores, at document
// boundaries, for one Builder each: kubectl's decoder reads a file on one core, and for
// thousands of objects that was most of a run. Each part after the first starts with its
// separator line, so it decodes as YAML whatever its first document looks like. lines is
// each object's FILE:LINE when the splitter could tell them (nil: parse the file for them).
// ok is false for a file to hand the Builder whole.
func splitFile(path string) (parts [][]byte, lines []string, ok bool) {
	const minDocsPerPart = 32
	cores := runtime.GOMAXPROCS(0)
	st, err := os.Stat(path)
	if cores < 2 || err != nil || !st.Mode().IsRegular() || st.Size() < 16<<10 {
		return nil, nil, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, false
	}
	docs, ok := manifest.Documents(data)
	n := min(cores, len(docs)/minDocsPerPart)
	if !ok || n < 2 {
		return nil, nil, false
	}
	for _, d := range docs {
		if d.Line == 0 {
			continue
		}
		if !d.Plain {
			lines = nil
			break
		}
		lines = append(lines, fmt.Sprintf("%s:%d", path, d.Line))
	}
	start := 0
	for k := 1; k < n; k++ {
		cut := docs[k*len(docs)/n].Start
		parts = append(parts, data[start:cut])
		start = cut
	}
	return append(parts, data[start:]), lines, true
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
