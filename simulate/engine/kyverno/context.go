package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

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

// kyvernosAnswer reports whether an API error is one Kyverno, asking the same API server,
// would get too: a status the server answered below 500. A refusal of our rights, a
// server fault or a network or context error is this run's, not a Kyverno answer.
func kyvernosAnswer(err error, forbidden func(error) bool) bool {
	var st apierrors.APIStatus
	if forbidden(err) || !errors.As(err, &st) {
		return false
	}
	code := st.Status().Code
	return code > 0 && code < 500
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
		if !kyvernosAnswer(err, cms.Forbidden) {
			return nil, &toolError{fmt.Sprintf("context entry %s: reading ConfigMap %s/%s: %v", entry.Name, namespace, name, err)}
		}
		return nil, fmt.Errorf("failed to get configmap %s/%s : %v", namespace, name, err)
	}
	// Kyverno adds the typed object's Data (absent: null) and ObjectMeta.
	return json.Marshal(map[string]any{"data": obj["data"], "metadata": obj["metadata"]})
}

// APIReader makes the API server requests apiCall context entries ask for (GET only: the
// replay never writes). An RBAC refusal must satisfy Forbidden.
type APIReader interface {
	// Get is a GET of an absolute request URI (path and query), the response body as is.
	Get(ctx context.Context, uri string) ([]byte, error)
	Forbidden(err error) bool
}

// namespacePath finds the namespace an API path names (Kyverno's namespacePathRegex).
var namespacePath = regexp.MustCompile(`^/api(s)?/.*?/namespaces/([^/]+)/?.*$`)

// apiCallLoader is Kyverno's apiCall context loader (loaders/apicall.go, apicall/) for an
// urlPath entry: the call substituted, a namespaced Policy held to its namespace, the GET,
// the default when the call fails, then the response (narrowed by the JMESPath) added under
// the entry's name. Its error texts are Kyverno's.
func apiCallLoader(ctx context.Context, api APIReader, entry kpol.ContextEntry, policyNamespace string) func(*kyvernocond.Context) error {
	return func(vars *kyvernocond.Context) error {
		data, err := fetchAPICall(ctx, api, vars, entry, policyNamespace)
		if err != nil {
			return fmt.Errorf("failed to fetch data for APICall: %w", err)
		}
		if err := storeAPICall(vars, entry, data); err != nil {
			return fmt.Errorf("failed to store data for APICall: %w", err)
		}
		return nil
	}
}

func fetchAPICall(ctx context.Context, api APIReader, vars *kyvernocond.Context, entry kpol.ContextEntry, policyNamespace string) ([]byte, error) {
	orig := entry.APICall
	var doc any
	raw, err := json.Marshal(orig)
	if err == nil {
		err = json.Unmarshal(raw, &doc)
	}
	if err == nil {
		doc, err = vars.Substitute(doc)
	}
	var call kpol.APICall
	if err == nil {
		raw, err = json.Marshal(doc)
		if err == nil {
			err = json.Unmarshal(raw, &call)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("failed to substitute variables in context entry %s %s: %w", entry.Name, orig.URLPath, err)
	}
	if policyNamespace != "" {
		clean := path.Clean(call.URLPath)
		m := namespacePath.FindStringSubmatch(clean)
		if len(m) <= 2 {
			return nil, fmt.Errorf("path %s does not contain a namespace segment, which is required for namespaced policies", clean)
		}
		if m[2] != policyNamespace {
			return nil, fmt.Errorf("path %s refers to namespace %s, which is different from the policy namespace %s", clean, m[2], policyNamespace)
		}
	}
	if call.URLPath != "" && api == nil {
		// Kyverno would have the answer (or its default would stand in for a failure): this
		// run has neither.
		return nil, &toolError{fmt.Sprintf("context entry %s calls the API server (%s), and this run reads no cluster (policies and resources both from files)", entry.Name, call.URLPath)}
	}
	var data []byte
	if call.URLPath == "" {
		err = fmt.Errorf("missing service for APICall %s", entry.Name)
	} else if data, err = api.Get(ctx, call.URLPath); err != nil {
		if !kyvernosAnswer(err, api.Forbidden) {
			// Kyverno would have had an answer (or its default would stand in for a
			// failure of its own): this run's fault decides nothing.
			return nil, &toolError{fmt.Sprintf("context entry %s: GET %s: %v", entry.Name, call.URLPath, err)}
		}
		data, err = nil, fmt.Errorf("failed to %v resource with raw url: %s: %v", orig.Method, call.URLPath, err)
	}
	if err != nil {
		if len(orig.Default) > 0 {
			return orig.Default, nil
		}
		return nil, err
	}
	return data, nil
}

func storeAPICall(vars *kyvernocond.Context, entry kpol.ContextEntry, data []byte) error {
	a := entry.APICall
	if (len(a.Default) > 0 && string(data) == string(a.Default)) || a.JMESPath == "" {
		if err := vars.AddEntry(entry.Name, data); err != nil {
			return fmt.Errorf("failed to add resource data to context entry %s: %w", entry.Name, err)
		}
		return nil
	}
	p, err := vars.Substitute(a.JMESPath)
	if err != nil {
		return fmt.Errorf("failed to substitute variables in context entry %s JMESPath %s: %w", entry.Name, a.JMESPath, err)
	}
	query, _ := p.(string)
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("failed to apply JMESPath %s for context entry %s: %w", query, entry.Name,
			fmt.Errorf("failed to unmarshal JSON: %s, error: %w", string(data), err))
	}
	res, compileErr, searchErr := kyvernocond.Search(query, doc)
	if err := errors.Join(compileErr, searchErr); err != nil {
		return fmt.Errorf("failed to apply JMESPath %s for context entry %s: %w", query, entry.Name, err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("failed to marshall APICall data for context entry %s: %w", entry.Name, err)
	}
	if err := vars.AddEntry(entry.Name, out); err != nil {
		return fmt.Errorf("failed to add APICall results for context entry %s: %w", entry.Name, err)
	}
	return nil
}
