package ivpol_test

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
)

// FuzzParse: an ImageValidatingPolicy (as JSON) never panics the parser or the CEL compiler;
// a refusal names the policy, and what is accepted carries Kyverno's defaults.
func FuzzParse(f *testing.F) {
	for _, doc := range []string{
		valid,
		strings.Replace(valid, "kind: ImageValidatingPolicy", "kind: NamespacedImageValidatingPolicy", 1),
		strings.Replace(valid, "[attestors.k1]) > 0)", "[attestors.k1]) > 0 && image(img).registry() == 'x')", 1),
		strings.Replace(valid, "message: image signature verification failed", "messageExpression: \"'bad ' + object.metadata.name\"", 1),
		strings.Replace(valid, `- glob: "registry.example/test/*"`, `- expression: "ref.startsWith('registry.example/')"`, 1),
	} {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		p, err := ivpol.Parse(raw, "f.yaml:1", "default")
		if err != nil {
			var invalid *ivpol.InvalidError
			if errors.As(err, &invalid) && invalid.Policy == "" {
				t.Fatalf("refusal names no policy: %v", err)
			}
			return
		}
		if p.Name == "" || p.Spec.FailurePolicy == nil || len(p.Spec.ValidationActions) == 0 {
			t.Errorf("accepted without its name or defaults: %+v", p)
		}
		if p.Kind == ivpol.KindNamespaced && p.Namespace == "" {
			t.Errorf("namespaced policy without a namespace")
		}
	})
}
