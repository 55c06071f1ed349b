package pin

import "testing"

func TestKustomization(t *testing.T) {
	const d1, d2, d3 = "sha256:1111", "sha256:2222", "sha256:3333"
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
			out, done, err := Kustomization([]byte(tc.in), map[string]string{"reg/app": d1})
			if err != nil || string(out) != tc.want || len(done) != 1 {
				t.Errorf("got %v %v\n%s\nwant\n%s", done, err, out, tc.want)
			}
		})
	}
	out, done, err := Kustomization([]byte("images:\n- name: a\n- name: b\n  digest: x\n"), map[string]string{"a": d1, "b": d2, "c": d3})
	want := "images:\n- name: c\n  digest: sha256:3333\n- name: a\n  digest: sha256:1111\n- name: b\n  digest: sha256:2222\n"
	if err != nil || string(out) != want || len(done) != 3 {
		t.Errorf("several: %v %v\n%s\nwant\n%s", done, err, out, want)
	}
	if _, _, err := Kustomization([]byte("images: [{name: a}]\n"), map[string]string{"a": d1}); err == nil {
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
