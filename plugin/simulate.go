package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/simulate"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// SimulateOptions holds the flags of simulate and images (they share them).
type SimulateOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Sources     SourceFlags
	Registry    RegistryFlags
	Engines     EngineFlags

	Output    string
	FailOn    string
	Enforce   bool
	Operation string
	OldFiles  []string
	Timeout   time.Duration
	Parallel  int

	images   bool
	pin      *pinFlags
	args     []string
	progress progress
	genericiooptions.IOStreams
}

// SourceFlags says where policies and resources come from.
type SourceFlags struct {
	Policies      []string
	Filenames     []string
	Recursive     bool
	Kustomize     string
	AllNamespaces bool
	Selector      string
	ChunkSize     int64
}

// AddFlags registers the source flags.
func (f *SourceFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.Policies, "policy", nil, "Policy file or directory (repeatable, - for stdin); without it, policies come from the cluster")
	fs.StringArrayVarP(&f.Filenames, "filename", "f", nil, "Manifest file or directory to evaluate (repeatable, - for stdin)")
	fs.BoolVarP(&f.Recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively")
	fs.StringVarP(&f.Kustomize, "kustomize", "k", "", "Process the kustomization directory")
	fs.BoolVarP(&f.AllNamespaces, "all-namespaces", "A", false, "Evaluate resources in every namespace (cluster resources)")
	fs.StringVarP(&f.Selector, "selector", "l", "", "Label selector to filter resources")
	fs.Int64Var(&f.ChunkSize, "chunk-size", 500, "List cluster resources in chunks of this size")
}

// RegistryFlags say how registries are reached.
type RegistryFlags struct {
	Config      string
	Insecure    []string
	TrustedRoot string
	// CacheDir is --cache-dir when given ("" = no verification cache); CacheTTL is how long
	// a kept verification is reused.
	CacheDir string
	CacheTTL time.Duration
}

// cacheDirFlag is cli-runtime's --cache-dir (kubectl's discovery and HTTP caches), which is
// also the contract's --cache-dir: two flags cannot share the name, and one directory for
// every cache the command keeps is what kubectl users expect of it. Verifications are kept
// only when it is given, in their own subdirectory beside kubectl's discovery/ and http/.
const (
	cacheDirFlag          = "cache-dir"
	verificationsCacheDir = "kubectl-verify"
)

// AddFlags registers the registry flags.
func (f *RegistryFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Config, "registry-config", "", "Docker config file with registry credentials (default: the usual lookup)")
	fs.StringArrayVar(&f.Insecure, "insecure-registry", nil, "Registry host reached over plain HTTP or unverified TLS (repeatable)")
	fs.StringVar(&f.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json standing in for the public Sigstore roots and log keys (fetched over TUF by the engines)")
	fs.DurationVar(&f.CacheTTL, "cache-ttl", f.CacheTTL, "How long a verification kept in --cache-dir is reused (the default is Kyverno's default imageVerifyCacheTTLDuration, 60m)")
}

// cacheDirUsage is --cache-dir's help once it serves both purposes.
const cacheDirUsage = "Cache directory: kubectl's discovery and HTTP caches, and, only when this flag is given, " +
	"passed signature and attestation verifications kept between runs by image digest in its " + verificationsCacheDir + "/ " +
	"subdirectory (tags are still resolved every run; failures and registry errors are never kept)"

// Validate refuses a cache directory that can never be one and a TTL that keeps nothing.
func (f *RegistryFlags) Validate() error {
	if f.CacheTTL <= 0 {
		return &UsageError{fmt.Sprintf("--cache-ttl %s: must be positive", f.CacheTTL)}
	}
	if f.CacheDir == "" {
		return nil
	}
	// Anything else that keeps the directory from serving (no right to create it, a file
	// further up its path) only costs the cache: Run warns and goes on without it.
	if fi, err := os.Stat(f.CacheDir); err == nil && !fi.IsDir() {
		return &UsageError{fmt.Sprintf("--cache-dir %s: exists and is not a directory", f.CacheDir)}
	}
	return nil
}

// ToRegistry converts the flags.
func (f *RegistryFlags) ToRegistry() (*verify.Registry, error) {
	return verify.NewRegistry(f.Config, f.Insecure, "kubectl-verify/"+Version)
}

// diskCacheDir is where verifications are kept; "" when they are not.
func (f *RegistryFlags) diskCacheDir() string {
	if f.CacheDir == "" {
		return ""
	}
	return filepath.Join(f.CacheDir, verificationsCacheDir)
}

// ToDiskCache opens the verification cache: nil without --cache-dir, else the cache or why
// it cannot serve.
func (f *RegistryFlags) ToDiskCache() (*verify.DiskCache, error) {
	if f.CacheDir == "" {
		return nil, nil
	}
	return verify.OpenDiskCache(f.diskCacheDir(), f.CacheTTL)
}

// EngineFlags override engine configuration.
type EngineFlags struct {
	KyvernoConfig       string
	SigstoreConfig      string
	KyvernoNamespace    string
	SigstoreNamespace   string
	KubewardenNamespace string
}

// AddFlags registers the engine flags.
func (f *EngineFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.KyvernoConfig, "kyverno-config", "", "Kyverno ConfigMap manifest (default: Kyverno's built-in defaults for file policies)")
	fs.StringVar(&f.SigstoreConfig, "sigstore-config", "", "policy-controller ConfigMap manifest")
	fs.StringVar(&f.KyvernoNamespace, "kyverno-namespace", "kyverno", "Namespace Kyverno runs in")
	fs.StringVar(&f.SigstoreNamespace, "sigstore-namespace", "cosign-system", "Namespace policy-controller runs in")
	fs.StringVar(&f.KubewardenNamespace, "kubewarden-namespace", "kubewarden", "Namespace Kubewarden runs in")
}

// NewSimulateOptions returns options with the contract's defaults.
func NewSimulateOptions(streams genericiooptions.IOStreams) *SimulateOptions {
	return &SimulateOptions{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
		Output:      "table",
		FailOn:      "deny",
		Operation:   simulate.OperationCreate,
		Parallel:    16,
		Registry:    RegistryFlags{CacheTTL: verify.DefaultDiskCacheTTL},
		progress:    defaultProgress(),
	}
}

func (o *SimulateOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	o.ConfigFlags.AddFlags(fs)
	o.Sources.AddFlags(fs)
	o.Registry.AddFlags(fs)
	o.Engines.AddFlags(fs)
	if f := fs.Lookup(cacheDirFlag); f != nil {
		f.Usage = cacheDirUsage
	}
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: table, wide, json, yaml, policyreport (wgpolicyk8s.io PolicyReports), openreports (openreports.io Reports), sarif (SARIF 2.1.0), junit or markdown (a pull-request comment)")
	fs.StringVar(&o.FailOn, "fail-on", o.FailOn, "Exit 1 when a result reaches this: deny, warn or never")
	fs.BoolVar(&o.Enforce, "enforce", false, "Judge the exit code by the decision if every policy were enforced")
	fs.StringVar(&o.Operation, "operation", o.Operation, "Admission operation to replay: CREATE or UPDATE (UPDATE needs each resource's old object)")
	fs.StringArrayVar(&o.OldFiles, "old-filename", nil, "With --operation=UPDATE: file or directory of old objects, paired with the resources by apiVersion, kind, namespace and name (repeatable, - for stdin); without it the old object is the live one")
	fs.DurationVar(&o.Timeout, "timeout", 0, "Time limit for the whole run (0 = none)")
	fs.IntVar(&o.Parallel, "parallel", o.Parallel, "How many resources to evaluate at once")
	registerCompletions(cmd, o.ConfigFlags)
	_ = cmd.RegisterFlagCompletionFunc("output", fixed(report.Formats...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixed("deny", "warn", "never"))
	_ = cmd.RegisterFlagCompletionFunc("operation", fixed(simulate.OperationCreate, simulate.OperationUpdate))
	cmd.ValidArgsFunction = completeResourceArgs(o.ConfigFlags)
}

// NewCmdSimulate is `kubectl verify simulate`.
func NewCmdSimulate(streams genericiooptions.IOStreams) *cobra.Command {
	o := NewSimulateOptions(streams)
	cmd := &cobra.Command{
		Use:   "simulate [TYPE[/NAME]...]",
		Short: "Show what admission would allow, deny, warn and patch",
		Example: `  # Replay Kyverno policies from files against local manifests
  kubectl verify simulate --policy policies/ -f manifests/

  # JSON report; exit 1 only if something would be denied once every policy is enforced
  kubectl verify simulate --policy policies/ -f manifests/ -o json --enforce

  # An UPDATE from old.yaml to new.yaml (without --old-filename, the live objects are the old ones)
  kubectl verify simulate --policy policies/ -f new.yaml --operation=UPDATE --old-filename old.yaml`,
		RunE: o.runE,
	}
	o.addFlags(cmd)
	return cmd
}

// NewCmdImages is `kubectl verify images`.
func NewCmdImages(streams genericiooptions.IOStreams) *cobra.Command {
	o := NewSimulateOptions(streams)
	o.images = true
	cmd := &cobra.Command{
		Use:   "images [TYPE[/NAME]...]",
		Short: "One row per container image: digest, checks, result",
		RunE:  o.runE,
	}
	o.addFlags(cmd)
	return cmd
}

// runE is the command: Complete, Validate, Run.
func (o *SimulateOptions) runE(cmd *cobra.Command, args []string) error {
	if err := o.Complete(cmd, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return o.Run(cmd.Context())
}

// Complete fills derived values.
func (o *SimulateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.args = args
	// Only a --cache-dir the user gives turns the verification cache on: cli-runtime's
	// default (~/.kube/cache) is there for kubectl's own caches.
	if cmd != nil && cmd.Flags().Changed(cacheDirFlag) && o.ConfigFlags.CacheDir != nil {
		o.Registry.CacheDir = *o.ConfigFlags.CacheDir
	}
	o.Operation = strings.ToUpper(o.Operation)
	return nil
}

// Validate refuses what cannot work, naming what is not available yet.
func (o *SimulateOptions) Validate() error {
	if o.pin != nil {
		if err := o.validatePin(); err != nil {
			return err
		}
	}
	if !slices.Contains(report.Formats, o.Output) {
		return &UsageError{fmt.Sprintf("--output %q is not supported; use one of %s", o.Output, strings.Join(report.Formats, ", "))}
	}
	switch o.FailOn {
	case "deny", "warn", "never":
	default:
		return &UsageError{fmt.Sprintf("--fail-on %q: use deny, warn or never", o.FailOn)}
	}
	switch o.Operation {
	case simulate.OperationCreate, simulate.OperationUpdate:
	default:
		return &UsageError{fmt.Sprintf("--operation %q: use CREATE or UPDATE", o.Operation)}
	}
	if len(o.OldFiles) > 0 && o.Operation != simulate.OperationUpdate {
		return &UsageError{"--old-filename gives the old objects of an UPDATE: use it with --operation=UPDATE"}
	}
	if o.Parallel < 1 {
		return &UsageError{"--parallel must be at least 1"}
	}
	if err := o.Registry.Validate(); err != nil {
		return err
	}
	fromFiles := len(o.Sources.Filenames) > 0 || o.Sources.Kustomize != ""
	if fromFiles && len(o.args) > 0 {
		return &UsageError{"TYPE[/NAME] arguments select cluster resources: use them without -f/-k"}
	}
	if fromFiles && (o.Sources.AllNamespaces || o.Sources.Selector != "") {
		return &UsageError{"-A/--all-namespaces and -l/--selector select cluster resources: use them without -f/-k"}
	}
	stdin := 0
	for _, p := range append(append([]string{}, o.Sources.Policies...), o.Sources.Filenames...) {
		if p == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return &UsageError{"only one of --policy and -f can read stdin (-)"}
	}
	if slices.Contains(o.OldFiles, "-") && stdin > 0 {
		return &UsageError{"only one of --policy, -f and --old-filename can read stdin (-)"}
	}
	return nil
}

// namespace is -n, else the kubeconfig context's namespace, else default; reading the
// kubeconfig file contacts no cluster.
func (o *SimulateOptions) namespace() string {
	if o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "" {
		return *o.ConfigFlags.Namespace
	}
	if ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

// Run loads, evaluates and prints.
func (o *SimulateOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	// The progress line covers reading the inputs too (cluster lists, kustomize builds).
	counts := &simulate.Progress{}
	stop := o.progress.start(o.ErrOut, counts)
	defer stop()
	ns := o.namespace()
	in, err := o.inputs(ctx, ns)
	if err != nil {
		return err
	}
	printed := map[string]bool{}
	for _, w := range in.warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
		printed[w] = true
	}
	reg, err := o.Registry.ToRegistry()
	if err != nil {
		return fmt.Errorf("--registry-config: %w", err)
	}
	disk, err := o.Registry.ToDiskCache()
	if err != nil {
		// The cache only saves time: the run is the same without it.
		fmt.Fprintf(o.ErrOut, "Warning: --cache-dir: %s cannot keep verifications, verifying without it: %v\n", o.Registry.diskCacheDir(), err)
	}
	ver := verify.New(reg, verify.WithDiskCache(disk))
	ver.Trust = in.trust
	var configMaps simulate.ConfigMapReader
	var api simulate.APIReader
	if in.cluster != nil {
		ver.Secrets = in.cluster.secrets()
		configMaps, api = in.cluster.configMaps(), in.cluster.api()
	}
	rep, rows, err := simulate.Run(ctx, simulate.Config{Progress: counts, KyvernoConfigMaps: configMaps, KyvernoAPI: api,
		Kyverno: in.policies.Kyverno, ImageValidating: in.policies.ImageValidating, KyvernoConfig: in.kyvernoConfig, Resources: in.resources, DefaultNamespace: ns,
		Operation: o.Operation, OldObjects: in.old, FromCluster: in.fromCluster, Parallel: o.Parallel, Verifier: ver,
		NamespaceLabels: in.namespaceLabels, UnknownNamespaces: in.unknownNamespaces, Gaps: in.gaps,
		Sigstore: in.policies.Sigstore, SigstoreConfig: in.sigstoreConfig, SigstoreTrustRoots: in.policies.SigstoreTrustRoots,
		SigstoreActive: len(in.policies.Found["sigstore"]) > 0,
		Kubewarden:     in.policies.Kubewarden, KubewardenNamespace: o.Engines.KubewardenNamespace,
	})
	stop()
	if err != nil {
		return err
	}
	// Each tool-caused error once on stderr, unless it was already a load warning.
	for _, r := range rep.Results {
		for _, c := range r.Checks {
			if msg := strings.TrimPrefix(c.Message, report.ToolErrorPrefix); msg != c.Message && !printed[msg] {
				printed[msg] = true
				fmt.Fprintf(o.ErrOut, "Warning: %s\n", msg)
			}
		}
	}
	for _, r := range rep.Results {
		for _, w := range r.InputWarnings {
			fmt.Fprintf(o.ErrOut, "Warning: %s %s/%s: %s\n", r.Resource.Source, r.Resource.Kind, r.Resource.Name, w)
		}
	}
	if o.images || o.pin != nil {
		// Images no check covers still get their digest (one request each, shared); so do
		// images an ImageValidatingPolicy check passes, which names no digest (it is one
		// check for all the images a policy selects, and Kyverno fetched each: cached).
		resolveUncovered(ctx, ver, rows, o.Parallel)
	}
	if err := o.print(rep, rows); err != nil {
		return err
	}
	if simulate.FailOn(rep, o.FailOn, o.Enforce) {
		n := 0
		for _, r := range rep.Results {
			if r.Decision == report.Deny || (o.Enforce && r.DecisionIfEnforced == report.Deny) {
				n++
			}
		}
		return &ThresholdError{Results: n}
	}
	return nil
}

func (o *SimulateOptions) print(rep *report.SimulationReport, rows []report.ImageRow) error {
	if o.pin != nil {
		return o.pinImages(rows)
	}
	switch o.Output {
	case "policyreport":
		return report.PrintYAMLDocuments(o.Out, report.PolicyReports(rep, report.WGPolicyReport, time.Now()))
	case "openreports":
		return report.PrintYAMLDocuments(o.Out, report.PolicyReports(rep, report.OpenReport, time.Now()))
	case "junit":
		return report.PrintJUnit(o.Out, rep)
	case "markdown":
		return report.PrintMarkdown(o.Out, rep)
	case "sarif":
		wd, _ := os.Getwd()
		return report.PrintSARIF(o.Out, rep, Version, wd)
	}
	if o.images {
		doc := report.ImageReport{APIVersion: report.APIVersion, Kind: "ImageReport", Images: rows}
		if doc.Images == nil {
			doc.Images = []report.ImageRow{}
		}
		switch o.Output {
		case "json":
			return report.PrintImageJSON(o.Out, doc)
		case "yaml":
			return report.PrintYAML(o.Out, doc)
		}
		return report.PrintImageTable(o.Out, rows)
	}
	switch o.Output {
	case "json":
		return report.PrintSimulationJSON(o.Out, rep)
	case "yaml":
		return report.PrintYAML(o.Out, rep)
	}
	if err := report.PrintSimulationTable(o.Out, rep, o.Output == "wide", terminalWidth(o.Out)); err != nil {
		return err
	}
	// The impact goes to stderr so that stdout stays one table.
	lines := append([]string{report.ImpactLine(rep.Summary)}, report.ImpactBreakdown(rep.Results)...)
	_, err := fmt.Fprintln(o.ErrOut, strings.Join(lines, "\n"))
	return err
}

// resolveUncovered fills the digest of rows no check resolved, as the registry answers a
// GET of the image; an image that does not resolve keeps no digest.
func resolveUncovered(ctx context.Context, ver *verify.Verifier, rows []report.ImageRow, parallel int) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i := range rows {
		if rows[i].Digest != "" || rows[i].Image == "" {
			continue
		}
		g.Go(func() error {
			if d, err := ver.Digest(gctx, rows[i].Image, verify.Auth{}); err == nil {
				rows[i].Digest = d
			}
			return nil
		})
	}
	_ = g.Wait()
}

func terminalWidth(w any) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}
