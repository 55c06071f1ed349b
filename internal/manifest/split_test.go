package manifest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocumentsLinesAreParses: where Documents calls a document plain, its line is the one
// Parse gives the document's object.
func TestDocumentsLinesAreParses(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"
	tests := []struct {
		name      string
		data      string
		wantPlain bool
	}{
		{"one", pod, true},
		{"several", pod + "---\n" + pod + "---\n" + pod, true},
		{"leading separator and comments", "# header\n---\n# about a\n\n" + pod + "--- # next\n" + pod, true},
		{"empty documents", "---\n---\n" + pod + "---\n# only a comment\n---\n" + pod + "---\n", true},
		{"CRLF", strings.ReplaceAll(pod+"---\n"+pod, "\n", "\r\n"), true},
		{"directive", "%YAML 1.1\n---\n" + pod, true},
		{"a List", pod + "---\napiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSpace(pod), "\n", "\n  ") + "\n", false},
		{"a flow mapping", pod + "---\n{apiVersion: v1, kind: Pod, metadata: {name: b}}\n", false},
		{"indented", pod + "---\n  apiVersion: v1\n  kind: Pod\n  metadata: {name: c}\n", false},
		{"quoted key with a colon", pod + "---\n\"a:b\": c\napiVersion: v1\nkind: Pod\nmetadata: {name: d}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, ok := Documents([]byte(tt.data))
			if !ok {
				t.Fatal("Documents refused the stream")
			}
			objs, err := Parse([]byte(tt.data), "f.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, o := range objs {
				want = append(want, o.Source)
			}
			var got []string
			plain := true
			for _, d := range docs {
				if d.Line == 0 {
					continue
				}
				plain = plain && d.Plain
				got = append(got, "f.yaml:"+strconv.Itoa(d.Line))
			}
			if plain != tt.wantPlain {
				t.Fatalf("plain = %v, want %v", plain, tt.wantPlain)
			}
			if plain {
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("lines (-Parse +Documents):\n%s", d)
				}
			}
			// Every part cut at a document's Start decodes to the same objects in order.
			var again []string
			for i, d := range docs {
				end := len(tt.data)
				if i+1 < len(docs) {
					end = docs[i+1].Start
				}
				part, err := Parse([]byte(tt.data[d.Start:end]), "f.yaml")
				if err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
				for _, o := range part {
					again = append(again, o.Obj["metadata"].(map[string]any)["name"].(string))
				}
			}
			var names []string
			for _, o := range objs {
				names = append(names, o.Obj["metadata"].(map[string]any)["name"].(string))
			}
			if d := cmp.Diff(names, again); d != "" {
				t.Errorf("objects of the parts (-whole +parts):\n%s", d)
			}
		})
	}
}

func TestDocumentsRefuses(t *testing.T) {
	for name, data := range map[string]string{
		"JSON":       `{"apiVersion": "v1", "kind": "Pod"}`,
		"JSON list":  ` [{"apiVersion": "v1"}]`,
		"UTF-8 BOM":  "\xEF\xBB\xBFapiVersion: v1\n",
		"UTF-16 BOM": "\xFF\xFEa\x00",
		// kubectl splits there, but a part starting with that line decodes "---#" as a
		// scalar (found by FuzzDocuments).
		"separator with a comment and no space": "a: 1\n---# b\nc: 2\n",
		"separator and a no-break space":        "a: 1\n---\u00a0\nc: 2\n",
		// kubectl trims any space after "---"; a YAML parser refuses a vertical tab (found
		// by FuzzDocuments), and content after the separator.
		"separator, space and a vertical tab": "a: 1\n--- \v\nc: 2\n",
		"separator and a comment with a NEL":  "a: 1\n--- # x\u0085y\nc: 2\n",
		"separator and content":               "a: 1\n--- c\nd: 2\n",
	} {
		if _, ok := Documents([]byte(data)); ok {
			t.Errorf("%s: Documents accepted it", name)
		}
	}
}
