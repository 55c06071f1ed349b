package sigstore

import (
	"bytes"
	"encoding/json"
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
