// Package ivpol reads Kyverno's ImageValidatingPolicy and NamespacedImageValidatingPolicy
// (policies.kyverno.io): types, defaults, and the validation Kyverno's policy webhook does at
// creation (compiling every CEL expression and glob). No evaluation happens here.
// docs/ivpol-research.md cites the Kyverno 1.19.1 source for each rule.
package ivpol

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Group is the API group of both kinds.
const Group = "policies.kyverno.io"

// Kinds and the versions Kyverno 1.19 serves them in: the namespaced kind has no v1alpha1.
const (
	KindCluster    = "ImageValidatingPolicy"
	KindNamespaced = "NamespacedImageValidatingPolicy"
)

// Policy is one ImageValidatingPolicy, defaulted.
type Policy struct {
	APIVersion string
	Kind       string
	Name       string
	// Namespace is set for a NamespacedImageValidatingPolicy only.
	Namespace string
	Source    string
	Spec      Spec
	// NotReplayed lists what of the policy this tool cannot evaluate (CEL functions of
	// Kyverno libraries it does not declare), each naming its field.
	NotReplayed []string
}

// Key is how results name the policy: name, or namespace/name.
func (p *Policy) Key() string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}

// Spec is the policy's spec, with Kyverno's defaults applied by Parse.
type Spec struct {
	MatchConstraints         *admissionregistrationv1.MatchResources    `json:"matchConstraints,omitempty"`
	FailurePolicy            *admissionregistrationv1.FailurePolicyType `json:"failurePolicy,omitempty"`
	ValidationActions        []string                                   `json:"validationActions,omitempty"`
	MatchConditions          []NamedExpression                          `json:"matchConditions,omitempty"`
	Variables                []NamedExpression                          `json:"variables,omitempty"`
	AuditAnnotations         []AuditAnnotation                          `json:"auditAnnotations,omitempty"`
	ValidationConfigurations ValidationConfigurations                   `json:"validationConfigurations"`
	MatchImageReferences     []MatchImageReference                      `json:"matchImageReferences,omitempty"`
	Credentials              *Credentials                               `json:"credentials,omitempty"`
	Images                   []NamedExpression                          `json:"images,omitempty"`
	Attestors                []Attestor                                 `json:"attestors"`
	Attestations             []Attestation                              `json:"attestations,omitempty"`
	Validations              []Validation                               `json:"validations"`
	WebhookConfiguration     *WebhookConfiguration                      `json:"webhookConfiguration,omitempty"`
	Evaluation               *Evaluation                                `json:"evaluation,omitempty"`
	Autogen                  *Autogen                                   `json:"autogen,omitempty"`
}

// NamedExpression is a matchCondition, a variable or an image extractor.
type NamedExpression struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// AuditAnnotation is a CEL-valued annotation of audit events.
type AuditAnnotation struct {
	Key             string `json:"key"`
	ValueExpression string `json:"valueExpression"`
}

// ValidationConfigurations are the digest and required checks; each nil means true (the
// CRD's and the engine's default).
type ValidationConfigurations struct {
	MutateDigest *bool `json:"mutateDigest,omitempty"`
	VerifyDigest *bool `json:"verifyDigest,omitempty"`
	Required     *bool `json:"required,omitempty"`
}

// MatchImageReference is a glob (gobwas, no separators: * crosses /) or a CEL expression over
// ref.
type MatchImageReference struct {
	Glob       string `json:"glob,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// Credentials are registry credentials the policy names.
type Credentials struct {
	AllowInsecureRegistry bool     `json:"allowInsecureRegistry,omitempty"`
	Providers             []string `json:"providers,omitempty"`
	Secrets               []string `json:"secrets,omitempty"`
}

// Attestor is a named cosign or notary verifier.
type Attestor struct {
	Name   string  `json:"name"`
	Cosign *Cosign `json:"cosign,omitempty"`
	Notary *Notary `json:"notary,omitempty"`
}

// Cosign is a cosign attestor.
type Cosign struct {
	Key         *Key                `json:"key,omitempty"`
	Keyless     *Keyless            `json:"keyless,omitempty"`
	Certificate *Certificate        `json:"certificate,omitempty"`
	Source      *Source             `json:"source,omitempty"`
	CTLog       *CTLog              `json:"ctlog,omitempty"`
	TUF         *TUF                `json:"tuf,omitempty"`
	TrustedRoot *StringOrExpression `json:"trustedRoot,omitempty"`
	Annotations map[string]string   `json:"annotations,omitempty"`
}

// Key is a public key, inline, from a KMS, or computed by CEL.
type Key struct {
	Data          string `json:"data,omitempty"`
	KMS           string `json:"kms,omitempty"`
	HashAlgorithm string `json:"hashAlgorithm,omitempty"`
	Expression    string `json:"expression,omitempty"`
}

// Keyless is a Fulcio identity check.
type Keyless struct {
	Identities           []Identity `json:"identities"`
	Roots                string     `json:"roots,omitempty"`
	AdditionalExtensions any        `json:"additionalExtensions,omitempty"`
}

// Identity is one accepted issuer and subject.
type Identity struct {
	Issuer            string `json:"issuer,omitempty"`
	Subject           string `json:"subject,omitempty"`
	IssuerRegExp      string `json:"issuerRegExp,omitempty"`
	SubjectRegExp     string `json:"subjectRegExp,omitempty"`
	SubjectExpression string `json:"subjectExpression,omitempty"`
}

// Certificate is a signing certificate and its chain.
type Certificate struct {
	Cert      *StringOrExpression `json:"cert,omitempty"`
	CertChain *StringOrExpression `json:"certChain,omitempty"`
}

// StringOrExpression is a literal value or a CEL expression giving one.
type StringOrExpression struct {
	Value      string `json:"value,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// Source is where signatures are stored.
type Source struct {
	Repository  string `json:"repository,omitempty"`
	TagPrefix   string `json:"tagPrefix,omitempty"`
	PullSecrets []any  `json:"PullSecrets,omitempty"`
}

// CTLog are transparency log settings.
type CTLog struct {
	URL                string `json:"url,omitempty"`
	RekorPubKey        string `json:"rekorPubKey,omitempty"`
	CTLogPubKey        string `json:"ctLogPubKey,omitempty"`
	TSACertChain       string `json:"tsaCertChain,omitempty"`
	InsecureIgnoreTlog bool   `json:"insecureIgnoreTlog,omitempty"`
	InsecureIgnoreSCT  bool   `json:"insecureIgnoreSCT,omitempty"`
}

// TUF is an alternative TUF repository.
type TUF struct {
	Root   any    `json:"root,omitempty"`
	Mirror string `json:"mirror,omitempty"`
}

// Notary is a notary attestor.
type Notary struct {
	Certs    *StringOrExpression `json:"certs,omitempty"`
	TSACerts *StringOrExpression `json:"tsaCerts,omitempty"`
}

// Attestation is a named in-toto or OCI referrer attestation.
type Attestation struct {
	Name     string    `json:"name"`
	InToto   *TypeOnly `json:"intoto,omitempty"`
	Referrer *TypeOnly `json:"referrer,omitempty"`
}

// TypeOnly carries an attestation type.
type TypeOnly struct {
	Type string `json:"type"`
}

// Validation is one CEL check; the first false one gives the policy's failure message.
type Validation struct {
	Expression        string `json:"expression"`
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
	Reason            string `json:"reason,omitempty"`
}

// WebhookConfiguration is the policy's webhook settings.
type WebhookConfiguration struct {
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}

// Evaluation says where and how the policy is evaluated.
type Evaluation struct {
	Mode       string  `json:"mode,omitempty"`
	Admission  *Toggle `json:"admission,omitempty"`
	Background *Toggle `json:"background,omitempty"`
}

// Toggle is an enabled switch, nil meaning true.
type Toggle struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Autogen says which pod controllers get generated variants.
type Autogen struct {
	PodControllers *PodControllers `json:"podControllers,omitempty"`
}

// PodControllers lists controllers; nil means Kyverno's six, empty means none.
type PodControllers struct {
	Controllers []string `json:"controllers"`
}
