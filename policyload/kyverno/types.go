// Package kyverno parses Kyverno ClusterPolicy/Policy objects (kyverno.io/v1 and v2beta1) into
// typed, defaulted values, and refuses what Kyverno itself refuses at creation. It evaluates
// nothing: semantics live in simulate/engine/kyverno. Field names mirror the CRD so that
// encoding/json decodes the user's object directly.
package kyverno

import (
	"encoding/json"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
)

// Policy is one ClusterPolicy (Namespace == "") or Policy.
type Policy struct {
	Kind        string
	Name        string
	Namespace   string
	Annotations map[string]string
	Source      string // FILE:LINE or cluster/CONTEXT
	Spec        Spec
	// Warnings are load warnings: fields we do not replay. Each names the field.
	Warnings []string
}

// Key is how reports name the policy: name for a ClusterPolicy, ns/name for a Policy
// (spec/kyverno.md §4.4).
func (p *Policy) Key() string {
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

// Spec is the subset of the policy spec that shapes verifyImages admission.
type Spec struct {
	ValidationFailureAction          string            `json:"validationFailureAction,omitempty"`
	ValidationFailureActionOverrides []FailureOverride `json:"validationFailureActionOverrides,omitempty"`
	FailurePolicy                    string            `json:"failurePolicy,omitempty"`
	WebhookConfiguration             *WebhookConfig    `json:"webhookConfiguration,omitempty"`
	WebhookTimeoutSeconds            *int32            `json:"webhookTimeoutSeconds,omitempty"`
	Background                       *bool             `json:"background,omitempty"`
	Admission                        *bool             `json:"admission,omitempty"`
	ApplyRules                       string            `json:"applyRules,omitempty"`
	EmitWarning                      *bool             `json:"emitWarning,omitempty"`
	Rules                            []Rule            `json:"rules,omitempty"`
}

// WebhookConfig is spec.webhookConfiguration.
type WebhookConfig struct {
	FailurePolicy   string          `json:"failurePolicy,omitempty"`
	TimeoutSeconds  *int32          `json:"timeoutSeconds,omitempty"`
	MatchConditions json.RawMessage `json:"matchConditions,omitempty"`
}

// FailureOverride is one validationFailureActionOverrides entry.
type FailureOverride struct {
	Action            string         `json:"action,omitempty"`
	Namespaces        []string       `json:"namespaces,omitempty"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
}

// FailurePolicyFail reports whether the policy's webhook failurePolicy is Fail (the code
// default when unset, spec/kyverno.md §1.4).
func (s *Spec) FailurePolicyFail() bool {
	fp := s.FailurePolicy
	if s.WebhookConfiguration != nil && s.WebhookConfiguration.FailurePolicy != "" {
		fp = s.WebhookConfiguration.FailurePolicy
	}
	return fp != "Ignore"
}

// Rule is one policy rule. Only verifyImages rules are replayed.
type Rule struct {
	Name             string              `json:"name"`
	MatchResources   MatchResources      `json:"match"`
	ExcludeResources *MatchResources     `json:"exclude,omitempty"`
	VerifyImages     []ImageVerification `json:"verifyImages,omitempty"`

	Context       []ContextEntry  `json:"context,omitempty"`
	Preconditions json.RawMessage `json:"preconditions,omitempty"`
	// Conds are Preconditions parsed (nil when absent).
	Conds            *kyvernocond.Conditions     `json:"-"`
	CELPreconditions json.RawMessage             `json:"celPreconditions,omitempty"`
	ImageExtractors  map[string][]ImageExtractor `json:"imageExtractors,omitempty"`
	Validation       json.RawMessage             `json:"validate,omitempty"`
	Mutation         json.RawMessage             `json:"mutate,omitempty"`
	Generation       json.RawMessage             `json:"generate,omitempty"`

	// Unsupported lists fields of this rule we do not replay; every image the rule selects
	// then gets an error check instead of a verdict we cannot stand behind.
	Unsupported []string `json:"-"`
	// PublicTrust lists entries that need public Sigstore material (Fulcio roots, Rekor or
	// CT-log keys) Kyverno fetches over TUF: replayed with a trust root, else unsupported.
	PublicTrust []string `json:"-"`
	// Templated says the rule holds variables outside the conditions Kyverno evaluates on
	// their own: Kyverno substitutes the whole rule before verifying (ResolveRule).
	Templated bool `json:"-"`
	// Autogen is the kind an autogen rule was made for (Deployment, CronJob, ...; empty for
	// the policy's own rules): Kyverno rewrites the whole rule's request.object paths for it.
	Autogen string `json:"-"`
}

// MatchResources is match/exclude.
type MatchResources struct {
	Any []ResourceFilter `json:"any,omitempty"`
	All []ResourceFilter `json:"all,omitempty"`
	// Legacy single filter.
	UserInfo
	Resources ResourceDescription `json:"resources,omitempty"`
}

// ResourceFilter is one any/all entry.
type ResourceFilter struct {
	UserInfo
	Resources ResourceDescription `json:"resources,omitempty"`
}

// UserInfo constrains the requester.
type UserInfo struct {
	Roles        []string  `json:"roles,omitempty"`
	ClusterRoles []string  `json:"clusterRoles,omitempty"`
	Subjects     []Subject `json:"subjects,omitempty"`
}

// IsEmpty reports whether no requester constraint is set.
func (u UserInfo) IsEmpty() bool {
	return len(u.Roles) == 0 && len(u.ClusterRoles) == 0 && len(u.Subjects) == 0
}

// Subject is an RBAC subject.
type Subject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// ResourceDescription is the resource part of a filter.
type ResourceDescription struct {
	Kinds             []string          `json:"kinds,omitempty"`
	Name              string            `json:"name,omitempty"`
	Names             []string          `json:"names,omitempty"`
	Namespaces        []string          `json:"namespaces,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Selector          *LabelSelector    `json:"selector,omitempty"`
	NamespaceSelector *LabelSelector    `json:"namespaceSelector,omitempty"`
	Operations        []string          `json:"operations,omitempty"`
}

// IsEmpty reports whether the description constrains nothing.
func (r ResourceDescription) IsEmpty() bool {
	return len(r.Kinds) == 0 && r.Name == "" && len(r.Names) == 0 && len(r.Namespaces) == 0 &&
		len(r.Annotations) == 0 && r.Selector == nil && r.NamespaceSelector == nil && len(r.Operations) == 0
}

// LabelSelector mirrors metav1.LabelSelector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement mirrors metav1.LabelSelectorRequirement.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// ImageVerification is one rules[].verifyImages[] entry, after Convert() and defaulting.
type ImageVerification struct {
	FailureAction       *string       `json:"failureAction,omitempty"`
	Type                string        `json:"type,omitempty"`
	ImageReferences     []string      `json:"imageReferences,omitempty"`
	SkipImageReferences []string      `json:"skipImageReferences,omitempty"`
	Attestors           []AttestorSet `json:"attestors,omitempty"`
	Repository          string        `json:"repository,omitempty"`
	CosignOCI11         bool          `json:"cosignOCI11,omitempty"`
	MutateDigest        *bool         `json:"mutateDigest,omitempty"`
	VerifyDigest        *bool         `json:"verifyDigest,omitempty"`
	Required            *bool         `json:"required,omitempty"`
	UseCache            *bool         `json:"useCache,omitempty"`

	// Deprecated v1 fields folded in by Convert().
	Image   string `json:"image,omitempty"`
	Key     string `json:"key,omitempty"`
	Roots   string `json:"roots,omitempty"`
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`

	Attestations             []Attestation        `json:"attestations,omitempty"`
	ImageRegistryCredentials *RegistryCredentials `json:"imageRegistryCredentials,omitempty"`
	Validation               ImageValidation      `json:"validate,omitempty"`
	AdditionalExtensions     json.RawMessage      `json:"additionalExtensions,omitempty"`
	Annotations              json.RawMessage      `json:"annotations,omitempty"`
}

// Mutate is mutateDigest, defaulted (CRD default true); Digest and IsRequired likewise.
func (iv *ImageVerification) Mutate() bool     { return iv.MutateDigest == nil || *iv.MutateDigest }
func (iv *ImageVerification) Digest() bool     { return iv.VerifyDigest == nil || *iv.VerifyDigest }
func (iv *ImageVerification) IsRequired() bool { return iv.Required == nil || *iv.Required }

// HasChecks reports whether the entry verifies anything (attestors or attestations).
func (iv *ImageVerification) HasChecks() bool {
	return len(iv.Attestors) > 0 || len(iv.Attestations) > 0
}

// Attestation is one verifyImages[].attestations[] entry: in-toto attestations of a
// predicate type, by attestors.
type Attestation struct {
	Name string `json:"name,omitempty"`
	// Type is the predicate type; PredicateType its deprecated spelling.
	Type          string        `json:"type,omitempty"`
	PredicateType string        `json:"predicateType,omitempty"`
	Attestors     []AttestorSet `json:"attestors,omitempty"`
	// Conditions are checked against each statement of the type, its predicate merged at
	// the root of the context (spec/kyverno.md §1.3).
	Conditions []AnyAllConditions `json:"conditions,omitempty"`
}

// Condition is one condition (key, operator, value, message); AnyAllConditions one any/all
// block; Conditions a deny block (the legacy list, or one any/all block).
type (
	Condition        = kyvernocond.Condition
	AnyAllConditions = kyvernocond.AnyAll
	Conditions       = kyvernocond.Conditions
)

// ImageValidation is verifyImages[].validate: deny conditions over the attestations named
// in the rule, checked after them (spec/kyverno.md §4.1 step 7).
type ImageValidation struct {
	Message string `json:"message,omitempty"`
	Deny    *Deny  `json:"deny,omitempty"`
}

// IsSet is HasValidateImageVerification's test for one entry: anything given, even an
// empty deny.
func (v ImageValidation) IsSet() bool { return v.Message != "" || v.Deny != nil }

// Deny is validate.deny; no conditions deny.
type Deny struct {
	Conditions *Conditions `json:"conditions,omitempty"`
}

// EffectiveType is type, else the deprecated predicateType: what Kyverno compares
// with each statement's predicateType.
func (a *Attestation) EffectiveType() string {
	if a.Type != "" {
		return a.Type
	}
	return a.PredicateType
}

// AttestorSet is attestors[].
type AttestorSet struct {
	Count   *int       `json:"count,omitempty"`
	Entries []Attestor `json:"entries,omitempty"`
}

// RequiredCount is count, or all entries when unset or 0.
func (s AttestorSet) RequiredCount() int {
	if s.Count == nil || *s.Count == 0 {
		return len(s.Entries)
	}
	return *s.Count
}

// Attestor is one entries[] item.
type Attestor struct {
	Keys         *KeysAttestor        `json:"keys,omitempty"`
	Certificates *CertificateAttestor `json:"certificates,omitempty"`
	Keyless      *KeylessAttestor     `json:"keyless,omitempty"`
	Attestor     json.RawMessage      `json:"attestor,omitempty"`
	// Nested is Attestor parsed: a set verified as one entry.
	Nested             *AttestorSet      `json:"-"`
	Repository         string            `json:"repository,omitempty"`
	Annotations        map[string]string `json:"annotations,omitempty"`
	SignatureAlgorithm string            `json:"signatureAlgorithm,omitempty"`
}

// KeysAttestor is entries[].keys.
type KeysAttestor struct {
	PublicKeys         string     `json:"publicKeys,omitempty"`
	SignatureAlgorithm string     `json:"signatureAlgorithm,omitempty"`
	KMS                string     `json:"kms,omitempty"`
	Secret             *SecretRef `json:"secret,omitempty"`
	Rekor              *Rekor     `json:"rekor,omitempty"`
	CTLog              *CTLog     `json:"ctlog,omitempty"`
}

// KeylessAttestor is entries[].keyless.
type KeylessAttestor struct {
	Subject              string            `json:"subject,omitempty"`
	SubjectRegExp        string            `json:"subjectRegExp,omitempty"`
	Issuer               string            `json:"issuer,omitempty"`
	IssuerRegExp         string            `json:"issuerRegExp,omitempty"`
	Roots                string            `json:"roots,omitempty"`
	AdditionalExtensions map[string]string `json:"additionalExtensions,omitempty"`
	Rekor                *Rekor            `json:"rekor,omitempty"`
	CTLog                *CTLog            `json:"ctlog,omitempty"`
}

// CertificateAttestor is entries[].certificates.
type CertificateAttestor struct {
	Certificate      string `json:"cert,omitempty"`
	CertificateChain string `json:"certChain,omitempty"`
	Rekor            *Rekor `json:"rekor,omitempty"`
	CTLog            *CTLog `json:"ctlog,omitempty"`
}

// SecretRef names a Secret whose `cosign.pub` holds the key.
type SecretRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// KeyRef is what Kyverno hands cosign for this entry: the PEM keys, else
// k8s://<namespace>/<name> for a Secret (buildCosignVerifier), else the KMS URI.
func (k *KeysAttestor) KeyRef() string {
	switch {
	case k.PublicKeys != "":
		return k.PublicKeys
	case k.Secret != nil:
		return "k8s://" + k.Secret.Namespace + "/" + k.Secret.Name
	}
	return k.KMS
}

// Rekor is the transparency-log configuration of an entry.
type Rekor struct {
	URL        string `json:"url,omitempty"`
	PubKey     string `json:"pubkey,omitempty"`
	IgnoreTlog bool   `json:"ignoreTlog,omitempty"`
}

// RegistryCredentials is imageRegistryCredentials: Secrets (name in Kyverno's namespace, or
// namespace/name) and credential providers the rule's registry client uses besides the pod's
// imagePullSecrets.
type RegistryCredentials struct {
	AllowInsecureRegistry bool     `json:"allowInsecureRegistry,omitempty"`
	Providers             []string `json:"providers,omitempty"`
	Secrets               []string `json:"secrets,omitempty"`
}

// CTLog is the certificate-transparency configuration of an entry.
type CTLog struct {
	IgnoreSCT    bool   `json:"ignoreSCT,omitempty"`
	PubKey       string `json:"pubkey,omitempty"`
	TSACertChain string `json:"tsaCertChain,omitempty"`
}

// ImageExtractor is one rules[].imageExtractors[Kind][] entry: where a custom resource keeps
// image references.
type ImageExtractor struct {
	// Path is slash-separated; `*` expands arrays and maps.
	Path string `json:"path"`
	// Value is the field holding the image (default: Path's last element).
	Value string `json:"value,omitempty"`
	// Name groups the images (default "custom"); Key names each (default its pointer).
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
	// JMESPath rewrites the value before it is parsed.
	JMESPath string `json:"jmesPath,omitempty"`
}

// ContextEntry is one rules[].context entry. `variable`, `configMap` and `apiCall` (GET of an
// API server path) entries are replayed.
type ContextEntry struct {
	Name            string          `json:"name"`
	Variable        *VariableEntry  `json:"variable,omitempty"`
	ConfigMap       *ConfigMapRef   `json:"configMap,omitempty"`
	APICall         *APICall        `json:"apiCall,omitempty"`
	ImageRegistry   json.RawMessage `json:"imageRegistry,omitempty"`
	GlobalReference json.RawMessage `json:"globalReference,omitempty"`
}

// ConfigMapRef is a context entry's `configMap`: which ConfigMap to read (either may hold
// variables; an empty namespace is the policy's, or default for a ClusterPolicy).
type ConfigMapRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// APICall is a context entry's `apiCall`: a request to the API server (urlPath) or to a
// service, its response optionally narrowed by a JMESPath, with a default when it fails.
type APICall struct {
	URLPath  string          `json:"urlPath,omitempty"`
	Method   string          `json:"method,omitempty"`
	Data     []RequestData   `json:"data,omitempty"`
	Service  json.RawMessage `json:"service,omitempty"`
	JMESPath string          `json:"jmesPath,omitempty"`
	Default  json.RawMessage `json:"default,omitempty"`
}

// RequestData is one key of an apiCall's POST body.
type RequestData struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// VariableEntry is a context entry's `variable`: a value, a JMESPath over it (or over the
// context), and a default.
type VariableEntry struct {
	Value    any    `json:"value,omitempty"`
	JMESPath string `json:"jmesPath,omitempty"`
	Default  any    `json:"default,omitempty"`
}
