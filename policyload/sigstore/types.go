// Package sigstore reads Sigstore policy-controller ClusterImagePolicy objects (v1alpha1 and
// v1beta1, field for field the same) and the controller's configuration, with the defaults
// and the validation the controller's own webhooks apply (spec/sigstore-policy-controller.md
// §2). Parse only: evaluation is simulate/engine/sigstore's.
package sigstore

// Group is the API group of ClusterImagePolicy.
const Group = "policy.sigstore.dev"

// Policy is one ClusterImagePolicy, defaulted.
type Policy struct {
	Name       string `json:"-"`
	APIVersion string `json:"-"`
	// Source is where it was read (file:line or cluster/CONTEXT).
	Source string `json:"-"`
	Spec   Spec   `json:"spec"`
	// Warnings are what the controller's validation warns about, and fields not replayed
	// that do not change a verdict.
	Warnings []string `json:"-"`
	// Unsupported lists fields not replayed: images the policy matches get an error check.
	Unsupported []string `json:"-"`
}

// Spec is ClusterImagePolicy.spec.
type Spec struct {
	Images      []ImagePattern  `json:"images"`
	Authorities []Authority     `json:"authorities,omitempty"`
	Policy      *PolicyRef      `json:"policy,omitempty"`
	Mode        string          `json:"mode,omitempty"`
	Match       []MatchResource `json:"match,omitempty"`
}

// Warn reports whether the policy is in warn mode (failures are admission warnings).
func (s *Spec) Warn() bool { return s.Mode == "warn" }

// ImagePattern is one images[] entry.
type ImagePattern struct {
	Glob string `json:"glob"`
}

// Authority is one authorities[] entry: exactly one of Key, Keyless, Static.
type Authority struct {
	Name            string        `json:"name"`
	Key             *KeyRef       `json:"key,omitempty"`
	Keyless         *KeylessRef   `json:"keyless,omitempty"`
	Static          *StaticRef    `json:"static,omitempty"`
	Sources         []Source      `json:"source,omitempty"`
	CTLog           *TLog         `json:"ctlog,omitempty"`
	RFC3161         *RFC3161      `json:"rfc3161timestamp,omitempty"`
	SignatureFormat string        `json:"signatureFormat,omitempty"`
	Attestations    []Attestation `json:"attestations,omitempty"`
}

// KeyRef is a key: exactly one of Data (PEM), SecretRef, KMS.
type KeyRef struct {
	Data          string     `json:"data,omitempty"`
	SecretRef     *SecretRef `json:"secretRef,omitempty"`
	KMS           string     `json:"kms,omitempty"`
	HashAlgorithm string     `json:"hashAlgorithm,omitempty"`
}

// SecretRef names a Secret (the controller reads it in its own namespace).
type SecretRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// KeylessRef is a keyless authority.
type KeylessRef struct {
	URL               string     `json:"url,omitempty"`
	CACert            *KeyRef    `json:"ca-cert,omitempty"`
	Identities        []Identity `json:"identities"`
	TrustRootRef      string     `json:"trustRootRef,omitempty"`
	InsecureIgnoreSCT bool       `json:"insecureIgnoreSCT,omitempty"`
	// urlSet records an explicit `url: ""`: the controller keeps it as a set (empty) URL.
	urlSet bool
}

// HasURL reports whether the keyless authority has a url, as the controller's nil check
// sees it: an explicit empty url counts (only a missing one is "no Keyless URL specified").
func (k *KeylessRef) HasURL() bool { return k.URL != "" || k.urlSet }

// Identity is one accepted (issuer, subject) pair, each exact or a regular expression.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	Subject       string `json:"subject,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

// StaticRef is a static authority.
type StaticRef struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
}

// Source is where signatures live, and the pull secrets to read them.
type Source struct {
	OCI                  string           `json:"oci,omitempty"`
	SignaturePullSecrets []LocalObjectRef `json:"signaturePullSecrets,omitempty"`
	TagPrefix            string           `json:"tagPrefix,omitempty"`
}

// LocalObjectRef names an object in the workload's namespace.
type LocalObjectRef struct {
	Name string `json:"name"`
}

// TLog is an authority's ctlog (Rekor) setting.
type TLog struct {
	URL          string `json:"url,omitempty"`
	TrustRootRef string `json:"trustRootRef,omitempty"`
	// urlSet records an explicit `url: ""` (see KeylessRef.urlSet).
	urlSet bool
}

// HasURL reports whether ctlog has a url as the controller's nil check sees it.
func (t *TLog) HasURL() bool { return t.URL != "" || t.urlSet }

// RFC3161 is an authority's rfc3161timestamp setting.
type RFC3161 struct {
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// Attestation is one attestations[] entry.
type Attestation struct {
	Name          string     `json:"name"`
	PredicateType string     `json:"predicateType"`
	Policy        *PolicyRef `json:"policy,omitempty"`
}

// PolicyRef is a CUE or Rego policy: exactly one of Data, ConfigMapRef, Remote. The include*
// and fetchConfigFile switches are allowed only at the ClusterImagePolicy level.
type PolicyRef struct {
	Type              string        `json:"type"`
	Data              string        `json:"data,omitempty"`
	ConfigMapRef      *ConfigMapRef `json:"configMapRef,omitempty"`
	Remote            *RemoteRef    `json:"remote,omitempty"`
	FetchConfigFile   *bool         `json:"fetchConfigFile,omitempty"`
	IncludeSpec       *bool         `json:"includeSpec,omitempty"`
	IncludeObjectMeta *bool         `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   *bool         `json:"includeTypeMeta,omitempty"`
}

// ConfigMapRef names a ConfigMap key (read in the controller's namespace; Namespace ignored).
type ConfigMapRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key,omitempty"`
}

// RemoteRef is a policy fetched over HTTPS and checked against its SHA-256.
type RemoteRef struct {
	URL       string `json:"url"`
	SHA256Sum string `json:"sha256sum"`
}

// MatchResource is one match[] entry.
type MatchResource struct {
	Group    string         `json:"group,omitempty"`
	Version  string         `json:"version,omitempty"`
	Resource string         `json:"resource,omitempty"`
	Selector *LabelSelector `json:"selector,omitempty"`
}

// LabelSelector is metav1.LabelSelector's shape.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one matchExpressions entry.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Config is the `config-policy-controller` ConfigMap (pkg/config/store.go), defaulted.
type Config struct {
	// NoMatchPolicy is allow, warn or deny (anything else reads as deny).
	NoMatchPolicy string
	// FailOnEmptyAuthorities refuses a ClusterImagePolicy without authorities (default true).
	FailOnEmptyAuthorities bool
	// EnableOCI11 looks attestations up through the OCI 1.1 referrers API first.
	EnableOCI11 bool
	// Namespace is the controller's (system) namespace: the only one a key.secretRef may
	// name, and where Secrets and ConfigMaps are read.
	Namespace string
	// Compiled, when set, is what the webhook enforces: only the policies with an entry,
	// with what their reconcile inlined.
	Compiled *Compiled
}

// DefaultConfig is the controller's default: deny what no policy matches.
func DefaultConfig() Config {
	return Config{NoMatchPolicy: "deny", FailOnEmptyAuthorities: true, Namespace: "cosign-system"}
}
