package kyverno

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Config is the `kyverno` ConfigMap as it shapes verifyImages admission
// (pkg/config/config.go load).
type Config struct {
	// Namespace is where Kyverno runs, and reads imageRegistryCredentials.secrets from.
	Namespace                     string
	DefaultRegistry               string
	EnableDefaultRegistryMutation bool
	// ResourceFilters are requests Kyverno's webhooks never evaluate (admission only; the
	// CLI has none).
	ResourceFilters []ConfigFilter
	// WebhookNamespaceSelector is the `webhooks` key's namespaceSelector: requests from
	// namespaces it does not select never reach Kyverno.
	WebhookNamespaceSelector *LabelSelector
}

// DefaultConfig is what `kyverno apply` uses (NewDefaultConfiguration): no filters.
func DefaultConfig() Config {
	return Config{Namespace: "kyverno", DefaultRegistry: "docker.io", EnableDefaultRegistryMutation: true}
}

// ConfigFilter is one resourceFilters [Kind,Namespace,Name] entry, with the kind parsed as
// ParseKindSelector does.
type ConfigFilter struct {
	Group, Version, Kind, Subresource string
	Namespace, Name                   string
}

var filterRegex = regexp.MustCompile(`\[([^\[\]]*)\]`)
var versionRegex = regexp.MustCompile(`^v\d+((alpha|beta)\d+)?$`)

// replayedConfigKeys are read; the others are reported as not replayed.
var replayedConfigKeys = map[string]bool{"defaultRegistry": true, "enableDefaultRegistryMutation": true, "resourceFilters": true, "webhooks": true}

// requesterKeys depend on who makes the request, which is unknown offline.
var requesterKeys = map[string]bool{"excludeGroups": true, "excludeUsernames": true, "excludeRoles": true, "excludeClusterRoles": true}

// ParseConfig reads the ConfigMap data; warnings name keys that are not replayed.
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
		case "defaultRegistry":
			cfg.DefaultRegistry = v
		case "enableDefaultRegistryMutation":
			cfg.EnableDefaultRegistryMutation = v != "false"
		case "resourceFilters":
			cfg.ResourceFilters = parseFilters(v)
		case "webhooks":
			var hooks []struct {
				NamespaceSelector *LabelSelector `json:"namespaceSelector"`
			}
			if err := json.Unmarshal([]byte(v), &hooks); err != nil {
				warnings = append(warnings, fmt.Sprintf("%s: key %q does not parse (Kyverno ignores it too): %v", source, k, err))
			} else if len(hooks) > 0 {
				cfg.WebhookNamespaceSelector = hooks[0].NamespaceSelector
			}
		default:
			switch {
			case requesterKeys[k] && strings.TrimSpace(v) != "":
				warnings = append(warnings, fmt.Sprintf("%s: key %q is not replayed: the requester is unknown offline", source, k))
			case !replayedConfigKeys[k] && !requesterKeys[k]:
				warnings = append(warnings, fmt.Sprintf("%s: key %q is not replayed", source, k))
			}
		}
	}
	return cfg, warnings
}

func parseFilters(in string) []ConfigFilter {
	var out []ConfigFilter
	for _, m := range filterRegex.FindAllString(in, -1) {
		parts := strings.Split(strings.Trim(m, "[]"), ",")
		var kind, ns, name string
		switch len(parts) {
		case 3:
			kind, ns, name = parts[0], parts[1], parts[2]
		case 2:
			kind, ns = parts[0], parts[1]
		case 1:
			kind = parts[0]
		}
		if kind == "" {
			out = append(out, ConfigFilter{})
			continue
		}
		g, v, k, s := parseKindSelector(kind)
		out = append(out, ConfigFilter{Group: g, Version: v, Kind: k, Subresource: s, Namespace: ns, Name: name})
	}
	return out
}

// parseKindSelector is ParseKindSelector (pkg/utils/kube/kind.go).
func parseKindSelector(input string) (group, version, kind, sub string) {
	parts := strings.Split(input, "/")
	parts = append(parts[:len(parts)-1], strings.Split(parts[len(parts)-1], ".")...)
	switch len(parts) {
	case 1:
		return "*", "*", parts[0], ""
	case 2:
		if parts[0] == "*" && parts[1] == "*" {
			return "*", "*", "*", "*"
		}
		if parts[0] == "*" && strings.ToLower(parts[1]) == parts[1] {
			return "*", "*", parts[0], parts[1]
		}
		if versionRegex.MatchString(parts[0]) {
			return "*", parts[0], parts[1], ""
		}
		return "*", "*", parts[0], parts[1]
	case 3:
		if versionRegex.MatchString(parts[0]) {
			return "*", parts[0], parts[1], parts[2]
		}
		return parts[0], parts[1], parts[2], ""
	default:
		return parts[0], parts[1], parts[2], parts[3]
	}
}
