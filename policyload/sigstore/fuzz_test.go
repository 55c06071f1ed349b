package sigstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// FuzzParse: Parse (a ClusterImagePolicy as JSON) never panics; an *InvalidError names the
// policy and the field; a policy parsed names its source, has a name, a mode, and globs that
// compile; applying a compiled entry made of its own spec never panics.
func FuzzParse(f *testing.F) {
	for _, raw := range fuzzseed.Objects(f, "policies.yaml", func(o manifest.Object) bool { return IsClusterImagePolicy(o.APIVersion(), o.Kind()) }) {
		f.Add(raw, true)
		f.Add(raw, false)
	}
	f.Add([]byte(`{"apiVersion":"policy.sigstore.dev/v1beta1","kind":"ClusterImagePolicy","metadata":{"name":"p"},"spec":{"images":[{"glob":"*"}],"authorities":[{"static":{"action":"pass"}}],"mode":"warn"}}`), true)
	f.Add([]byte(`{"apiVersion":"policy.sigstore.dev/v1alpha1","kind":"ClusterImagePolicy","metadata":{"name":"p"},"spec":{"images":[{"glob":"ghcr.io/**"}],"authorities":[]}}`), false)
	f.Fuzz(func(t *testing.T, raw []byte, failOnEmptyAuthorities bool) {
		defer fuzzseed.Watchdog(raw, failOnEmptyAuthorities)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		cfg := DefaultConfig()
		cfg.FailOnEmptyAuthorities = failOnEmptyAuthorities
		p, err := Parse(raw, "f.yaml:1", cfg)
		if err != nil {
			var ie *InvalidError
			if errors.As(err, &ie) && (ie.Policy == "" || ie.Path == "" || ie.Msg == "") {
				t.Fatalf("InvalidError %+v leaves the policy, field or message out", ie)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.Source != "f.yaml:1" || p.Name == "" || (p.Spec.Mode != "enforce" && p.Spec.Mode != "warn") {
			t.Errorf("Parse = source %q, name %q, mode %q", p.Source, p.Name, p.Spec.Mode)
		}
		for _, im := range p.Spec.Images {
			if _, err := CompileGlob(im.Glob); err != nil {
				t.Errorf("glob %q accepted, but it does not compile: %v", im.Glob, err)
			}
		}
		var obj struct {
			Spec json.RawMessage `json:"spec"`
		}
		if json.Unmarshal(raw, &obj) == nil {
			_ = ApplyCompiled(p, obj.Spec)
		}
	})
}

// FuzzParseTrustRoot: ParseTrustRoot never panics, and a TrustRoot read has a name and
// names its source.
func FuzzParseTrustRoot(f *testing.F) {
	for _, raw := range fuzzseed.Objects(f, "policies.yaml", func(o manifest.Object) bool { return IsTrustRoot(o.APIVersion(), o.Kind()) }) {
		f.Add(raw)
	}
	f.Add([]byte(`{"apiVersion":"policy.sigstore.dev/v1alpha1","kind":"TrustRoot","metadata":{"name":"tuf"},"spec":{"remote":{"mirror":"https://tuf.example"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		tr, err := ParseTrustRoot(raw, "f.yaml:1")
		if err != nil {
			return
		}
		if tr.Name == "" || tr.Source != "f.yaml:1" {
			t.Errorf("ParseTrustRoot = name %q, source %q", tr.Name, tr.Source)
		}
	})
}

// FuzzParseConfigFile: reading a `config-policy-controller` ConfigMap file never panics; its
// errors name the file; and the no-match policy read is one the controller knows.
func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\n  namespace: cosign-system\ndata:\n  no-match-policy: warn\n  fail-on-empty-authorities: \"false\"\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"config-policy-controller","namespace":"sigstore"},"data":{"enable-oci11":"true","_example":"# no-match-policy: deny"}}`))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\ndata:\n  enable-oci11: true\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		cfg, _, err := ParseConfigFile(raw, "cm.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cm.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		switch cfg.NoMatchPolicy {
		case "allow", "warn", "deny":
		default:
			t.Errorf("NoMatchPolicy = %q", cfg.NoMatchPolicy)
		}
	})
}
