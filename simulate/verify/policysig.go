package verify

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// PolicySignature is what policy-controller records of a verified signature or attestation
// for a ClusterImagePolicy-level policy (pkg/webhook/validator_result.go PolicySignature):
// its id, and for a certificate the first SAN, the issuer and the GitHub workflow extensions.
// Key-signed entries carry the id alone.
type PolicySignature struct {
	ID              string `json:"id,omitempty"`
	Subject         string `json:"subject,omitempty"`
	Issuer          string `json:"issuer,omitempty"`
	WorkflowTrigger string `json:"githubWorkflowTrigger,omitempty"`
	WorkflowSHA     string `json:"githubWorkflowSha,omitempty"`
	WorkflowName    string `json:"githubWorkflowName,omitempty"`
	WorkflowRepo    string `json:"githubWorkflowRepo,omitempty"`
	WorkflowRef     string `json:"githubWorkflowRef,omitempty"`
}

// policySignature is ociSignatureToPolicySignature for one signature; false when the webhook
// skips it (its signature or certificate cannot be read).
func policySignature(sig oci.Signature) (PolicySignature, bool) {
	h := sha256.New()
	s, err := sig.Signature()
	if err != nil {
		return PolicySignature{}, false
	}
	h.Write(s)
	cert, err := sig.Cert()
	if err != nil {
		return PolicySignature{}, false
	}
	if cert != nil {
		c, err := cryptoutils.MarshalCertificateToPEM(cert)
		if err != nil {
			return PolicySignature{}, false
		}
		h.Write(c)
	}
	ps := PolicySignature{ID: hex.EncodeToString(h.Sum(nil))}
	if cert == nil {
		return ps, true
	}
	ce := cosign.CertExtensions{Cert: cert}
	if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
		ps.Subject = sans[0]
	}
	ps.Issuer = ce.GetIssuer()
	ps.WorkflowTrigger = ce.GetCertExtensionGithubWorkflowTrigger()
	ps.WorkflowSHA = ce.GetExtensionGithubWorkflowSha()
	ps.WorkflowName = ce.GetCertExtensionGithubWorkflowName()
	ps.WorkflowRepo = ce.GetCertExtensionGithubWorkflowRepository()
	ps.WorkflowRef = ce.GetCertExtensionGithubWorkflowRef()
	return ps, true
}

func policySignatures(sigs []oci.Signature) []PolicySignature {
	var out []PolicySignature
	for _, s := range sigs {
		if ps, ok := policySignature(s); ok {
			out = append(out, ps)
		}
	}
	return out
}
