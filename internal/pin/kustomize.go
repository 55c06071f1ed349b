package pin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KustomizePin is what an images entry gets: the digest, and the tag the build rendered (so
// that the image stays name:tag@digest).
type KustomizePin struct{ Digest, Tag string }

// Kustomization pins images through a kustomization's `images:` transformer instead of
// editing the bases: pins maps an image name, as the build renders it, to its pin. The entry
// that renders that name (newName, else name) gets `digest:` (its value replaced, or the key
// added under the entry's first key) and, when it has none, `newTag:`; a name no entry
// renders gets an entry of its own. Only the lines concerned change, with the file's line
// endings.
func Kustomization(data []byte, pins map[string]KustomizePin) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != 0 && root.Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a mapping")
	}
	images := child(root, "images")
	if images != nil && (images.Kind != yaml.SequenceNode || images.Style&yaml.FlowStyle != 0) {
		return nil, nil, errors.New("images: not a block sequence: not rewritten")
	}
	eol := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		eol = "\r\n"
	}
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := bytes.SplitAfter(data, []byte("\n"))
	type insert struct {
		at   int // line index before which text goes
		text string
	}
	var inserts []insert
	var done []string
	var added []string
	for _, name := range names {
		d := pins[name].Digest
		entry := renders(images, name)
		switch {
		case entry == nil:
			added = append(added, name)
			continue
		case entry.Style&yaml.FlowStyle != 0:
			return nil, nil, fmt.Errorf("images entry %s: a flow mapping: not rewritten", name)
		}
		if cur := child(entry, "digest"); cur != nil {
			raw, repl, err := quoted(cur, d)
			if err != nil {
				return nil, nil, err
			}
			l := lines[cur.Line-1]
			off := byteOffset(l, cur.Column-1)
			if off < 0 || !bytes.HasPrefix(l[off:], []byte(raw)) {
				return nil, nil, fmt.Errorf("line %d: %q is not where the YAML parser puts it", cur.Line, raw)
			}
			lines[cur.Line-1] = append(append(append([]byte{}, l[:off]...), repl...), l[off+len(raw):]...)
		} else {
			key := entry.Content[0] // the entry's first key sets the indentation
			inserts = append(inserts, insert{at: key.Line, text: strings.Repeat(" ", key.Column-1) + "digest: " + d + eol})
		}
		if child(entry, "newTag") == nil && pins[name].Tag != "" {
			key := entry.Content[0]
			inserts = append(inserts, insert{at: key.Line, text: strings.Repeat(" ", key.Column-1) + "newTag: " + yamlPlain(pins[name].Tag) + eol})
		}
		done = append(done, name)
	}
	if len(added) > 0 {
		var b strings.Builder
		indent := ""
		at := len(lines)
		keyIndent := "  "
		if images != nil && len(images.Content) > 0 {
			first := images.Content[0]
			line := lines[first.Line-1]
			dash := bytes.IndexByte(line, '-')
			if dash < 0 || dash >= first.Column-1 {
				dash = max(first.Column-3, 0)
			}
			indent = strings.Repeat(" ", dash)
			keyIndent = strings.Repeat(" ", max(first.Column-1-dash, 2))
			at = first.Line - 1
		} else if images == nil {
			if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
				lines[len(lines)-1] = append(lines[len(lines)-1], []byte(eol)...)
			}
			b.WriteString("images:" + eol)
		}
		for _, name := range added {
			fmt.Fprintf(&b, "%s-%sname: %s%s", indent, keyIndent[1:], name, eol)
			if tag := pins[name].Tag; tag != "" {
				fmt.Fprintf(&b, "%s%snewTag: %s%s", indent, keyIndent, yamlPlain(tag), eol)
			}
			fmt.Fprintf(&b, "%s%sdigest: %s%s", indent, keyIndent, pins[name].Digest, eol)
			done = append(done, name)
		}
		inserts = append(inserts, insert{at: at, text: b.String()})
	}
	sort.SliceStable(inserts, func(i, j int) bool { return inserts[i].at > inserts[j].at })
	for _, in := range inserts {
		at := min(in.at, len(lines))
		lines = append(lines[:at], append([][]byte{[]byte(in.text)}, lines[at:]...)...)
	}
	sort.Strings(done)
	return bytes.Join(lines, nil), done, nil
}

// renders is the images entry whose result carries name: newName when it has one, else name.
func renders(images *yaml.Node, name string) *yaml.Node {
	if images == nil {
		return nil
	}
	for _, e := range images.Content {
		target := scalar(e, "newName")
		if target == "" {
			target = scalar(e, "name")
		}
		if target == name {
			return e
		}
	}
	return nil
}

// ImageTag is an image reference's tag ("" when it has none).
func ImageTag(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return ""
}

// yamlPlain is a tag as a YAML value: quoted when it would read as another type (1.0, true).
func yamlPlain(s string) string {
	var v any
	if yaml.Unmarshal([]byte(s), &v) == nil {
		if _, isString := v.(string); isString {
			return s
		}
	}
	return strconv.Quote(s)
}

// ImageName is an image reference without its tag and digest: what kustomize's images
// transformer matches.
func ImageName(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}
