package sigstore

import (
	"context"
	"encoding/json"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/policyeval"
)

// policyResultDoc is the PolicyResult a ClusterImagePolicy-level policy evaluates
// (validator_result.go, spec §3.6).
type policyResultDoc struct {
	AuthorityMatches map[string]authorityMatch `json:"authorityMatches,omitempty"`
	Config           map[string]*v1.ConfigFile `json:"config,omitempty"`
	Spec             any                       `json:"spec,omitempty"`
	ObjectMeta       any                       `json:"metadata,omitempty"`
	TypeMeta         any                       `json:"typemeta,omitempty"`
}

// policyLevel evaluates spec.policy on the passing authorities' matches and what the policy
// includes of the object, as the webhook's duck types carry it: a Pod's spec and metadata (no
// type), a scalable kind's replicas, selector and template, a DaemonSet's or Job's template, a
// CronJob's spec, each with its metadata and type.
func (e *Engine) policyLevel(ctx context.Context, pol *spol.PolicyRef, matches map[string]authorityMatch, ref name.Reference, ic imageContext) []error {
	doc := policyResultDoc{AuthorityMatches: matches}
	if pol.FetchConfigFile != nil && *pol.FetchConfigFile {
		// With the pod's keychain, not an authority's signature pull secrets.
		res := e.Verifier.ConfigFiles(ctx, ref.String(), ic.auth)
		if len(res.Errs) > 0 {
			return res.Errs
		}
		doc.Config = res.Files
	}
	if pol.IncludeSpec != nil && *pol.IncludeSpec {
		spec, err := duckSpec(ic.kind, ic.object)
		if err != nil {
			return []error{&verify.ToolError{Err: fmt.Errorf("reading the object's spec: %w", err)}}
		}
		doc.Spec = spec
	}
	if pol.IncludeObjectMeta != nil && *pol.IncludeObjectMeta {
		var meta metav1.ObjectMeta
		if err := retype(ic.object["metadata"], &meta); err != nil {
			return []error{&verify.ToolError{Err: fmt.Errorf("reading the object's metadata: %w", err)}}
		}
		doc.ObjectMeta = meta
	}
	if pol.IncludeTypeMeta != nil && *pol.IncludeTypeMeta && ic.kind != "Pod" {
		// ValidatePod never sets it.
		doc.TypeMeta = metav1.TypeMeta{Kind: ic.kind, APIVersion: ic.apiVersion}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return []error{err}
	}
	if err := policyeval.EvaluatePolicy(ctx, policyeval.CIPPolicyName, pol.Type, pol.Data, raw); err != nil {
		return []error{err}
	}
	return nil
}

// duckSpec is the object's spec as the webhook's duck type for its kind decodes it.
func duckSpec(kind string, obj map[string]any) (any, error) {
	spec := obj["spec"]
	switch kind {
	case "Pod":
		var s corev1.PodSpec
		return s, retype(spec, &s)
	case "Deployment", "ReplicaSet", "StatefulSet":
		var s struct {
			Replicas *int32                 `json:"replicas,omitempty"`
			Selector *metav1.LabelSelector  `json:"selector"`
			Template corev1.PodTemplateSpec `json:"template"`
		}
		return s, retype(spec, &s)
	case "CronJob":
		var s batchv1.CronJobSpec
		return s, retype(spec, &s)
	}
	var s struct {
		Template corev1.PodTemplateSpec `json:"template,omitempty"`
	}
	return s, retype(spec, &s)
}

// retype decodes JSON data into a typed value, as the webhook's decoding does.
func retype(v any, into any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}
