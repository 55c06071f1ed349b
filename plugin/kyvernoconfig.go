package plugin

import (
	"fmt"
	"sort"

	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"k8s.io/cli-runtime/pkg/resource"
)

// replayedKyvernoKeys are the `kyverno` ConfigMap keys that change a verifyImages replay.
var replayedKyvernoKeys = map[string]bool{"defaultRegistry": true, "enableDefaultRegistryMutation": true}

// loadKyvernoConfig reads --kyverno-config (a ConfigMap manifest); without it, the
// built-in defaults `kyverno apply` uses.
func loadKyvernoConfig(getter resource.RESTClientGetter, path string) (kyverno.Config, []string, error) {
	cfg := kyverno.DefaultConfig()
	if path == "" {
		return cfg, nil, nil
	}
	objs, err := readObjects(getter, []string{path}, false, "", nil)
	if err != nil {
		return cfg, nil, fmt.Errorf("--kyverno-config: %w", err)
	}
	if len(objs) != 1 || objs[0].Kind() != "ConfigMap" {
		return cfg, nil, fmt.Errorf("--kyverno-config %s: expected one ConfigMap", path)
	}
	data, _ := objs[0].Obj["data"].(map[string]any)
	var warnings []string
	var keys []string
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(data[k])
		switch k {
		case "defaultRegistry":
			cfg.DefaultRegistry = v
		case "enableDefaultRegistryMutation":
			cfg.EnableDefaultRegistryMutation = v != "false"
		}
		if !replayedKyvernoKeys[k] {
			warnings = append(warnings, fmt.Sprintf("%s: key %q is not replayed", objs[0].Source, k))
		}
	}
	return cfg, warnings, nil
}
