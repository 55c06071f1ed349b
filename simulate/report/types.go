// Package report holds the public report model (shared/design/contract.md) and its printers.
// Field names are a public contract: extend, never rename.
package report

// APIVersion is the apiVersion of every document this tool prints.
const APIVersion = "verify.kubectl.dev/v1alpha1"

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Check results.
const (
	ResultPass  = "pass"
	ResultFail  = "fail"
	ResultError = "error"
	ResultSkip  = "skip"
	ResultWarn  = "warn"
)

// Reasons for notChecked entries.
const (
	ReasonNoMatchingPolicy = "no-matching-policy"
	ReasonExcluded         = "excluded"
	ReasonNamespace        = "namespace-not-included"
	ReasonKindNotHandled   = "kind-not-handled"
	ReasonImageNotSelected = "image-not-selected"
	ReasonMonitorMode      = "monitor-mode"
	// ReasonPreviouslyVerified: on UPDATE, Kyverno does not re-verify an image that did not
	// change and that the old object's scoped annotation records as verified.
	ReasonPreviouslyVerified = "previously-verified"
)

// ToolErrorPrefix starts the message of every error check the tool causes itself.
const ToolErrorPrefix = "kubectl-verify: "

// SimulationReport is what `simulate -o json` prints.
type SimulationReport struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Summary    Summary  `json:"summary"`
	Results    []Result `json:"results"`
}

// Summary counts results; see contract.md for each field's meaning.
type Summary struct {
	Resources        int `json:"resources"`
	Allowed          int `json:"allowed"`
	Denied           int `json:"denied"`
	Warned           int `json:"warned"`
	Mutated          int `json:"mutated"`
	Errors           int `json:"errors"`
	Incomplete       int `json:"incomplete"`
	DeniedIfEnforced int `json:"deniedIfEnforced"`
	// Workloads counts top-level results: those whose controller owner is not among the
	// inputs (a Deployment, not its ReplicaSets and Pods); the two after it count those of
	// them denied now and if enforced. They are the impact a person acts on.
	Workloads                 int `json:"workloads"`
	WorkloadsDenied           int `json:"workloadsDenied"`
	WorkloadsDeniedIfEnforced int `json:"workloadsDeniedIfEnforced"`
}

// Resource identifies the object a result is about.
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Source     string `json:"source"`
	Owner      *Owner `json:"owner,omitempty"`
}

// Owner is the controller owner found among the inputs.
type Owner struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// PatchOp is one RFC 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Result is the admission outcome for one resource.
type Result struct {
	Resource           Resource     `json:"resource"`
	Decision           string       `json:"decision"`
	Message            string       `json:"message"`
	Warnings           []string     `json:"warnings"`
	Patch              []PatchOp    `json:"patch"`
	DecisionIfEnforced string       `json:"decisionIfEnforced"`
	Checks             []Check      `json:"checks"`
	NotChecked         []NotChecked `json:"notChecked"`
	InputWarnings      []string     `json:"inputWarnings"`
}

// Check is one engine result for one image (or one rule, for resource-level results).
type Check struct {
	Engine  string `json:"engine"`
	Policy  string `json:"policy"`
	Rule    string `json:"rule"`
	Image   string `json:"image"`
	Path    string `json:"path"`
	Digest  string `json:"digest"`
	Result  string `json:"result"`
	Mode    string `json:"mode"`
	Message string `json:"message"`
}

// NotChecked is an image no check covers, with why.
type NotChecked struct {
	Engine string `json:"engine"`
	Policy string `json:"policy"`
	Rule   string `json:"rule"`
	Image  string `json:"image"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ImageReport is what `images -o json` prints.
type ImageReport struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Images     []ImageRow `json:"images"`
}

// ImageRow is one container image of one result.
type ImageRow struct {
	Resource   Resource     `json:"resource"`
	Container  string       `json:"container"`
	Path       string       `json:"path"`
	Image      string       `json:"image"`
	Digest     string       `json:"digest"`
	Result     string       `json:"result"`
	Checks     []Check      `json:"checks"`
	NotChecked []NotChecked `json:"notChecked"`
}
