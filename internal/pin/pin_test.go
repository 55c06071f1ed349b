package pin

import (
	"strings"
	"testing"
)

const manifests = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
  namespace: prod
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: "reg/init:v1"   # quoted
      containers:
      - name: app
        image: reg/app:v1
      - {name: side, image: 'reg/side:v1', ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: a, image: reg/a:v1}, {name: b, image: reg/b:v1}]
`

func TestApply(t *testing.T) {
	d := "@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	edits := []Edit{
		{Kind: "Deployment", Namespace: "prod", Name: "web", Path: "/spec/template/spec/containers/0/image", Old: "reg/app:v1", New: "reg/app:v1" + d},
		{Kind: "Deployment", Namespace: "prod", Name: "web", Path: "/spec/template/spec/initContainers/0/image", Old: "reg/init:v1", New: "reg/init:v1" + d},
		{Kind: "Deployment", Namespace: "prod", Name: "web", Path: "/spec/template/spec/containers/1/image", Old: "reg/side:v1", New: "reg/side:v1" + d},
		{Kind: "Pod", Namespace: "default", DefaultNamespace: "default", Name: "web", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "reg/a:v1" + d},
		{Kind: "Pod", Namespace: "default", DefaultNamespace: "default", Name: "web", Path: "/spec/containers/1/image", Old: "reg/b:v1", New: "reg/b:v1" + d},
	}
	out, changes, err := Apply([]byte(manifests), edits)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		`image: "reg/init:v1"`, `image: "reg/init:v1`+d+`"`,
		"image: reg/app:v1\n", "image: reg/app:v1"+d+"\n",
		"image: 'reg/side:v1'", "image: 'reg/side:v1"+d+"'",
		"image: reg/a:v1}", "image: reg/a:v1"+d+"}",
		"image: reg/b:v1}", "image: reg/b:v1"+d+"}",
	).Replace(manifests)
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(changes) != 5 {
		t.Errorf("%d changes, want 5", len(changes))
	}
	diff := Diff("m.yaml", []byte(manifests), out, changes)
	if !strings.Contains(diff, "--- m.yaml\n+++ m.yaml\n@@ -12 +12 @@\n-        image: \"reg/init:v1\"   # quoted\n+        image: \"reg/init:v1"+d+"\"   # quoted\n") {
		t.Errorf("diff:\n%s", diff)
	}
}

func TestApplyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit Edit
		want string
	}{
		{"another value", Edit{Kind: "Pod", Name: "web", Path: "/spec/containers/0/image", Old: "reg/x:v1", New: "y"}, `is "reg/a:v1", not "reg/x:v1"`},
		{"no such object", Edit{Kind: "Pod", Name: "api", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "y"}, "Pod /api: not found"},
		{"no such container", Edit{Kind: "Pod", Name: "web", Path: "/spec/containers/5/image", Old: "reg/a:v1", New: "y"}, "no item 5"},
		{"another namespace", Edit{Kind: "Deployment", Namespace: "dev", Name: "web", Path: "/spec/template/spec/containers/0/image", Old: "reg/app:v1", New: "y"}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Apply([]byte(manifests), []Edit{tc.edit}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestApplyFindsExactly: the namespace an object was evaluated in tells two objects of one
// name apart; List items are objects too; an ambiguous or repeated edit is refused.
func TestApplyFindsExactly(t *testing.T) {
	const two = "kind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: a, image: reg/a:v1}]}\n---\n" +
		"kind: Pod\nmetadata: {name: web, namespace: team}\nspec: {containers: [{name: a, image: reg/a:v1}]}\n"
	out, _, err := Apply([]byte(two), []Edit{{Kind: "Pod", Namespace: "team", DefaultNamespace: "default", Name: "web", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "reg/a:v1@d"}})
	if err != nil || !strings.HasSuffix(string(out), "image: reg/a:v1@d}]}\n") || strings.Count(string(out), "@d") != 1 {
		t.Errorf("team's Pod: %v\n%s", err, out)
	}
	e := Edit{Kind: "Pod", Namespace: "default", DefaultNamespace: "default", Name: "web", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "reg/a:v1@d"}
	if _, _, err := Apply([]byte(two), []Edit{e, e}); err == nil || !strings.Contains(err.Error(), "edited twice") {
		t.Errorf("a repeated edit: %v", err)
	}
	dup := "kind: Pod\nmetadata: {name: web}\nspec: {containers: [{image: reg/a:v1}]}\n---\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{image: reg/a:v1}]}\n"
	if _, _, err := Apply([]byte(dup), []Edit{e}); err == nil || !strings.Contains(err.Error(), "2 objects of that name") {
		t.Errorf("two documents of one name: %v", err)
	}
	list := "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: web, namespace: default}\n  spec:\n    containers:\n    - image: reg/a:v1\n"
	if out, _, err := Apply([]byte(list), []Edit{e}); err != nil || !strings.Contains(string(out), "- image: reg/a:v1@d\n") {
		t.Errorf("a List item: %v\n%s", err, out)
	}
}
