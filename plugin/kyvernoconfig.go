package plugin

import (
	"fmt"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"k8s.io/cli-runtime/pkg/resource"
)

// loadKyvernoConfig reads --kyverno-config (a ConfigMap manifest); without it, the
// built-in defaults `kyverno apply` uses.
func loadKyvernoConfig(getter resource.RESTClientGetter, path string) (kyverno.Config, []string, error) {
	if path == "" {
		return kyverno.DefaultConfig(), nil, nil
	}
	objs, err := readObjects(getter, []string{path}, false, "", nil)
	if err != nil {
		return kyverno.DefaultConfig(), nil, fmt.Errorf("--kyverno-config: %w", err)
	}
	if len(objs) != 1 || objs[0].Kind() != "ConfigMap" {
		return kyverno.DefaultConfig(), nil, fmt.Errorf("--kyverno-config %s: expected one ConfigMap", path)
	}
	cfg, warnings := kpol.ParseConfig(configMapData(objs[0].Obj), objs[0].Source)
	return cfg, warnings, nil
}

// configMapData is a ConfigMap's data as strings.
func configMapData(obj map[string]any) map[string]string {
	raw, _ := obj["data"].(map[string]any)
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// loadSigstoreConfig reads --sigstore-config (the config-policy-controller ConfigMap
// manifest); without it, policy-controller's defaults (no-match-policy deny). namespace is
// policy-controller's (--sigstore-namespace).
func loadSigstoreConfig(getter resource.RESTClientGetter, path, namespace string) (spol.Config, []string, error) {
	def := spol.DefaultConfig()
	def.Namespace = namespace
	if path == "" {
		return def, nil, nil
	}
	objs, err := readObjects(getter, []string{path}, false, "", nil)
	if err != nil {
		return def, nil, fmt.Errorf("--sigstore-config: %w", err)
	}
	if len(objs) != 1 || objs[0].Kind() != "ConfigMap" {
		return def, nil, fmt.Errorf("--sigstore-config %s: expected one ConfigMap", path)
	}
	cfg, warnings := spol.ParseConfig(configMapData(objs[0].Obj), objs[0].Source)
	cfg.Namespace = namespace
	return cfg, warnings, nil
}
