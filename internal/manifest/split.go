package manifest

import (
	"bytes"
	"regexp"
	"unicode"
	"unicode/utf8"
)

// Document is one document of a YAML stream, found where kubectl's YAML reader splits one:
// at a line that starts with "---".
type Document struct {
	// Start is the byte offset of the document's text, its separator line included.
	Start int
	// Line is where Parse places the document's object: the line of its first key. 0 when
	// the document has no content (only comments or blank lines).
	Line int
	// Plain is true when Line is all the provenance the document needs: it is one block
	// mapping whose first key starts its first content line, with no top-level items (a
	// List's objects have their own lines).
	Plain bool
}

var (
	blockKey = regexp.MustCompile(`^[A-Za-z_"'][^:#]*:(\s|$)`)
	topItems = regexp.MustCompile(`^["']?items["']?\s*:`)
)

// plainSeparatorTail says whether what follows a separator's "---" is only spaces and tabs,
// then at most a comment of printable UTF-8 text: what a YAML parser also reads.
func plainSeparatorTail(tail []byte) bool {
	tail = bytes.TrimLeft(tail, " \t")
	if len(tail) == 0 {
		return true
	}
	if tail[0] != '#' || !utf8.Valid(tail) {
		return false
	}
	for _, r := range string(tail) {
		if r != '\t' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Documents splits a YAML stream without parsing it, for what only needs where objects are:
// the line of each document's object, and byte offsets to cut the stream into parts that
// decode as the whole does. ok is false for a stream this cannot read that way (JSON, a
// byte-order mark, a separator line whose "---" a space or tab does not end, or one with more
// than a plain comment after it).
func Documents(data []byte) (docs []Document, ok bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return nil, false
	}
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, false
	}
	cur := Document{}
	first := true // no content line seen yet in cur
	line := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		text := bytes.TrimRight(data[off:next], "\r\n")
		line++
		switch {
		case bytes.HasPrefix(text, []byte("---")):
			if len(text) > 3 && text[3] != ' ' && text[3] != '\t' {
				// kubectl's reader also splits at "---#..." (and at "---" and a Unicode
				// space), and keeps the separator line in a document that starts the
				// stream; a YAML parser reads that line as a scalar, so a part starting
				// there would not decode as the whole does.
				return nil, false
			}
			if !plainSeparatorTail(text[3:]) {
				// kubectl trims any Unicode space after "---" and drops the line, but a part
				// starting there hands the line to a YAML parser, which refuses a vertical
				// tab, a control character or invalid UTF-8 (found by FuzzDocuments).
				return nil, false
			}
			docs = append(docs, cur)
			cur, first = Document{Start: off}, true
		case first:
			t := bytes.TrimLeft(text, " \t")
			if len(t) == 0 || t[0] == '#' || t[0] == '%' {
				break
			}
			first = false
			cur.Line = line
			cur.Plain = len(t) == len(text) && blockKey.Match(text)
		case topItems.Match(text):
			cur.Plain = false
		}
		off = next
	}
	docs = append(docs, cur)
	// The text before the first separator is a document only if it has content.
	if docs[0].Line == 0 {
		docs = docs[1:]
	}
	return docs, true
}
