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
		{Kind: "Pod", Namespace: "default", Name: "web", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "reg/a:v1" + d},
		{Kind: "Pod", Namespace: "default", Name: "web", Path: "/spec/containers/1/image", Old: "reg/b:v1", New: "reg/b:v1" + d},
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
		{"no such object", Edit{Kind: "Pod", Name: "api", Path: "/spec/containers/0/image", Old: "reg/a:v1", New: "y"}, "Pod api: not found"},
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
