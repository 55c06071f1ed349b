package sigstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// TrustRoot is a policy-controller TrustRoot (v1alpha1): the Sigstore material an authority's
// trustRootRef names, given inline (spec.sigstoreKeys). PEM fields are PEM text.
type TrustRoot struct {
	Name   string
	Source string
	// CAChains are the certificate authorities' chains (Fulcio roots and intermediates).
	CAChains []string
	// TLogKeys and CTLogKeys are the transparency logs' and CT logs' public keys.
	TLogKeys, CTLogKeys []string
	// TLogURL is the last transparency log's baseURL (where the webhook looks entries up).
	TLogURL string
	// TSAChains are the timestamping authorities' chains.
	TSAChains []string
	// Unsupported says why this TrustRoot is not replayed ("" when it is): a TUF root
	// (spec.remote, spec.repository) is fetched and read by the controller.
	Unsupported string
}

// IsTrustRoot reports whether the object is a policy-controller TrustRoot.
func IsTrustRoot(apiVersion, kind string) bool {
	return apiVersion == Group+"/v1alpha1" && kind == "TrustRoot"
}

type trustRootObject struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Remote       json.RawMessage `json:"remote,omitempty"`
		Repository   json.RawMessage `json:"repository,omitempty"`
		SigstoreKeys *struct {
			CertificateAuthorities []struct {
				CertChain []byte `json:"certChain"`
			} `json:"certificateAuthorities"`
			TLogs []struct {
				BaseURL   string `json:"baseURL"`
				PublicKey []byte `json:"publicKey"`
			} `json:"tLogs,omitempty"`
			CTLogs []struct {
				PublicKey []byte `json:"publicKey"`
			} `json:"ctLogs,omitempty"`
			TimeStampAuthorities []struct {
				CertChain []byte `json:"certChain"`
			} `json:"timestampAuthorities,omitempty"`
		} `json:"sigstoreKeys,omitempty"`
	} `json:"spec"`
}

// ParseTrustRoot reads a TrustRoot object (JSON).
func ParseTrustRoot(raw []byte, source string) (*TrustRoot, error) {
	var obj trustRootObject
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decoding TrustRoot: %w", err)
	}
	tr := &TrustRoot{Name: obj.Metadata.Name, Source: source}
	if tr.Name == "" {
		return nil, &InvalidError{Policy: "TrustRoot", Path: "metadata.name", Msg: "name is required"}
	}
	keys := obj.Spec.SigstoreKeys
	if keys == nil {
		tr.Unsupported = "spec.remote or spec.repository (a TUF root the controller fetches)"
		return tr, nil
	}
	for _, ca := range keys.CertificateAuthorities {
		tr.CAChains = append(tr.CAChains, pemText(ca.CertChain))
	}
	for _, l := range keys.TLogs {
		tr.TLogKeys = append(tr.TLogKeys, pemText(l.PublicKey))
		tr.TLogURL = l.BaseURL
	}
	for _, l := range keys.CTLogs {
		tr.CTLogKeys = append(tr.CTLogKeys, pemText(l.PublicKey))
	}
	for _, t := range keys.TimeStampAuthorities {
		tr.TSAChains = append(tr.TSAChains, pemText(t.CertChain))
	}
	return tr, nil
}

// pemText is the PEM a TrustRoot field holds, ending in one newline so that chains join.
func pemText(b []byte) string {
	return string(bytes.TrimRight(b, "\n")) + "\n"
}

// ErrUnread is what InlineKeySecrets' read returns for a Secret this run could not read
// although the controller can (no RBAC, a cluster fault): the authority keeps its secretRef,
// and checking it is a tool-caused error, not a verdict.
var ErrUnread = errors.New("the Secret could not be read")

// InlineKeySecrets is the controller's reconcile of key.secretRef (inlineAndTrackSecret): the
// Secret, read in the controller's namespace by read, must hold exactly one entry, a PEM public
// key, which becomes key.data. The error is the reconcile's (read's own errors, such as not
// found, included): the controller then drops the policy from what its webhook enforces.
// Authorities whose Secret read returns ErrUnread are left as they are.
func InlineKeySecrets(p *Policy, read func(name string) (map[string][]byte, error)) error {
	for i := range p.Spec.Authorities {
		a := &p.Spec.Authorities[i]
		refs := []*KeyRef{a.Key}
		if a.Keyless != nil {
			refs = append(refs, a.Keyless.CACert)
		}
		for _, k := range refs {
			if k == nil || k.SecretRef == nil || k.Data != "" {
				continue
			}
			if err := inlineSecret(k, read); err != nil {
				return err
			}
		}
	}
	return nil
}

// inlineSecret is the reconciler's inlineAndTrackSecret: the one entry of the Secret, which
// must parse as a PEM public key, even for a keyless ca-cert.
func inlineSecret(k *KeyRef, read func(name string) (map[string][]byte, error)) error {
	name := k.SecretRef.Name
	data, err := read(name)
	if errors.Is(err, ErrUnread) {
		return nil
	}
	if err != nil {
		return err
	}
	switch len(data) {
	case 0:
		return fmt.Errorf("secret %q contains no data", name)
	case 1:
	default:
		return fmt.Errorf("secret %q contains multiple data entries, only one is supported", name)
	}
	for _, v := range data {
		if err := publicKeyPEM(v); err != nil {
			return fmt.Errorf("secret %q contains an invalid public key: %w", name, err)
		}
		k.Data, k.SecretRef = string(v), nil
	}
	return nil
}
