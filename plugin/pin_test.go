package plugin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// TestPin: pin rewrites only the verified image's value in place (comments, layout and the
// unverified image untouched, reported); --dry-run prints the diff and writes nothing; the
// exit code is simulate's.
func TestPin(t *testing.T) {
	dir, _, pod := fixture(t)
	image := pod[strings.Index(pod, "image: ")+len("image: ") : strings.LastIndex(pod, "}")]
	missing := strings.Replace(image, ":v1", ":missing", 1)
	manifests := "# two pods\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web   # the app\nspec:\n  containers:\n  - name: app\n    image: " + image + "\n" +
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec:\n  containers:\n  - {name: app, image: \"" + missing + "\"}\n"
	file := filepath.Join(dir, "pods.yaml")
	write(t, file, manifests)
	policy := filepath.Join(dir, "policy.yaml")

	out, stderr, code := run(t, "", "pin", "--policy", policy, "-f", file, "--dry-run")
	if code != 1 {
		t.Fatalf("dry run: exit %d, want 1 (Pod other is denied): %s", code, stderr)
	}
	if got, _ := os.ReadFile(file); string(got) != manifests {
		t.Fatalf("--dry-run wrote the file:\n%s", got)
	}
	if !strings.Contains(out, "--- "+file+"\n+++ "+file+"\n@@ -9 +9 @@\n-    image: "+image+"\n+    image: "+image+"@sha256:") {
		t.Errorf("dry run printed:\n%s", out)
	}
	if !strings.Contains(stderr, "left alone: "+file+":") || !strings.Contains(stderr, "Pod/other "+missing+": verification error") {
		t.Errorf("stderr does not report the unverified image:\n%s", stderr)
	}

	out, stderr, code = run(t, "", "pin", "--policy", policy, "-f", file)
	if code != 1 || !strings.Contains(out, file+": 1 image(s) pinned") {
		t.Fatalf("pin: exit %d\n%s\n%s", code, out, stderr)
	}
	got, _ := os.ReadFile(file)
	digestAt := strings.Index(string(got), image+"@sha256:")
	if digestAt < 0 {
		t.Fatalf("not pinned:\n%s", got)
	}
	pinned := string(got)[digestAt : digestAt+len(image)+len("@sha256:")+64]
	if want := strings.Replace(manifests, "image: "+image+"\n", "image: "+pinned+"\n", 1); string(got) != want {
		t.Errorf("the file changed beyond the image:\n%s\nwant\n%s", got, want)
	}

	// Pinned already: nothing more to do.
	if out, _, _ = run(t, "", "pin", "--policy", policy, "-f", file); strings.Contains(out, "pinned") {
		t.Errorf("a second pin rewrote again:\n%s", out)
	}
	if code, msg := errorOf(t, "", "pin", "--policy", policy, "-f", "-"); code != 2 || !strings.Contains(msg, "not a local file") {
		t.Errorf("pin -f - = exit %d %q, want 2", code, msg)
	}
}

// TestPinKustomize: with -k the kustomization's images entries get the digest; its bases
// are not touched.
func TestPinKustomize(t *testing.T) {
	dir, _, pod := fixture(t)
	image := pod[strings.Index(pod, "image: ")+len("image: ") : strings.LastIndex(pod, "}")]
	name := image[:strings.LastIndex(image, ":")]
	kustomization := "# the app\nresources: [pod.yaml]\nimages:\n- name: " + name + "   # ours\n  newTag: v1\n"
	write(t, filepath.Join(dir, "kustomization.yaml"), kustomization)
	out, stderr, code := run(t, "", "pin", "--policy", filepath.Join(dir, "policy.yaml"), "-k", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "@@ -4,0 +5,1 @@\n+  digest: sha256:") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code = run(t, "", "pin", "--policy", filepath.Join(dir, "policy.yaml"), "-k", dir); code != 0 {
		t.Fatalf("pin -k: exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if !strings.HasPrefix(string(got), "# the app\nresources: [pod.yaml]\nimages:\n- name: "+name+"   # ours\n  digest: sha256:") || !strings.HasSuffix(string(got), "\n  newTag: v1\n") {
		t.Errorf("kustomization.yaml:\n%s", got)
	}
	if base, _ := os.ReadFile(filepath.Join(dir, "pod.yaml")); string(base) != pod {
		t.Errorf("the base changed:\n%s", base)
	}
}

// TestPinKustomizeSharedName: the images transformer pins every image of a name, so a name
// one unverified image uses is left alone, and reported.
func TestPinKustomizeSharedName(t *testing.T) {
	dir, _, pod := fixture(t)
	image := pod[strings.Index(pod, "image: ")+len("image: ") : strings.LastIndex(pod, "}")]
	other := strings.Replace(strings.Replace(pod, "name: web", "name: other", 1), ":v1}", ":v2}", 1)
	write(t, filepath.Join(dir, "other.yaml"), other)
	kustomization := "resources: [pod.yaml, other.yaml]\n"
	write(t, filepath.Join(dir, "kustomization.yaml"), kustomization)
	_, stderr, code := run(t, "", "pin", "--policy", filepath.Join(dir, "policy.yaml"), "-k", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (Pod other is denied): %s", code, stderr)
	}
	name := image[:strings.LastIndex(image, ":")]
	if !strings.Contains(stderr, "left alone: kustomize:"+dir+" "+name+": Pod/other uses it: verification") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); string(got) != kustomization {
		t.Errorf("kustomization.yaml rewritten:\n%s", got)
	}
}

// TestPinAllAndRecursive: --all pins what resolves though no policy checks it; -R finds the
// files below a directory.
func TestPinAllAndRecursive(t *testing.T) {
	dir, _, pod := fixture(t)
	image := pod[strings.Index(pod, "image: ")+len("image: ") : strings.LastIndex(pod, "}")]
	tree := t.TempDir()
	sub := filepath.Join(tree, "apps", "web")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// No policy selects this image: only --all pins it.
	noPolicy := filepath.Join(dir, "none.yaml")
	policy, err := os.ReadFile(filepath.Join(dir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(policy), "imageReferences: [\"")
	j := strings.Index(string(policy)[i:], "\"]")
	write(t, noPolicy, string(policy)[:i]+"imageReferences: [\"elsewhere.example/*"+string(policy)[i+j:])
	file := filepath.Join(sub, "pod.yaml")
	write(t, file, pod)
	if out, stderr, code := run(t, "", "pin", "--policy", noPolicy, "-f", tree, "-R"); code == 2 || strings.Contains(out, "pinned") {
		t.Fatalf("without --all: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code := run(t, "", "pin", "--policy", noPolicy, "-f", tree, "-R", "--all")
	if code != 0 || !strings.Contains(out, file+": 1 image(s) pinned") {
		t.Fatalf("--all: exit %d\n%s\n%s", code, out, stderr)
	}
	if got, _ := os.ReadFile(file); !strings.Contains(string(got), image+"@sha256:") {
		t.Errorf("not pinned:\n%s", got)
	}
}

// TestPinImageValidating: an image an ImageValidatingPolicy passes is pinned, though its check
// (one for all the images the policy selects) names no digest; an image it fails is not.
func TestPinImageValidating(t *testing.T) {
	reg := verifytest.NewRegistry(false)
	t.Cleanup(reg.Close)
	key, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	signed, unsigned := reg.Host+"/iv/app:v1", reg.Host+"/iv/other:v1"
	for _, ref := range []string{signed, unsigned} {
		if _, err := verifytest.Push(ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := verifytest.Sign(signed, key); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "ivpol.yaml")
	write(t, policy, `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: check-image}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchImageReferences: [{glob: "`+reg.Host+`/*"}]
  validationConfigurations: {verifyDigest: false}
  attestors:
  - name: k1
    cosign:
      key:
        data: |-
          `+strings.ReplaceAll(strings.TrimSpace(key.PublicPEM), "\n", "\n          ")+`
      ctlog: {insecureIgnoreTlog: true}
  validations:
  - expression: "images.containers.all(i, verifyImageSignatures(i, [attestors.k1]) > 0)"
    message: not signed
`)
	file := filepath.Join(dir, "pods.yaml")
	manifests := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers:\n  - {name: app, image: " + signed + "}\n" +
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default}\nspec:\n  containers:\n  - {name: app, image: " + unsigned + "}\n"
	write(t, file, manifests)
	out, stderr, code := run(t, "", "pin", "--policy", policy, "-f", file)
	if code != 1 || !strings.Contains(out, file+": 1 image(s) pinned") || !strings.Contains(stderr, "Pod/other "+unsigned+": verification fail") {
		t.Fatalf("pin: exit %d\n%s\n%s", code, out, stderr)
	}
	got, _ := os.ReadFile(file)
	if !strings.Contains(string(got), "image: "+signed+"@sha256:") || strings.Contains(string(got), unsigned+"@") {
		t.Errorf("pinned file:\n%s", got)
	}
}
