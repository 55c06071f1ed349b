package pin

import "testing"

func TestKustomization(t *testing.T) {
	const d1, d2, d3 = "sha256:1111", "sha256:2222", "sha256:3333"
	p1 := map[string]KustomizePin{"reg/app": {Digest: d1}}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"an entry without digest gets one under its name",
			"resources: [deploy.yaml]\n# pinned images\nimages:\n- name: reg/app   # the app\n  newTag: v1\n",
			"resources: [deploy.yaml]\n# pinned images\nimages:\n- name: reg/app   # the app\n  digest: sha256:1111\n  newTag: v1\n"},
		{"an entry with a digest gets the new one",
			"images:\n  - name: reg/app\n    digest: \"sha256:0000\"\n",
			"images:\n  - name: reg/app\n    digest: \"sha256:1111\"\n"},
		{"the entry that renders the name (newName)",
			"images:\n- name: app\n  newName: reg/app\n",
			"images:\n- name: app\n  digest: sha256:1111\n  newName: reg/app\n"},
		{"no entry: one is added before the others",
			"images:\n  - name: other\n    newTag: v2\n",
			"images:\n  - name: reg/app\n    digest: sha256:1111\n  - name: other\n    newTag: v2\n"},
		{"no images at all",
			"resources:\n- deploy.yaml",
			"resources:\n- deploy.yaml\nimages:\n- name: reg/app\n  digest: sha256:1111\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, done, err := Kustomization([]byte(tc.in), p1)
			if err != nil || string(out) != tc.want || len(done) != 1 {
				t.Errorf("got %v %v\n%s\nwant\n%s", done, err, out, tc.want)
			}
		})
	}
	out, done, err := Kustomization([]byte("images:\n- name: a\n- name: b\n  digest: x\n"), map[string]KustomizePin{"a": {Digest: d1}, "b": {Digest: d2}, "c": {Digest: d3}})
	want := "images:\n- name: c\n  digest: sha256:3333\n- name: a\n  digest: sha256:1111\n- name: b\n  digest: sha256:2222\n"
	if err != nil || string(out) != want || len(done) != 3 {
		t.Errorf("several: %v %v\n%s\nwant\n%s", done, err, out, want)
	}
	if _, _, err := Kustomization([]byte("images: [{name: a}]\n"), map[string]KustomizePin{"a": {Digest: d1}}); err == nil {
		t.Error("a flow sequence was rewritten")
	}
	for in, want := range map[string]string{"reg:5000/app:v1@sha256:1": "reg:5000/app", "app": "app", "reg/app:v1": "reg/app"} {
		if got := ImageName(in); got != want {
			t.Errorf("ImageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLinesDiff(t *testing.T) {
	before := "images:\n- name: a\n  newTag: v1\n- name: b\n  digest: x\n"
	after := "images:\n- name: a\n  digest: sha256:1\n  newTag: v1\n- name: b\n  digest: y\n"
	want := "--- k.yaml\n+++ k.yaml\n@@ -2,0 +3,1 @@\n+  digest: sha256:1\n@@ -5,1 +6,1 @@\n-  digest: x\n+  digest: y\n"
	if got := LinesDiff("k.yaml", []byte(before), []byte(after)); got != want {
		t.Errorf("diff:\n%s\nwant\n%s", got, want)
	}
	if got := LinesDiff("k.yaml", []byte(before), []byte(before)); got != "" {
		t.Errorf("no change gave %q", got)
	}
}

// TestKustomizationTagAndLayout: the rendered tag is kept (newTag added where the entry has
// none), CRLF files keep CRLF, and new entries follow the file's dash indentation.
func TestKustomizationTagAndLayout(t *testing.T) {
	pins := map[string]KustomizePin{"reg/app": {Digest: "sha256:1111", Tag: "1.0"}}
	out, _, err := Kustomization([]byte("images:\r\n- name: reg/app\r\n"), pins)
	if want := "images:\r\n- name: reg/app\r\n  newTag: \"1.0\"\r\n  digest: sha256:1111\r\n"; err != nil || string(out) != want {
		t.Errorf("CRLF: %v\n%q\nwant\n%q", err, out, want)
	}
	out, _, err = Kustomization([]byte("images:\n  -   name: other\n      newTag: v2\n"), pins)
	if want := "images:\n  -   name: reg/app\n      newTag: \"1.0\"\n      digest: sha256:1111\n  -   name: other\n      newTag: v2\n"; err != nil || string(out) != want {
		t.Errorf("indentation: %v\n%s\nwant\n%s", err, out, want)
	}
	for in, want := range map[string]string{"reg:5000/app:v1@sha256:1": "v1", "app": "", "reg:5000/app": ""} {
		if got := ImageTag(in); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", in, got, want)
		}
	}
}
