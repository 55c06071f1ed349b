package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testPEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEabc\nDEF==\n-----END PUBLIC KEY-----\n"

func testEnv() Env {
	return Env{
		Registry:     "127.0.0.1:5000",
		DeadRegistry: "127.0.0.1:1",
		Digests:      map[string]string{"test/app:signed": "sha256:aaaa", "test/app:unsigned": "sha256:bbbb"},
		PublicKeys:   map[string]string{"k1": testPEM, "k2": "-----BEGIN PUBLIC KEY-----\nK2\n-----END PUBLIC KEY-----"},
		LogKeys:      map[string]string{"r1": "-----BEGIN PUBLIC KEY-----\nR1\n-----END PUBLIC KEY-----\n"},
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring; "" = no error
	}{
		{name: "no placeholders", in: "kind: Pod\n", want: "kind: Pod\n"},
		{name: "registry", in: "image: ${REGISTRY}/test/app:signed\n", want: "image: 127.0.0.1:5000/test/app:signed\n"},
		{name: "dead registry", in: "image: ${DEAD_REGISTRY}/x:v1", want: "image: 127.0.0.1:1/x:v1"},
		{name: "digest", in: "${REGISTRY}/test/app@${DIGEST:test/app:signed}\n", want: "127.0.0.1:5000/test/app@sha256:aaaa\n"},
		{name: "two on one line", in: "a: ${DIGEST:test/app:signed} ${DIGEST:test/app:unsigned}\n", want: "a: sha256:aaaa sha256:bbbb\n"},
		{
			name: "key keeps the placeholder's indentation",
			in:   "publicKeys: |-\n    ${KEY:k1}\nrekor: {}\n",
			want: "publicKeys: |-\n    -----BEGIN PUBLIC KEY-----\n    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEabc\n    DEF==\n    -----END PUBLIC KEY-----\nrekor: {}\n",
		},
		{
			name: "two keys, one without trailing newline",
			in:   "  ${KEY:k2}\n  ${KEY:k1}\n",
			want: "  -----BEGIN PUBLIC KEY-----\n  K2\n  -----END PUBLIC KEY-----\n  -----BEGIN PUBLIC KEY-----\n  MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEabc\n  DEF==\n  -----END PUBLIC KEY-----\n",
		},
		{name: "key at end of text without newline", in: "x:\n  ${KEY:k2}", want: "x:\n  -----BEGIN PUBLIC KEY-----\n  K2\n  -----END PUBLIC KEY-----"},
		{name: "key with trailing spaces", in: "  ${KEY:k2}  \n", want: "  -----BEGIN PUBLIC KEY-----\n  K2\n  -----END PUBLIC KEY-----\n"},
		{name: "crlf line ends are kept", in: "a: ${REGISTRY}\r\nb: 1\r\n", want: "a: 127.0.0.1:5000\r\nb: 1\r\n"},
		{name: "key inline is an error", in: "publicKeys: ${KEY:k1}\n", wantErr: "must be alone on its line"},
		{name: "unknown key", in: "  ${KEY:k9}\n", wantErr: "${KEY:k9}: no such key"},
		{name: "log key", in: "pubkey: |-\n  ${REKOR:r1}\n", want: "pubkey: |-\n  -----BEGIN PUBLIC KEY-----\n  R1\n  -----END PUBLIC KEY-----\n"},
		{name: "log key inline is an error", in: "pubkey: ${REKOR:r1}\n", wantErr: "must be alone on its line"},
		{name: "unknown log", in: "  ${REKOR:r9}\n", wantErr: "${REKOR:r9}: no such rekor"},
		{name: "unknown digest", in: "${DIGEST:test/app:nope}\n", wantErr: "line 1: ${DIGEST:test/app:nope}: no digest"},
		{name: "unknown placeholder", in: "ok\n${NOPE}\n", wantErr: "line 2: ${NOPE}: unknown placeholder"},
		{name: "registry with argument", in: "${REGISTRY:x}", wantErr: "unexpected argument"},
		{name: "all errors are reported", in: "${NOPE}\n${DIGEST:x}\n", wantErr: "line 2"},
		{name: "shell-style $VAR and jmespath braces are left alone", in: "a: $HOME {{ request.object }}\n", want: "a: $HOME {{ request.object }}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Substitute(tc.in, testEnv())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Substitute(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Substitute(%q) error = %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Substitute(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSubstituteMissingEnv(t *testing.T) {
	tests := []struct {
		name string
		env  Env
		in   string
	}{
		{name: "no registry", env: Env{}, in: "${REGISTRY}"},
		{name: "no dead registry", env: Env{Registry: "r"}, in: "${DEAD_REGISTRY}"},
		{name: "nil digests", env: Env{Registry: "r"}, in: "${DIGEST:a:b}"},
		{name: "nil keys", env: Env{Registry: "r"}, in: "${KEY:k1}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Substitute(tc.in, tc.env); err == nil {
				t.Errorf("Substitute(%q) = %q, nil; want an error", tc.in, got)
			}
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "case")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	base := map[string]string{
		ImagesFile:    "keys: [k1]\nimages:\n- ref: test/app:signed\n  sign: [k1]\n- ref: test/app:unsigned\n",
		PoliciesFile:  "kind: ClusterPolicy\n",
		ResourcesFile: "kind: Pod\n",
		ExpectedFile:  "results: []\n",
	}
	with := func(changes map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			if v == "<delete>" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name     string
		files    map[string]string
		wantErr  string
		wantArgs bool
	}{
		{name: "complete", files: base},
		{name: "with args", files: with(map[string]string{ArgsFile: "--enforce\n"}), wantArgs: true},
		{name: "no images.yaml", files: with(map[string]string{ImagesFile: "<delete>"})},
		{name: "empty images.yaml", files: with(map[string]string{ImagesFile: "\n"})},
		{name: "no policies", files: with(map[string]string{PoliciesFile: "<delete>"}), wantErr: PoliciesFile},
		{name: "no resources", files: with(map[string]string{ResourcesFile: "<delete>"}), wantErr: ResourcesFile},
		{name: "no expected", files: with(map[string]string{ExpectedFile: "<delete>"}), wantErr: ExpectedFile},
		{name: "unknown field in images.yaml", files: with(map[string]string{ImagesFile: "images:\n- ref: a:b\n  sgn: [k1]\n"}), wantErr: "unknown field"},
		{name: "bundle signing key not listed", files: with(map[string]string{ImagesFile: "keys: [k1]\nimages:\n- ref: a:b\n  signBundle: [k2]\n"}), wantErr: `signed by "k2"`},
		{name: "signing key not listed", files: with(map[string]string{ImagesFile: "keys: [k1]\nimages:\n- ref: a:b\n  sign: [k2]\n"}), wantErr: `signed by "k2"`},
		{name: "ref without tag", files: with(map[string]string{ImagesFile: "images:\n- ref: test/app\n"}), wantErr: "want repo:tag"},
		{name: "ref listed twice", files: with(map[string]string{ImagesFile: "images:\n- ref: a:b\n- ref: a:b\n"}), wantErr: "listed twice"},
		{name: "key listed twice", files: with(map[string]string{ImagesFile: "keys: [k1, k1]\n"}), wantErr: "listed twice"},
		{name: "logged by an unlisted log", files: with(map[string]string{ImagesFile: "keys: [k1]\nlogs: [r1]\nimages:\n- ref: a:b\n  signDetached: [{key: k1, log: r2}]\n"}), wantErr: `log "r2" is not in logs`},
		{name: "logged by key and identity", files: with(map[string]string{ImagesFile: "keys: [k1]\nlogs: [r1]\nidentities: {i: {subject: s, issuer: x}}\nimages:\n- ref: a:b\n  signDetached: [{key: k1, identity: i, log: r1}]\n"}), wantErr: "give key or identity"},
		{name: "logged at no time", files: with(map[string]string{ImagesFile: "keys: [k1]\nlogs: [r1]\nimages:\n- ref: a:b\n  signDetached: [{key: k1, log: r1, loggedAt: yesterday}]\n"}), wantErr: "neither an RFC 3339 time nor a duration"},
		{name: "identity with an unlisted CT log", files: with(map[string]string{ImagesFile: "identities: {i: {subject: s, issuer: x, sct: c9}}\n"}), wantErr: `identities.i.sct: "c9" is not in ctlogs`},
		{name: "identity valid for no time", files: with(map[string]string{ImagesFile: "identities: {i: {subject: s, issuer: x, validFor: long}}\n"}), wantErr: "identities.i"},
		{name: "attested by an identity", files: with(map[string]string{ImagesFile: "identities: {i: {subject: s, issuer: x}}\nimages:\n- ref: a:b\n  attest: [{identity: i, type: slsaprovenance}]\n"})},
		{name: "attested by an unlisted identity", files: with(map[string]string{ImagesFile: "identities: {i: {subject: s, issuer: x}}\nimages:\n- ref: a:b\n  attest: [{identity: j, type: slsaprovenance}]\n"}), wantErr: `identity "j" is not in identities`},
		{name: "attested by key and identity", files: with(map[string]string{ImagesFile: "keys: [k1]\nidentities: {i: {subject: s, issuer: x}}\nimages:\n- ref: a:b\n  attest: [{key: k1, identity: i, type: slsaprovenance}]\n"}), wantErr: "give key or identity"},
		{name: "attested by nobody", files: with(map[string]string{ImagesFile: "images:\n- ref: a:b\n  attest: [{type: slsaprovenance}]\n"}), wantErr: "give key or identity"},
		{name: "attested by an unlisted key", files: with(map[string]string{ImagesFile: "keys: [k1]\nimages:\n- ref: a:b\n  attest: [{key: k2, type: slsaprovenance}]\n"}), wantErr: `key "k2" must be listed in keys`},
		{name: "attestation without type", files: with(map[string]string{ImagesFile: "keys: [k1]\nimages:\n- ref: a:b\n  attest: [{key: k1}]\n"}), wantErr: "type must be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			sc, err := Load(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if sc.Name != "case" {
				t.Errorf("Load().Name = %q, want %q", sc.Name, "case")
			}
			if got := sc.Args != nil; got != tc.wantArgs {
				t.Errorf("Load().Args present = %v, want %v", got, tc.wantArgs)
			}
		})
	}
}

func TestImageRefParts(t *testing.T) {
	tests := []struct{ ref, repo, tag string }{
		{"test/app:signed", "test/app", "signed"},
		{"app:v1", "app", "v1"},
		{"test/app", "test/app", ""},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			img := Image{Ref: tc.ref}
			if img.Repo() != tc.repo || img.Tag() != tc.tag {
				t.Errorf("Image{%q}.Repo(), Tag() = %q, %q; want %q, %q", tc.ref, img.Repo(), img.Tag(), tc.repo, tc.tag)
			}
		})
	}
}

func TestMaterialize(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		ImagesFile:    "keys: [k1]\nimages:\n- ref: test/app:signed\n  sign: [k1]\n",
		PoliciesFile:  "keys: |-\n  ${KEY:k1}\nrefs: [\"${REGISTRY}/test/*\"]\n",
		ResourcesFile: "image: ${REGISTRY}/test/app:signed\n",
		ExpectedFile:  "exitCode: 0\nresults:\n- resource: {kind: Pod, namespace: default, name: good}\n  checks:\n  - {policy: p, rule: r, result: pass, message: \"verified image signatures for ${REGISTRY}/test/app@${DIGEST:test/app:signed}\"}\n",
		ArgsFile:      "# comment\n--insecure-registry\n${REGISTRY}\n\n--enforce\n",
	})
	sc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	f, err := sc.Materialize(testEnv(), out)
	if err != nil {
		t.Fatalf("Materialize() error = %v", err)
	}
	pol, _ := os.ReadFile(f.Policies)
	if want := "keys: |-\n  -----BEGIN PUBLIC KEY-----\n  MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEabc\n  DEF==\n  -----END PUBLIC KEY-----\nrefs: [\"127.0.0.1:5000/test/*\"]\n"; string(pol) != want {
		t.Errorf("policies.yaml = %q, want %q", pol, want)
	}
	res, _ := os.ReadFile(f.Resources)
	if want := "image: 127.0.0.1:5000/test/app:signed\n"; string(res) != want {
		t.Errorf("resources.yaml = %q, want %q", res, want)
	}
	if diff := cmp.Diff([]string{"--insecure-registry", "127.0.0.1:5000", "--enforce"}, f.Args); diff != "" {
		t.Errorf("Args mismatch (-want +got):\n%s", diff)
	}
	if got, want := f.Expected.Results[0].Checks[0].Message, "verified image signatures for 127.0.0.1:5000/test/app@sha256:aaaa"; got != want {
		t.Errorf("Expected.Results[0].Checks[0].Message = %q, want %q", got, want)
	}
	if f.Expected.ExitCode == nil || *f.Expected.ExitCode != 0 {
		t.Errorf("Expected.ExitCode = %v, want 0", f.Expected.ExitCode)
	}

	// An env that lacks an image's digest or a key is refused before anything is written.
	env := testEnv()
	delete(env.Digests, "test/app:signed")
	if _, err := sc.Materialize(env, t.TempDir()); err == nil || !strings.Contains(err.Error(), `no digest for image "test/app:signed"`) {
		t.Errorf("Materialize(env without digest) error = %v, want a missing-digest error", err)
	}
}

// TestRepositoryScenarios loads every folder under testdata/scenarios and substitutes it for
// a made-up environment: each placeholder resolves and each expected.yaml parses.
func TestRepositoryScenarios(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "scenarios")
	all, err := LoadAll(root)
	if err != nil {
		t.Fatalf("LoadAll(%s) error = %v", root, err)
	}
	if len(all) == 0 {
		t.Fatalf("LoadAll(%s) found no scenario", root)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			env := Env{Registry: "127.0.0.1:5000", DeadRegistry: "127.0.0.1:1", Digests: map[string]string{}, PublicKeys: map[string]string{},
				Roots: testPEM, Certs: map[string]string{}, LogKeys: map[string]string{}, TSAChains: map[string]string{}, CTLogKeys: map[string]string{}, TrustedRoot: "/trusted_root.json"}
			for _, k := range sc.Images.Keys {
				env.PublicKeys[k] = testPEM
			}
			for _, l := range sc.Images.Logs {
				env.LogKeys[l] = testPEM
			}
			for _, l := range sc.Images.TSAs {
				env.TSAChains[l] = testPEM
			}
			for _, l := range sc.Images.CTLogs {
				env.CTLogKeys[l] = testPEM
			}
			for id := range sc.Images.Identities {
				env.Certs[id] = testPEM
			}
			for _, img := range sc.Images.Images {
				env.Digests[img.Ref] = "sha256:" + strings.Repeat("0", 64)
			}
			f, err := sc.Materialize(env, t.TempDir())
			if err != nil {
				t.Fatalf("Materialize() error = %v", err)
			}
			if len(f.Expected.Results) == 0 {
				t.Errorf("expected.yaml lists no results")
			}
			res, err := os.ReadFile(f.Resources)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Objects(res)
			if err != nil {
				t.Fatalf("resources.yaml: %v", err)
			}
			// Every expected result names an object of resources.yaml, and every object but
			// Namespaces has an expected result (the report has one per object).
			have := map[string]bool{}
			for _, o := range objs {
				if o.Kind == "Namespace" {
					continue
				}
				have[ResourceRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}.Key()] = true
			}
			for _, r := range f.Expected.Results {
				if !have[r.Resource.Key()] {
					t.Errorf("expected.yaml: %s is not in resources.yaml", r.Resource.Key())
				}
				delete(have, r.Resource.Key())
			}
			for k := range have {
				t.Errorf("resources.yaml: %s has no entry in expected.yaml", k)
			}
		})
	}
}

func TestParseExpected(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, e Expected)
	}{
		{
			name: "sorted by resource, differential defaults on",
			in:   "results:\n- resource: {kind: Pod, namespace: b, name: x}\n- resource: {kind: Pod, namespace: a, name: x}\n  differential: false\n",
			check: func(t *testing.T, e Expected) {
				if got := e.Results[0].Resource.Key(); got != "Pod/a/x" {
					t.Errorf("Results[0] = %s, want Pod/a/x", got)
				}
				if !e.DifferentialEnabled() {
					t.Errorf("DifferentialEnabled() = false, want true")
				}
				if e.Results[0].DifferentialEnabled() || !e.Results[1].DifferentialEnabled() {
					t.Errorf("per-result DifferentialEnabled() = %v, %v; want false, true", e.Results[0].DifferentialEnabled(), e.Results[1].DifferentialEnabled())
				}
			},
		},
		{
			name: "omitted vs empty",
			in:   "results:\n- resource: {kind: Pod, name: a}\n  message: \"\"\n  warnings: []\n- resource: {kind: Pod, name: b}\n",
			check: func(t *testing.T, e Expected) {
				if e.Results[0].Message == nil || e.Results[0].Warnings == nil {
					t.Errorf("explicit empty message/warnings parsed as omitted")
				}
				if e.Results[1].Message != nil || e.Results[1].Warnings != nil {
					t.Errorf("omitted message/warnings parsed as given")
				}
			},
		},
		{name: "unknown field", in: "results:\n- resource: {kind: Pod, name: a}\n  decison: allow\n", wantErr: "unknown field"}, //nolint:misspell // the typo is the test
		{name: "resource without name", in: "results:\n- resource: {kind: Pod}\n", wantErr: "needs kind and name"},
		{name: "duplicate resource", in: "results:\n- resource: {kind: Pod, name: a}\n- resource: {kind: Pod, name: a}\n", wantErr: "listed twice"},
		{name: "check without result", in: "results:\n- resource: {kind: Pod, name: a}\n  checks:\n  - {policy: p, rule: r}\n", wantErr: "policy and result are required"},
		{
			name:    "mode on some checks only",
			in:      "results:\n- resource: {kind: Pod, name: a}\n  checks:\n  - {policy: p, rule: r, result: pass, mode: enforce}\n  - {policy: p, rule: r, result: pass}\n",
			wantErr: "mode on every check or on none",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseExpected([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseExpected() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpected() error = %v", err)
			}
			tc.check(t, e)
		})
	}
}

func TestNamespaceLabels(t *testing.T) {
	manifest := `# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: secure
  labels:
    verify: "true"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: other
--- # a comment after the separator
# only a comment
---
apiVersion: v1
kind: Pod
metadata:
  name: q
  namespace: secure
`
	got, err := NamespaceLabels([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"secure": {"verify": "true", MetadataNameLabel: "secure"},
		"other":  {MetadataNameLabel: "other"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("NamespaceLabels() mismatch (-want +got):\n%s", d)
	}
	has, err := HasNamespaceObjects([]byte(manifest))
	if err != nil || !has {
		t.Errorf("HasNamespaceObjects() = %v, %v; want true, nil", has, err)
	}
	values, err := KyvernoValues([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	wantValues := `apiVersion: cli.kyverno.io/v1alpha1
kind: Value
metadata:
  name: values
namespaceSelector:
- labels:
    kubernetes.io/metadata.name: other
  name: other
- labels:
    kubernetes.io/metadata.name: secure
    verify: "true"
  name: secure
`
	if string(values) != wantValues {
		t.Errorf("KyvernoValues() = %q, want %q", values, wantValues)
	}
	if _, err := Objects([]byte("metadata: {name: x}\n")); err == nil {
		t.Errorf("Objects(document without kind) error = nil, want an error")
	}
}
