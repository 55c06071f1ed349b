package admission

import "github.com/kubectl-verify/kubectl-verify/simulate/extract"

// RequestVariable is the AdmissionRequest fields CEL expressions read as `request`: what the
// API server sends a webhook about obj, with no user (unknown offline) and dryRun set.
func RequestVariable(obj map[string]any, op string) map[string]any {
	group, version, kind := extract.GroupVersionKind(obj)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if op == "" {
		op = "CREATE"
	}
	return map[string]any{
		"kind":        map[string]any{"group": group, "version": version, "kind": kind},
		"resource":    map[string]any{"group": group, "version": version, "resource": extract.Resource(kind)},
		"requestKind": map[string]any{"group": group, "version": version, "kind": kind},
		"name":        name, "namespace": ns, "operation": op,
		"userInfo": map[string]any{"username": ""},
		"dryRun":   true,
	}
}
