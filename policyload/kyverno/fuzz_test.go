package kyverno

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/fuzzseed"
	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// FuzzParse: Parse (a policy object as JSON, from a file or the cluster) never panics; an
// *InvalidError names the field, and the policy when its kind is one Parse is given; a policy parsed names its source, has a name,
// a valid failure action and rules, and a Policy has a namespace.
func FuzzParse(f *testing.F) {
	for _, raw := range fuzzseed.Objects(f, "policies.yaml", func(o manifest.Object) bool { return IsKyvernoPolicy(o.APIVersion(), o.Kind()) }) {
		f.Add(raw)
	}
	f.Add([]byte(`{"apiVersion":"kyverno.io/v1","kind":"Policy","metadata":{"name":"p"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"image":"ghcr.io/*","key":"` + jsonPEM + `"}]}]}}`))
	f.Add([]byte(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"count":2,"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}]}]}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer fuzzseed.Watchdog(raw)()
		if len(raw) > fuzzseed.MaxInput {
			t.Skip("input over 64 KiB")
		}
		p, err := Parse(raw, "f.yaml:1", "default")
		if err != nil {
			// Callers hand Parse only what IsKyvernoPolicy recognizes; the policy's kind
			// then starts every InvalidError.
			var obj object
			_ = json.Unmarshal(raw, &obj)
			var ie *InvalidError
			if errors.As(err, &ie) && ((IsKyvernoPolicy(obj.APIVersion, obj.Kind) && ie.Policy == "") || ie.Path == "" || ie.Msg == "") {
				t.Fatalf("InvalidError %+v leaves the policy, field or message out", ie)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p.Source != "f.yaml:1" || p.Name == "" || len(p.Spec.Rules) == 0 || !validAction(p.Spec.ValidationFailureAction) {
			t.Errorf("Parse = source %q, name %q, %d rules, action %q", p.Source, p.Name, len(p.Spec.Rules), p.Spec.ValidationFailureAction)
		}
		if p.Kind == "Policy" && p.Namespace == "" {
			t.Errorf("Policy %s without a namespace", p.Name)
		}
	})
}

// FuzzParseConfig: reading the `kyverno` ConfigMap never panics, and each [kind,ns,name]
// group of resourceFilters is one filter.
func FuzzParseConfig(f *testing.F) {
	f.Add("docker.io", "true", "[Event,*,*][*/binding,*,*][*,kube-system,*][apps/v1/Deployment.scale,ns,name][]", `[{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}}]`)
	f.Add("ghcr.io", "false", "[v1/Pod/status][*/*][Pod,default]", "not json")
	f.Fuzz(func(t *testing.T, registry, mutation, filters, webhooks string) {
		defer fuzzseed.Watchdog(registry, mutation, filters, webhooks)()
		cfg, _ := ParseConfig(map[string]string{"defaultRegistry": registry, "enableDefaultRegistryMutation": mutation,
			"resourceFilters": filters, "webhooks": webhooks, "excludeGroups": filters}, "kyverno.yaml")
		if want := len(filterRegex.FindAllString(filters, -1)); len(cfg.ResourceFilters) != want {
			t.Errorf("%d filters from %q, want %d", len(cfg.ResourceFilters), filters, want)
		}
		if cfg.DefaultRegistry != registry {
			t.Errorf("DefaultRegistry = %q, want %q", cfg.DefaultRegistry, registry)
		}
	})
}

const jsonPEM = `-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM\n5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==\n-----END PUBLIC KEY-----`
