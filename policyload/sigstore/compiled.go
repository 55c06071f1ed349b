package sigstore

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ConfigMapCompiled is the ConfigMap where policy-controller's reconciler writes each
// ClusterImagePolicy as its webhook evaluates it (keys, secrets, KMS keys and policies inlined),
// one JSON entry per policy name; a policy whose reconcile failed has none.
const ConfigMapCompiled = "config-image-policies"

// Compiled is a config-image-policies ConfigMap.
type Compiled struct {
	// Where names it in messages (ConfigMap cosign-system/config-image-policies, or a file).
	Where string
	// Entries are its data: one JSON entry per policy name.
	Entries map[string]string
}

// CompiledFrom is a config-image-policies ConfigMap's data; policy-controller's _example
// entry is not a policy.
func CompiledFrom(data map[string]string, where string) *Compiled {
	c := &Compiled{Where: where, Entries: map[string]string{}}
	for k, v := range data {
		if k != "_example" {
			c.Entries[k] = v
		}
	}
	return c
}

// compiled is the part of an entry (pkg/webhook/clusterimagepolicy ClusterImagePolicy) the
// reconcile fills in: what the object names and the entry holds.
type compiled struct {
	Authorities []struct {
		Key *struct {
			Data string `json:"data,omitempty"`
		} `json:"key,omitempty"`
		Attestations []struct {
			Name string `json:"name"`
			Data string `json:"data,omitempty"`
		} `json:"attestations,omitempty"`
	} `json:"authorities"`
	Policy *struct {
		Data string `json:"data,omitempty"`
	} `json:"policy,omitempty"`
}

// ApplyCompiled puts what the reconcile inlined into p (entry is its config-image-policies
// entry): key data read from Secrets or a KMS, policies read from ConfigMaps or URLs. What the
// entry inlined is then no longer unsupported.
func ApplyCompiled(p *Policy, entry []byte) error {
	var c compiled
	if err := json.Unmarshal(entry, &c); err != nil {
		return fmt.Errorf("%s entry %s: %w", ConfigMapCompiled, p.Name, err)
	}
	if len(c.Authorities) != len(p.Spec.Authorities) {
		return fmt.Errorf("%s entry %s has %d authorities, the policy %d: it is out of date", ConfigMapCompiled, p.Name, len(c.Authorities), len(p.Spec.Authorities))
	}
	inline := func(r *PolicyRef, data string) {
		if r != nil && data != "" && (r.ConfigMapRef != nil || r.Remote != nil) {
			r.Data, r.ConfigMapRef, r.Remote = data, nil, nil
		}
	}
	for i, ca := range c.Authorities {
		a := &p.Spec.Authorities[i]
		if a.Key != nil && ca.Key != nil && ca.Key.Data != "" && a.Key.Data == "" {
			a.Key.Data, a.Key.SecretRef, a.Key.KMS = ca.Key.Data, nil, ""
		}
		for j := range a.Attestations {
			if j < len(ca.Attestations) && ca.Attestations[j].Name == a.Attestations[j].Name {
				inline(a.Attestations[j].Policy, ca.Attestations[j].Data)
			}
		}
	}
	if c.Policy != nil {
		inline(p.Spec.Policy, c.Policy.Data)
	}
	p.remarkUnsupported()
	return nil
}

// remarkUnsupported lists again what is not replayed, once something was inlined, and drops
// the load warnings of what is replayed now.
func (p *Policy) remarkUnsupported() {
	before := p.Unsupported
	p.Unsupported = nil
	p.markUnsupported()
	gone := map[string]bool{}
	for _, u := range before {
		gone[u+unsupportedWarning] = true
	}
	for _, u := range p.Unsupported {
		delete(gone, u+unsupportedWarning)
	}
	kept := p.Warnings[:0]
	for _, w := range p.Warnings {
		if !gone[w] {
			kept = append(kept, w)
		}
	}
	p.Warnings = kept
}

// InlinePolicyConfigMaps is the controller's reconcile of policy.configMapRef
// (inlineAndTrackConfigMap), for the attestations' and the policy-level policy: the ConfigMap,
// read in the controller's namespace by read (the ref's namespace is ignored), must hold a
// non-empty entry under the key, which becomes the policy's data. The error is the
// reconcile's, as InlineKeySecrets'; a ConfigMap read returning ErrUnread is left alone.
func InlinePolicyConfigMaps(p *Policy, read func(name string) (map[string]string, error)) error {
	refs := []*PolicyRef{p.Spec.Policy}
	for i := range p.Spec.Authorities {
		for j := range p.Spec.Authorities[i].Attestations {
			refs = append(refs, p.Spec.Authorities[i].Attestations[j].Policy)
		}
	}
	inlined := false
	for _, r := range refs {
		if r == nil || r.ConfigMapRef == nil {
			continue
		}
		name, key := r.ConfigMapRef.Name, r.ConfigMapRef.Key
		data, err := read(name)
		if errors.Is(err, ErrUnread) {
			continue
		}
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return fmt.Errorf("configmap %q contains no data", name)
		}
		if data[key] == "" {
			return fmt.Errorf("configmap %q does not contain key %s", name, key)
		}
		r.Data, r.ConfigMapRef = data[key], nil
		inlined = true
	}
	if inlined {
		p.remarkUnsupported()
	}
	return nil
}
