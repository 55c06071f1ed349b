package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// ConfigMapReader reads the ConfigMaps rule context entries name, from the cluster the run
// reads. An RBAC refusal must satisfy Forbidden: it is ours, not an answer Kyverno (with its
// own service account) would get.
type ConfigMapReader interface {
	// ConfigMap is the object as the API server returns it (JSON data).
	ConfigMap(ctx context.Context, namespace, name string) (map[string]any, error)
	Forbidden(err error) bool
}

// toolError is an error of this replay's making (no cluster to read, no RBAC), never an
// answer Kyverno gives: checks it reaches are tool-caused errors.
type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

// toolCaused reports whether err, however wrapped, is not Kyverno's to give.
func toolCaused(err error) bool {
	var te *toolError
	return errors.Is(err, kyvernocond.ErrNotReplayed) || errors.As(err, &te)
}

// ruleError is the message of a rule error: Kyverno's prefix and error, or, for an error of
// ours, the tool-caused form.
func ruleError(prefix string, err error) string {
	if toolCaused(err) {
		return report.ToolErrorPrefix + err.Error()
	}
	return prefix + err.Error()
}

// configMapLoader is Kyverno's configMap context loader (loaders/configmap.go): name and
// namespace substituted, the namespace defaulted to the policy's (default for a
// ClusterPolicy), another namespace refused to a namespaced Policy, then the ConfigMap's data
// and metadata added under the entry's name. Its error texts are Kyverno's.
func configMapLoader(ctx context.Context, cms ConfigMapReader, entry kpol.ContextEntry, policyNamespace string) func(*kyvernocond.Context) error {
	return func(vars *kyvernocond.Context) error {
		data, err := fetchConfigMap(ctx, cms, vars, entry, policyNamespace)
		if err != nil {
			return fmt.Errorf("failed to retrieve config map for context entry %s: %w", entry.Name, err)
		}
		if err := vars.AddEntry(entry.Name, data); err != nil {
			return fmt.Errorf("failed to add config map for context entry %s: %w", entry.Name, err)
		}
		return nil
	}
}

func fetchConfigMap(ctx context.Context, cms ConfigMapReader, vars *kyvernocond.Context, entry kpol.ContextEntry, policyNamespace string) ([]byte, error) {
	ref := entry.ConfigMap
	str := func(field, value string) (string, error) {
		v, err := vars.Substitute(value)
		if err != nil {
			return "", fmt.Errorf("failed to substitute variables in context %s configMap.%s %s: %w", entry.Name, field, value, err)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("failed to substitute variables in context %s configMap.%s %s: expected string, got %T", entry.Name, field, value, v)
		}
		return s, nil
	}
	name, err := str("name", ref.Name)
	if err != nil {
		return nil, err
	}
	namespace, err := str("namespace", ref.Namespace)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = "default"
		if policyNamespace != "" {
			namespace = policyNamespace
		}
	}
	if policyNamespace != "" && namespace != policyNamespace {
		return nil, fmt.Errorf("context entry %s: configMap namespace %q is different from policy namespace %q", entry.Name, namespace, policyNamespace)
	}
	if cms == nil {
		return nil, &toolError{fmt.Sprintf("context entry %s reads ConfigMap %s/%s from the cluster, and this run reads none (policies and resources both from files)", entry.Name, namespace, name)}
	}
	obj, err := cms.ConfigMap(ctx, namespace, name)
	if err != nil {
		if cms.Forbidden(err) {
			return nil, &toolError{fmt.Sprintf("context entry %s: reading ConfigMap %s/%s: %v", entry.Name, namespace, name, err)}
		}
		return nil, fmt.Errorf("failed to get configmap %s/%s : %v", namespace, name, err)
	}
	// Kyverno adds the typed object's Data (absent: null) and ObjectMeta.
	return json.Marshal(map[string]any{"data": obj["data"], "metadata": obj["metadata"]})
}
