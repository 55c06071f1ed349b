package sigstore

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

// ConfigMapName is the ConfigMap the controller reads its configuration from.
const ConfigMapName = "config-policy-controller"

const (
	keyNoMatchPolicy          = "no-match-policy"
	keyFailOnEmptyAuthorities = "fail-on-empty-authorities"
	keyEnableOCI11            = "enable-oci11"
)

// ParseConfig reads the `config-policy-controller` ConfigMap data as pkg/config/store.go
// does; warnings name keys it does not know and values it reads differently than written.
//
// A boolean key that strconv.ParseBool refuses makes the controller refuse the whole
// ConfigMap (knative's config store: fatal at start, the previous configuration kept on an
// update). Offline the previous one is unknown, so the defaults stand in for it.
func ParseConfig(data map[string]string, source string) (Config, []string) {
	cfg := DefaultConfig()
	var warnings []string
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := data[k]
		switch k {
		case keyNoMatchPolicy:
			switch v {
			case "allow", "warn", "deny":
				cfg.NoMatchPolicy = v
			default:
				cfg.NoMatchPolicy = "deny"
				warnings = append(warnings, fmt.Sprintf("%s: %s %q is not allow, warn or deny: the controller reads it as deny", source, k, v))
			}
		case keyFailOnEmptyAuthorities, keyEnableOCI11:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return DefaultConfig(), append(warnings, fmt.Sprintf("%s: %s %q is not a boolean: policy-controller refuses the whole ConfigMap (it does not start with it, and keeps its previous configuration on an update); the defaults are used", source, k, v))
			}
			if k == keyEnableOCI11 {
				cfg.EnableOCI11 = b
			} else {
				cfg.FailOnEmptyAuthorities = b
			}
		case "_example":
			// The shipped ConfigMap's documentation block.
		default:
			warnings = append(warnings, fmt.Sprintf("%s: key %q is not one policy-controller reads", source, k))
		}
	}
	return cfg, warnings
}

// ParseConfigFile reads a ConfigMap manifest (YAML or JSON, one object) holding the
// controller's configuration. Its metadata.namespace, when set, is taken as the controller's.
func ParseConfigFile(raw []byte, source string) (Config, []string, error) {
	objs, err := manifest.Parse(raw, source)
	if err != nil {
		return DefaultConfig(), nil, err
	}
	if len(objs) != 1 {
		return DefaultConfig(), nil, fmt.Errorf("%s: expected one ConfigMap, found %d objects", source, len(objs))
	}
	o := objs[0]
	if o.APIVersion() != "v1" || o.Kind() != "ConfigMap" {
		return DefaultConfig(), nil, fmt.Errorf("%s: expected a v1 ConfigMap, found %s %s", o.Source, o.APIVersion(), o.Kind())
	}
	data := map[string]string{}
	if rawData, ok := o.Obj["data"]; ok && rawData != nil {
		m, ok := rawData.(map[string]any)
		if !ok {
			return DefaultConfig(), nil, fmt.Errorf("%s: ConfigMap data is not a map", o.Source)
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return DefaultConfig(), nil, fmt.Errorf("%s: ConfigMap data.%s is not a string (quote it: the API server accepts only strings)", o.Source, k)
			}
			data[k] = s
		}
	}
	var warnings []string
	if o.Name() != ConfigMapName {
		warnings = append(warnings, fmt.Sprintf("%s: ConfigMap %q is read as policy-controller's configuration, which the controller reads from %q", o.Source, o.Name(), ConfigMapName))
	}
	cfg, more := ParseConfig(data, o.Source)
	if ns := o.Namespace(); ns != "" {
		cfg.Namespace = ns
	}
	return cfg, append(warnings, more...), nil
}
