// Package kubewarden reads Kubewarden ClusterAdmissionPolicy and AdmissionPolicy objects
// (policies.kubewarden.io v1 and v1alpha2) with the controller's defaults, recognizes the
// verify-image-signatures module and parses its settings as the policy's serde types do
// (spec/kubewarden-and-peers.md §A1-A2). Parse only: evaluation is simulate/engine/kubewarden's.
package kubewarden

import (
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/admissioncel"
)

// Group is the API group of Kubewarden's policy kinds.
const Group = "policies.kubewarden.io"

// Policy is one (Cluster)AdmissionPolicy, defaulted.
type Policy struct {
	Kind       string
	APIVersion string
	Name       string
	// Namespace is an AdmissionPolicy's ("" for a ClusterAdmissionPolicy).
	Namespace string
	// Source is where it was read (file:line or cluster/CONTEXT).
	Source string
	Module string
	// Mode is protect (the default) or monitor.
	Mode     string
	Mutating bool
	Rules    []Rule
	// FailurePolicy is Fail (the API server's default when unset) or Ignore.
	FailurePolicy     string
	NamespaceSelector *LabelSelector
	ObjectSelector    *LabelSelector
	// MatchConditions are CEL expressions the request must meet for the webhook to be called;
	// Conditions are them compiled (nil when one is not replayed: Unsupported says why).
	MatchConditions []MatchCondition
	Conditions      []*admissioncel.Program
	// Message replaces the rejection message when set.
	Message string
	// AllowInsideAdmissionControllerNamespace lets a cluster policy see the Kubewarden
	// namespace (otherwise excluded by the controller).
	AllowInsideAdmissionControllerNamespace bool

	// VerifyImages says the module is verify-image-signatures (any registry, tag or digest).
	VerifyImages bool
	// Settings are its settings, nil when they are invalid (SettingsError says why).
	Settings      *Settings
	SettingsError string

	// Group says the object is a policy group (ClusterAdmissionPolicyGroup,
	// AdmissionPolicyGroup): its Members are evaluated, Expression combines their verdicts
	// (each member a zero-argument function), and Message is the rejection. VerifyImages is
	// then whether some member runs verify-image-signatures.
	Group      bool
	Expression string
	Members    []Member

	// Warnings are load warnings; Unsupported fields not replayed, which give the images the
	// policy would see an error check.
	Warnings    []string
	Unsupported []string
}

// Key names the policy in reports: name, or namespace/name for an AdmissionPolicy.
func (p *Policy) Key() string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}

// UniqueName is the controller's name for the policy: its webhook is UniqueName +
// ".kubewarden.admission", and policy-server calls the policy by it.
func (p *Policy) UniqueName() string {
	if p.Namespace != "" {
		return "namespaced-" + p.Namespace + "-" + p.Name
	}
	return "clusterwide-" + p.Name
}

// WebhookName is the name the API server quotes in a denial.
func (p *Policy) WebhookName() string { return p.UniqueName() + ".kubewarden.admission" }

// Active reports whether policy-server serves the policy at all: it validates every policy's
// settings (a group's members' too) at start-up and does not start with invalid ones, so
// the controller never registers the policy's webhook (the policy stays pending).
func (p *Policy) Active() bool {
	if p.SettingsError != "" {
		return false
	}
	for _, m := range p.Members {
		if m.SettingsError != "" {
			return false
		}
	}
	return true
}

// Monitor reports whether the policy only logs (its answers never reach the API server).
func (p *Policy) Monitor() bool { return p.Mode == "monitor" }

// Member is one policy of a group, by name.
type Member struct {
	Name, Module string
	// VerifyImages, Settings and SettingsError as for a Policy.
	VerifyImages  bool
	Settings      *Settings
	SettingsError string
}

// Rule is admissionregistration/v1 RuleWithOperations.
type Rule struct {
	APIGroups   []string `json:"apiGroups,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
	Resources   []string `json:"resources,omitempty"`
	Operations  []string `json:"operations,omitempty"`
	Scope       string   `json:"scope,omitempty"`
}

// LabelSelector is metav1.LabelSelector.
type LabelSelector struct {
	MatchLabels      map[string]string  `json:"matchLabels,omitempty"`
	MatchExpressions []LabelRequirement `json:"matchExpressions,omitempty"`
}

// LabelRequirement is metav1.LabelSelectorRequirement.
type LabelRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// MatchCondition is admissionregistration/v1 MatchCondition.
type MatchCondition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// Settings are verify-image-signatures' settings.
type Settings struct {
	// ModifyImagesWithDigest pins verified images to their digest (default true).
	ModifyImagesWithDigest bool
	Signatures             []Signature
}

// Signature kinds, in the order serde tries the untagged enum's variants.
const (
	KindPubKeys       = "pubKeys"
	KindKeyless       = "keyless"
	KindGitHubActions = "githubActions"
	KindKeylessPrefix = "keylessPrefix"
	KindCertificate   = "certificates"
)

// Signature is one signatures[] entry: Image, a wildcard over the image string as written,
// and exactly one shape (Kind).
type Signature struct {
	Image string
	Kind  string

	PubKeys       []string
	Keyless       []KeylessInfo
	GitHubActions *GitHubActions
	KeylessPrefix []KeylessPrefixInfo
	// Certificates, with CertificateChain and RequireRekorBundle.
	Certificates       []string
	CertificateChain   []string
	RequireRekorBundle bool

	// Annotations every signature must carry; nil when not given (which Kubewarden tells
	// apart from an empty map in its messages).
	Annotations map[string]string
}

// KeylessInfo is an exact issuer and subject.
type KeylessInfo struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// KeylessPrefixInfo is an issuer and a subject URL prefix.
type KeylessPrefixInfo struct {
	Issuer    string `json:"issuer"`
	URLPrefix string `json:"url_prefix"`
}

// GitHubActions is a githubActions entry.
type GitHubActions struct {
	Owner string  `json:"owner"`
	Repo  *string `json:"repo"`
}

// IsPolicy reports whether apiVersion/kind is a Kubewarden policy kind this package reads.
func IsPolicy(apiVersion, kind string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == Group && (kind == "ClusterAdmissionPolicy" || kind == "AdmissionPolicy")
}

// IsGroup reports whether apiVersion/kind is a policy group kind.
func IsGroup(apiVersion, kind string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == Group && (kind == "ClusterAdmissionPolicyGroup" || kind == "AdmissionPolicyGroup")
}
