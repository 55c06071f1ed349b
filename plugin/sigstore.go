package plugin

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

// errForbidden marks a Secret the user may not read: the controller can, so the policy stays
// and its key authorities become tool-caused errors.
var errForbidden = errors.New("forbidden")

// inlineKeySecrets reconciles the ClusterImagePolicies' key.secretRef as policy-controller
// does, reading each Secret in its namespace. A policy whose reconcile fails is dropped with
// a warning: the controller removes it from what its webhook enforces. Without a cluster
// nothing is read; the key authorities are then tool-caused errors.
func inlineKeySecrets(ctx context.Context, c *cluster, policies []*spol.Policy, namespace string) ([]*spol.Policy, []string) {
	if c == nil {
		return policies, nil
	}
	secrets := c.secrets()
	var kept []*spol.Policy
	var warnings []string
	for _, p := range policies {
		err := spol.InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
			data, err := secrets.Secret(ctx, namespace, name)
			if apierrors.IsForbidden(err) {
				warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s: cannot read its key Secret %s/%s: %s", p.Name, namespace, name, forbiddenText(err)))
				return nil, errForbidden
			}
			return data, err
		})
		switch {
		case err == nil, errors.Is(err, errForbidden):
			kept = append(kept, p)
		default:
			warnings = append(warnings, fmt.Sprintf("ClusterImagePolicy %s is not enforced: policy-controller's reconcile fails on it (%v), and its webhook then drops it", p.Name, err))
		}
	}
	return kept, warnings
}
