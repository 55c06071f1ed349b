package kubewarden

import (
	"encoding/json"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

func isKubewarden(o manifest.Object) bool {
	return IsPolicy(o.APIVersion(), o.Kind()) || IsGroup(o.APIVersion(), o.Kind())
}

// FuzzParse: Parse (a Kubewarden policy or policy group as JSON) never panics; a policy parsed
// names its source, has a name, a known mode and failure policy; a verify-image-signatures
// policy has settings with signatures or says why not.
func FuzzParse(f *testing.F) {
	for _, raw := range fuzzseed.Objects(f, "policies.yaml", isKubewarden) {
		f.Add(raw)
	}
	f.Add([]byte(`{"apiVersion":"policies.kubewarden.io/v1","kind":"AdmissionPolicy","metadata":{"name":"p"},"spec":{"module":"ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11","mutating":false,"mode":"monitor","rules":[{"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"operations":["CREATE"]}],"settings":{"signatures":[{"image":"*","githubActions":{"owner":"acme"}}]}}}`))
	f.Add([]byte(`{"apiVersion":"policies.kubewarden.io/v1","kind":"ClusterAdmissionPolicyGroup","metadata":{"name":"g"},"spec":{"expression":"a() || b()","message":"no","rules":[{"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"operations":["CREATE"]}],"policies":{"a":{"module":"registry://ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.11","settings":{"signatures":[{"image":"*","keylessPrefix":[{"issuer":"https://x","urlPrefix":"https://github.com/acme"}]}]}},"b":{"module":"registry://ghcr.io/kubewarden/policies/pod-privileged:v1"}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		p, err := Parse(raw, "f.yaml:1", "default")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.Source != "f.yaml:1" || p.Name == "" || (p.Mode != "protect" && p.Mode != "monitor") || (p.FailurePolicy != "Fail" && p.FailurePolicy != "Ignore") {
			t.Errorf("Parse = source %q, name %q, mode %q, failurePolicy %q", p.Source, p.Name, p.Mode, p.FailurePolicy)
		}
		if !p.Group && p.VerifyImages && p.SettingsError == "" && (p.Settings == nil || len(p.Settings.Signatures) == 0) {
			t.Errorf("verify-image-signatures policy without signatures and without a settings error")
		}
		_, _ = p.Key(), p.WebhookName()
	})
}

// FuzzParseSettings: ParseSettings (verify-image-signatures' settings) never panics; settings
// read have signatures, each of a known kind.
func FuzzParseSettings(f *testing.F) {
	for _, raw := range fuzzseed.Objects(f, "policies.yaml", isKubewarden) {
		var obj struct {
			Spec struct {
				Settings json.RawMessage `json:"settings"`
				Policies map[string]struct {
					Settings json.RawMessage `json:"settings"`
				} `json:"policies"`
			} `json:"spec"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			continue
		}
		if len(obj.Spec.Settings) > 0 {
			f.Add([]byte(obj.Spec.Settings))
		}
		for _, m := range obj.Spec.Policies {
			if len(m.Settings) > 0 {
				f.Add([]byte(m.Settings))
			}
		}
	}
	f.Add([]byte(`{"modifyImagesWithDigest":false,"signatures":[{"image":"ghcr.io/*","certificates":["x"],"certificateChain":["y"],"requireRekorBundle":true,"annotations":{"a":"b"}}]}`))
	f.Add([]byte(`{"signatures":[{"image":"*","githubActions":{"owner":"acme","repo":"app"}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		s, err := ParseSettings(raw)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(s.Signatures) == 0 {
			t.Fatal("settings read without signatures")
		}
		for i, sig := range s.Signatures {
			switch sig.Kind {
			case KindPubKeys, KindKeyless, KindKeylessPrefix, KindGitHubActions, KindCertificate:
			default:
				t.Errorf("signatures[%d] of kind %q", i, sig.Kind)
			}
			_ = sig.display()
		}
	})
}
