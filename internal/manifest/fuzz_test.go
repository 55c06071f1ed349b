package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// seeds are the scenario suites' policies and resources, and a few shapes the splitter and
// the parser treat apart.
func seeds(f *testing.F) {
	for _, file := range []string{"policies.yaml", "resources.yaml"} {
		for _, data := range fuzzseed.Files(f, file) {
			f.Add(data)
		}
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"
	for _, s := range []string{
		"", "---\n", pod, "# header\n---\n" + pod + "--- # next\n" + pod,
		"apiVersion: v1\nkind: List\nitems:\n- " + "apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n",
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}}`,
		"%YAML 1.1\n---\n" + pod, "a: &x [*x]\n", "- 1\n", "kind: Pod\n", "\xEF\xBB\xBF" + pod,
	} {
		f.Add([]byte(s))
	}
}

var sourceRE = regexp.MustCompile(`^f\.yaml:([0-9]+)$`)

// FuzzParse: Parse never panics; an error is a *manifest.Error naming the file; every object names
// the file and a line of it, has a kind and an apiVersion, and encodes as JSON (what the
// policy loader does with it next).
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzseed.Watchdog(data)()
		if len(data) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		objs, err := manifest.Parse(data, "f.yaml")
		if err != nil {
			var e *manifest.Error
			if !errors.As(err, &e) || (e.Source != "f.yaml" && !sourceRE.MatchString(e.Source)) {
				t.Fatalf("Parse error %q (%T) does not name f.yaml", err, err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, o := range objs {
			m := sourceRE.FindStringSubmatch(o.Source)
			if m == nil {
				t.Fatalf("object Source %q, want f.yaml:LINE", o.Source)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Errorf("object Source %q: the input has %d lines", o.Source, lines)
			}
			if o.Kind() == "" || o.APIVersion() == "" {
				t.Errorf("%s: object without kind or apiVersion: %v", o.Source, o.Obj)
			}
			if _, err := json.Marshal(o.Obj); err != nil {
				t.Errorf("%s: object does not encode as JSON: %v", o.Source, err)
			}
		}
	})
}

// FuzzDocuments: Documents never panics; it refuses only JSON, byte-order marks and separator
// lines a YAML parser does not take for separators; its offsets increase, stay within the
// data and (after the first) sit on separator lines; its lines increase; the parts cut at its
// offsets decode, as kubectl's reader decodes them, to the documents of the whole; and when
// every document is plain, its lines are Parse's.
func FuzzDocuments(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzseed.Watchdog(data)()
		if len(data) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		docs, ok := manifest.Documents(data)
		if !ok {
			trimmed := bytes.TrimLeft(data, " \t\r\n")
			isJSON := len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
			bom := bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF})
			if !isJSON && !bom && !oddSeparator(data) {
				t.Fatalf("Documents refused a stream that is not JSON, starts with no byte-order mark and has no odd separator line")
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prevStart, prevLine := -1, 0
		for i, d := range docs {
			if d.Start <= prevStart || d.Start < 0 || d.Start > len(data) {
				t.Fatalf("docs[%d].Start = %d after %d, data of %d bytes", i, d.Start, prevStart, len(data))
			}
			if (i > 0 || d.Start > 0) && (!bytes.HasPrefix(data[d.Start:], []byte("---")) || data[d.Start-1] != '\n') {
				t.Fatalf("docs[%d].Start = %d is not at a separator line", i, d.Start)
			}
			if d.Line != 0 {
				if d.Line <= prevLine || d.Line > lines {
					t.Fatalf("docs[%d].Line = %d after %d, data of %d lines", i, d.Line, prevLine, lines)
				}
				prevLine = d.Line
			}
			if d.Line == 0 && d.Plain {
				t.Errorf("docs[%d] has no content but is plain", i)
			}
			prevStart = d.Start
		}

		// The parts decode, as the Builder decodes a file, to the documents of the whole. Like
		// splitFile's, they cover the whole stream, even when no document has a content line
		// Documents can see (one behind a bare CR, which YAML reads as a line break).
		whole, wholeErr := kubectlDocuments(data)
		var parts []string
		partErr := false
		if len(docs) == 0 {
			docs = []manifest.Document{{}}
		}
		for i, d := range docs {
			end := len(data)
			if i+1 < len(docs) {
				end = docs[i+1].Start
			}
			start := d.Start
			if i == 0 {
				start = 0 // splitFile's first part starts at the file's start
			}
			got, err := kubectlDocuments(data[start:end])
			if err != nil {
				partErr = true
				break
			}
			parts = append(parts, got...)
		}
		switch {
		case wholeErr == nil && partErr:
			t.Fatalf("the whole decodes, a part does not")
		case wholeErr == nil && !reflect.DeepEqual(whole, parts):
			if !deterministic(data, whole) {
				// Keys that collide once converted to JSON ("0.0" and "0") keep whichever
				// value the conversion's map iteration gives last: kubectl itself decodes
				// such a stream differently from run to run, so no split can match it.
				t.Skip("kubectl's decoder gives this stream different documents on different runs")
			}
			t.Fatalf("documents of the parts differ from the whole's:\nwhole %q\nparts %q", whole, parts)
		}

		objs, err := manifest.Parse(data, "f.yaml")
		if err != nil || wholeErr != nil {
			return
		}
		if loneCR(data) {
			// A CR without its LF ends a line for YAML (Parse) but not for kubectl, which
			// splits documents at LF only: "kind: A\r---" is one document to kubectl and
			// two to Parse. Documents follows kubectl, so the two disagree (found by fuzzing).
			return
		}
		var want, got []string
		for _, o := range objs {
			want = append(want, o.Source)
		}
		for _, d := range docs {
			if d.Line == 0 {
				continue
			}
			if !d.Plain {
				return
			}
			got = append(got, fmt.Sprintf("f.yaml:%d", d.Line))
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("every document plain, but its lines %q are not Parse's %q", got, want)
		}
	})
}

// loneCR: data has a carriage return that no line feed follows.
func loneCR(data []byte) bool {
	for i, b := range data {
		if b == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			return true
		}
	}
	return false
}

// oddSeparator: some line starts with "---" and neither ends there nor goes on with a space
// or a tab, or goes on with more than spaces, tabs and a comment of printable characters.
func oddSeparator(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if !bytes.HasPrefix(line, []byte("---")) {
			continue
		}
		if len(line) > 3 && line[3] != ' ' && line[3] != '\t' {
			return true
		}
		tail := strings.TrimLeft(string(line[3:]), " \t")
		if tail != "" && (tail[0] != '#' || !utf8.ValidString(tail) || strings.IndexFunc(tail, func(r rune) bool { return r != '\t' && !unicode.IsPrint(r) }) >= 0) {
			return true
		}
	}
	return false
}

// kubectlDocuments is what the Builder's StreamVisitor reads from data: each document as JSON,
// empty and null ones left out.
// deterministic says whether kubectl's decoder gives data the documents first on every one
// of many more runs.
func deterministic(data []byte, first []string) bool {
	for range 64 {
		again, err := kubectlDocuments(data)
		if err != nil || !reflect.DeepEqual(again, first) {
			return false
		}
	}
	return true
}

func kubectlDocuments(data []byte) ([]string, error) {
	d := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []string
	for {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		out = append(out, string(raw))
	}
}
