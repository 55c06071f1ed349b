// Package pin rewrites container images in YAML manifests in place: only the bytes of each
// image value change, so comments, key order, quoting and layout stay as the user wrote them.
package pin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Edit is one image to rewrite: in the document (or List item) holding Kind Namespace/Name,
// at the JSON pointer Path, Old becoming New. DefaultNamespace is the namespace an object
// that names none was evaluated in.
type Edit struct {
	Kind, Namespace, Name string
	DefaultNamespace      string
	Path                  string
	Old, New              string
}

// Change is an edit made, with where: the value's line.
type Change struct {
	Edit
	Line int
}

// Apply makes edits in data, a YAML stream. An edit whose document or value is not found,
// or whose value is not Old, is an error: nothing is guessed.
func Apply(data []byte, edits []Edit) ([]byte, []Change, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, &n)
	}
	type spot struct {
		line, col int
		raw, repl string
		change    Change
	}
	var spots []spot
	taken := map[[2]int]bool{}
	for _, e := range edits {
		doc, err := find(docs, e)
		if err != nil {
			return nil, nil, err
		}
		node, err := lookup(doc, e.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %s: %w", e.Kind, e.Name, e.Path, err)
		}
		if node.Value != e.Old {
			return nil, nil, fmt.Errorf("%s %s: %s is %q, not %q", e.Kind, e.Name, e.Path, node.Value, e.Old)
		}
		raw, repl, err := quoted(node, e.New)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %s: %w", e.Kind, e.Name, e.Path, err)
		}
		if taken[[2]int{node.Line, node.Column}] {
			return nil, nil, fmt.Errorf("%s %s: %s: edited twice", e.Kind, e.Name, e.Path)
		}
		taken[[2]int{node.Line, node.Column}] = true
		spots = append(spots, spot{node.Line, node.Column, raw, repl, Change{e, node.Line}})
	}
	// Right to left within a line, so that an earlier edit does not move a later one.
	sort.Slice(spots, func(i, j int) bool {
		if spots[i].line != spots[j].line {
			return spots[i].line < spots[j].line
		}
		return spots[i].col > spots[j].col
	})
	lines := bytes.SplitAfter(data, []byte("\n"))
	var changes []Change
	for _, s := range spots {
		if s.line < 1 || s.line > len(lines) {
			return nil, nil, fmt.Errorf("line %d is outside the file", s.line)
		}
		l := lines[s.line-1]
		off := byteOffset(l, s.col-1)
		if off < 0 || !bytes.HasPrefix(l[off:], []byte(s.raw)) {
			return nil, nil, fmt.Errorf("line %d: %q is not where the YAML parser puts it", s.line, s.raw)
		}
		lines[s.line-1] = append(append(append([]byte{}, l[:off]...), s.repl...), l[off+len(s.raw):]...)
		changes = append(changes, s.change)
	}
	return bytes.Join(lines, nil), changes, nil
}

// find is the object of the edit: a document, or an item of a List document, of its kind,
// name and namespace (the default one when the object names none). None, or more than one,
// is an error: nothing is guessed.
func find(docs []*yaml.Node, e Edit) (*yaml.Node, error) {
	var objects []*yaml.Node
	for _, d := range docs {
		root := d
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if items := child(root, "items"); items != nil && items.Kind == yaml.SequenceNode && strings.HasSuffix(scalar(root, "kind"), "List") {
			objects = append(objects, items.Content...)
			continue
		}
		objects = append(objects, root)
	}
	var found []*yaml.Node
	for _, o := range objects {
		meta := child(o, "metadata")
		ns := scalar(meta, "namespace")
		if ns == "" {
			ns = e.DefaultNamespace
		}
		if scalar(o, "kind") == e.Kind && scalar(meta, "name") == e.Name && (ns == e.Namespace || e.Namespace == "") {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s %s/%s: not found", e.Kind, e.Namespace, e.Name)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%s %s/%s: %d objects of that name: not rewritten", e.Kind, e.Namespace, e.Name, len(found))
}

func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if n := child(m, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// lookup follows a JSON pointer (RFC 6901) through mappings and sequences.
func lookup(n *yaml.Node, pointer string) (*yaml.Node, error) {
	for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		switch n.Kind {
		case yaml.MappingNode:
			next := child(n, part)
			if next == nil {
				return nil, fmt.Errorf("no %q", part)
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, fmt.Errorf("no item %s", part)
			}
			n = n.Content[i]
		default:
			return nil, fmt.Errorf("%q is not in a mapping or sequence", part)
		}
		if n.Kind == yaml.AliasNode {
			return nil, errors.New("the value is an alias: edit the anchor")
		}
	}
	if n.Kind != yaml.ScalarNode {
		return nil, errors.New("not a scalar")
	}
	return n, nil
}

// quoted is the scalar as written and its replacement in the same style.
func quoted(n *yaml.Node, value string) (raw, repl string, err error) {
	switch n.Style {
	case 0:
		return n.Value, value, nil
	case yaml.DoubleQuotedStyle:
		return strconv.Quote(n.Value), strconv.Quote(value), nil
	case yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(n.Value, "'", "''") + "'", "'" + strings.ReplaceAll(value, "'", "''") + "'", nil
	}
	return "", "", errors.New("a block scalar: not rewritten")
}

// byteOffset is where the col-th character (0-based) of line starts.
func byteOffset(line []byte, col int) int {
	off := 0
	for i := 0; i < col; i++ {
		if off >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	return off
}

// Diff is a unified diff of the lines changes touch (one-line hunks, as each image is on a
// line of its own), for --dry-run.
func Diff(file string, before, after []byte, changes []Change) string {
	if len(changes) == 0 {
		return ""
	}
	b := strings.Split(string(before), "\n")
	a := strings.Split(string(after), "\n")
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", file, file)
	seen := map[int]bool{}
	for _, c := range changes {
		if seen[c.Line] {
			continue
		}
		seen[c.Line] = true
		fmt.Fprintf(&out, "@@ -%d +%d @@\n-%s\n+%s\n", c.Line, c.Line, b[c.Line-1], a[c.Line-1])
	}
	return out.String()
}

// LinesDiff is a unified diff of two small files, without context lines: a longest common
// subsequence of lines, each run of removed and added lines one hunk.
func LinesDiff(file string, before, after []byte) string {
	b := strings.SplitAfter(string(before), "\n")
	a := strings.SplitAfter(string(after), "\n")
	// lcs[i][j] is the longest common subsequence of b[i:] and a[j:].
	lcs := make([][]int, len(b)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(a)+1)
	}
	for i := len(b) - 1; i >= 0; i-- {
		for j := len(a) - 1; j >= 0; j-- {
			if b[i] == a[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(b) || j < len(a) {
		if i < len(b) && j < len(a) && b[i] == a[j] {
			i, j = i+1, j+1
			continue
		}
		bi, aj := i, j
		same := func() bool { return i < len(b) && j < len(a) && b[i] == a[j] }
		for (i < len(b) || j < len(a)) && !same() {
			if j < len(a) && (i == len(b) || lcs[i][j+1] >= lcs[i+1][j]) {
				j++
			} else {
				i++
			}
		}
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", file, file)
		}
		// An empty side names the line after which the other goes, as unified diffs do.
		from, to := bi+1, aj+1
		if i == bi {
			from = bi
		}
		if j == aj {
			to = aj
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", from, i-bi, to, j-aj)
		for _, l := range b[bi:i] {
			out.WriteString("-" + strings.TrimSuffix(l, "\n") + "\n")
		}
		for _, l := range a[aj:j] {
			out.WriteString("+" + strings.TrimSuffix(l, "\n") + "\n")
		}
	}
	return out.String()
}
