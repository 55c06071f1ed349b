package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// inputs is everything a run reads before evaluating.
type inputs struct {
	policies          *policyload.Set
	kyvernoConfig     kpol.Config
	sigstoreConfig    spol.Config
	resources         []manifest.Object
	namespaceLabels   map[string]map[string]string
	unknownNamespaces map[string]string
	gaps              []simulate.Gap
	warnings          []string
	// cluster is set when the run reads one (it then also resolves key Secrets).
	cluster *cluster
	// trust is --trusted-root, read before anything else is.
	trust *verify.TrustRoot
	// old are the old objects of an UPDATE, by simulate.ObjectKey; fromCluster says the
	// resources are live objects.
	old         map[string]map[string]any
	fromCluster bool
}

// inputs reads policies and resources from files or the cluster. The cluster is contacted
// only when one of them comes from it, or when an UPDATE of local manifests has no
// --old-filename (the live objects are then the old ones).
func (o *SimulateOptions) inputs(ctx context.Context, ns string) (*inputs, error) {
	in := &inputs{}
	if o.Registry.TrustedRoot != "" {
		var err error
		if in.trust, err = verify.LoadTrustRoot(o.Registry.TrustedRoot); err != nil {
			return nil, &UsageError{fmt.Sprintf("--trusted-root: %v", err)}
		}
	}
	policiesFromCluster := len(o.Sources.Policies) == 0
	resourcesFromCluster := len(o.Sources.Filenames) == 0 && o.Sources.Kustomize == ""
	// An UPDATE of local manifests without --old-filename updates the live objects.
	liveOld := o.Operation == simulate.OperationUpdate && len(o.OldFiles) == 0 && !resourcesFromCluster
	var c *cluster
	if policiesFromCluster || resourcesFromCluster || liveOld {
		var err error
		if c, err = connect(o.ConfigFlags, o.ErrOut); err != nil {
			return nil, err
		}
	}
	sigCfg, sigWarnings, err := loadSigstoreConfig(o.ConfigFlags, o.Engines.SigstoreConfig, o.Engines.SigstoreNamespace)
	if err != nil {
		return nil, err
	}
	if policiesFromCluster {
		loader, err := c.policyLoader(o.Engines.KyvernoNamespace, o.Engines.SigstoreNamespace, o.Sources.ChunkSize)
		if err != nil {
			return nil, err
		}
		loader.SigstoreCompiled = sigCfg.Compiled
		if in.policies, err = loader.Load(ctx); err != nil {
			return nil, fmt.Errorf("reading policies from %s: %w", c.server, err)
		}
	} else {
		objs, err := readObjects(o.ConfigFlags, o.Sources.Policies, true, "", o.In)
		if err != nil {
			return nil, fmt.Errorf("--policy: %w", err)
		}
		if in.policies, err = policyload.FromObjectsWith(objs, ns, sigCfg.Config); err != nil {
			return nil, err
		}
	}
	for _, p := range in.policies.ImageValidating {
		if len(p.NotReplayed) > 0 {
			in.warnings = append(in.warnings, fmt.Sprintf("%s %s is not replayed (%s): each resource it matches gets a kubectl-verify error check", p.Kind, p.Key(), strings.Join(p.NotReplayed, "; ")))
		}
	}
	if !sigCfg.settings && in.policies.SigstoreConfig != nil {
		sigCfg.Config = *in.policies.SigstoreConfig
	}
	in.sigstoreConfig = sigCfg.Config
	in.warnings = append(in.warnings, sigWarnings...)
	var inlineWarnings []string
	in.policies.Sigstore, inlineWarnings = inlineReferences(ctx, c, in.policies.Sigstore, sigCfg.Namespace)
	in.warnings = append(in.warnings, inlineWarnings...)
	in.policies.RequirePublicTrust(in.trust != nil)
	in.warnings = append(in.warnings, in.policies.Warnings...)
	for _, g := range in.policies.Gaps {
		in.gaps = append(in.gaps, simulate.Gap(g))
	}
	cfg, warnings, err := loadKyvernoConfig(o.ConfigFlags, o.Engines.KyvernoConfig)
	if err != nil {
		return nil, err
	}
	if o.Engines.KyvernoConfig == "" && in.policies.KyvernoConfig != nil {
		cfg = *in.policies.KyvernoConfig
	}
	cfg.Namespace = o.Engines.KyvernoNamespace
	in.kyvernoConfig = cfg
	in.warnings = append(in.warnings, warnings...)
	if resourcesFromCluster {
		objs, gaps, err := c.resources(ctx, o.args, ns, o.Sources.AllNamespaces, o.Sources.Selector, o.Sources.ChunkSize)
		if err != nil {
			return nil, fmt.Errorf("reading resources from %s: %w", c.server, err)
		}
		in.resources = objs
		in.warnings = append(in.warnings, gaps...)
	} else {
		objs, err := readObjects(o.ConfigFlags, o.Sources.Filenames, o.Sources.Recursive, o.Sources.Kustomize, o.In)
		if err != nil {
			return nil, err
		}
		in.resources = objs
	}
	in.fromCluster = resourcesFromCluster
	old, warnings, err := o.oldObjects(ctx, in.resources, c, ns, resourcesFromCluster)
	if err != nil {
		return nil, err
	}
	in.old = old
	in.warnings = append(in.warnings, warnings...)
	in.cluster = c
	if c != nil {
		labels, unknown, warnings, err := c.namespaceLabels(ctx, namespacesOf(in.resources, ns), o.Sources.ChunkSize)
		if err != nil {
			return nil, fmt.Errorf("reading namespaces from %s: %w", c.server, err)
		}
		in.namespaceLabels, in.unknownNamespaces = labels, unknown
		in.warnings = append(in.warnings, warnings...)
	}
	return in, nil
}

func namespacesOf(objs []manifest.Object, def string) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		n := o.Namespace()
		if n == "" {
			n = def
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
