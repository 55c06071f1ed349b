package plugin

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-verify/kubectl-verify/internal/memo"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// inlineKeySecrets reconciles the ClusterImagePolicies' key.secretRef as policy-controller
// does, reading each Secret in its namespace once. A policy whose reconcile fails (the Secret
// is missing, or holds no or several entries, or no key) is dropped with a warning: the
// controller removes it from what its webhook enforces. A Secret this run cannot read (no
// RBAC, a cluster fault) leaves its authorities to tool-caused errors, with a warning. Without
// a cluster nothing is read.
func inlineKeySecrets(ctx context.Context, c *cluster, policies []*spol.Policy, namespace string) ([]*spol.Policy, []string) {
	if c == nil {
		return policies, nil
	}
	secrets := c.secrets()
	var read memo.Memo[map[string][]byte]
	var kept []*spol.Policy
	var warnings []string
	for _, p := range policies {
		err := spol.InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
			data, err := read.Do(ctx, name, func() (map[string][]byte, error) { return secrets.Secret(ctx, namespace, name) })
			switch {
			case err == nil, apierrors.IsNotFound(err):
				return data, err
			case apierrors.IsForbidden(err):
				warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s: cannot read its key Secret %s/%s: %s", p.Name, namespace, name, forbiddenText(err)))
			default:
				warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s: cannot read its key Secret %s/%s: %v", p.Name, namespace, name, err))
			}
			return nil, spol.ErrUnread
		})
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s is not enforced: policy-controller's reconcile fails on it (%v), and its webhook then drops it", p.Name, err))
			continue
		}
		kept = append(kept, p)
	}
	return kept, warnings
}
