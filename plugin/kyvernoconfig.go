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

// sigstoreConfigFile is what --sigstore-config gave: policy-controller's settings
// (config-policy-controller) and/or its compiled policies (config-image-policies).
type sigstoreConfigFile struct {
	spol.Config
	// settings is whether config-policy-controller was given: otherwise the cluster's (or the
	// defaults) stand.
	settings bool
}

// loadSigstoreConfig reads --sigstore-config: a file of policy-controller's ConfigMaps,
// config-policy-controller (no-match-policy, ...) and config-image-policies (the policies its
// webhook enforces, with keys and policies inlined: how KMS keys and remote policies are
// given offline), either or both. Without it, policy-controller's defaults (no-match-policy
// deny). namespace is policy-controller's (--sigstore-namespace).
func loadSigstoreConfig(getter resource.RESTClientGetter, path, namespace string) (sigstoreConfigFile, []string, error) {
	out := sigstoreConfigFile{Config: spol.DefaultConfig()}
	out.Namespace = namespace
	if path == "" {
		return out, nil, nil
	}
	objs, err := readObjects(getter, []string{path}, false, "", nil)
	if err != nil {
		return out, nil, fmt.Errorf("--sigstore-config: %w", err)
	}
	var warnings []string
	seen := map[string]bool{}
	for _, o := range objs {
		if o.Kind() != "ConfigMap" || (o.Name() != "config-policy-controller" && o.Name() != spol.ConfigMapCompiled) || seen[o.Name()] {
			return out, nil, fmt.Errorf("--sigstore-config %s: %s %s: expected the ConfigMaps config-policy-controller and/or %s, each once", o.Source, o.Kind(), o.Name(), spol.ConfigMapCompiled)
		}
		seen[o.Name()] = true
		if o.Name() == spol.ConfigMapCompiled {
			out.Compiled = spol.CompiledFrom(configMapData(o.Obj), o.Source+" ConfigMap "+spol.ConfigMapCompiled)
			continue
		}
		compiled := out.Compiled
		out.Config, warnings = spol.ParseConfig(configMapData(o.Obj), o.Source)
		out.Namespace, out.Compiled, out.settings = namespace, compiled, true
	}
	if len(objs) == 0 {
		return out, nil, fmt.Errorf("--sigstore-config %s: no ConfigMap in it", path)
	}
	return out, warnings, nil
}
