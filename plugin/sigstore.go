package plugin

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-verify/kubectl-verify/internal/memo"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// inlineReferences reconciles what the ClusterImagePolicies read from policy-controller's
// namespace, as its reconciler does: key.secretRef Secrets and policy.configMapRef ConfigMaps,
// each read once. A policy whose reconcile fails (missing, empty or wrong entries) is dropped
// with a warning: the controller removes it from what its webhook enforces. An object this run
// cannot read (no RBAC, a cluster fault) leaves its references to tool-caused errors, with a
// warning. Without a cluster nothing is read.
func inlineReferences(ctx context.Context, c *cluster, policies []*spol.Policy, namespace string) ([]*spol.Policy, []string) {
	if c == nil {
		return policies, nil
	}
	secrets, configMaps := c.secrets(), c.configMaps()
	var secretReads memo.Memo[map[string][]byte]
	var warnings []string
	// unread words what could not be read, and whether the error is the controller's too.
	unread := func(p *spol.Policy, what, name string, err error) error {
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return err
		case apierrors.IsForbidden(err):
			warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s: cannot read %s %s/%s: %s", p.Name, what, namespace, name, forbiddenText(err)))
		default:
			warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s: cannot read %s %s/%s: %v", p.Name, what, namespace, name, err))
		}
		return spol.ErrUnread
	}
	var kept []*spol.Policy
	for _, p := range policies {
		err := spol.InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
			data, err := secretReads.Do(ctx, name, func() (map[string][]byte, error) { return secrets.Secret(ctx, namespace, name) })
			return data, unread(p, "its key Secret", name, err)
		})
		if err == nil {
			err = spol.InlinePolicyConfigMaps(p, func(name string) (map[string]string, error) {
				obj, err := configMaps.ConfigMap(ctx, namespace, name)
				if err != nil {
					return nil, unread(p, "its policy ConfigMap", name, err)
				}
				return configMapData(obj), nil
			})
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s is not enforced: policy-controller's reconcile fails on it (%v), and its webhook then drops it", p.Name, err))
			continue
		}
		kept = append(kept, p)
	}
	return kept, warnings
}
