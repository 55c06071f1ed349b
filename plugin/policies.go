package plugin

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/policyload"
	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	kwpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// engineNames are every engine `policies` reports on, found or not.
var engineNames = []string{"kyverno", "sigstore", "kubewarden"}

// PoliciesOptions is `kubectl verify policies`.
type PoliciesOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Policies    []string
	// Names, when given, are the only policies listed (NAME, or NAMESPACE/NAME when namespaced).
	Names     []string
	Engines   EngineFlags
	ChunkSize int64
	Output    string
	// TrustedRoot, as for simulate: what needs public Sigstore material is then replayed.
	TrustedRoot string
	genericiooptions.IOStreams
}

// PolicyList is what `policies -o json` prints.
type PolicyList struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Source     string         `json:"source"`
	Engines    []EngineStatus `json:"engines"`
	Policies   []PolicyRow    `json:"policies"`
	Warnings   []string       `json:"warnings"`
}

// EngineStatus says whether an engine's policy kinds were found.
type EngineStatus struct {
	Name     string   `json:"name"`
	Found    bool     `json:"found"`
	Kinds    []string `json:"kinds"`
	Replayed bool     `json:"replayed"`
	// Note says what of a found engine is replayed when that is not all of it.
	Note string `json:"note,omitempty"`
}

// PolicyRow is one rule of one policy (one row per policy for Sigstore and Kubewarden).
type PolicyRow struct {
	Engine      string   `json:"engine"`
	Kind        string   `json:"kind"`
	Namespace   string   `json:"namespace,omitempty"`
	Name        string   `json:"name"`
	Rule        string   `json:"rule"`
	Mode        string   `json:"mode"`
	Images      []string `json:"images"`
	Skip        []string `json:"skipImages,omitempty"`
	Authorities []string `json:"authorities"`
	// Validations are an ImageValidatingPolicy's CEL validations, each with its message.
	Validations []string `json:"validations,omitempty"`
	Unsupported []string `json:"unsupported"`
	Source      string   `json:"source"`
	// Module is a Kubewarden policy's module reference.
	Module string `json:"module,omitempty"`
	// Simulated is false for a policy that is listed only: a Kubewarden module other than
	// verify-image-signatures.
	Simulated bool `json:"simulated"`
}

// NewCmdPolicies is `kubectl verify policies`.
func NewCmdPolicies(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PoliciesOptions{ConfigFlags: genericclioptions.NewConfigFlags(true), IOStreams: streams, Output: "table", ChunkSize: 500}
	cmd := &cobra.Command{
		Use:   "policies [NAME...]",
		Short: "List the image-verification policies found, per engine, and what is not replayed",
		Example: `  # Every policy of the current cluster, per engine
  kubectl verify policies

  # Two of them (a namespaced Kyverno Policy is NAMESPACE/NAME), from files
  kubectl verify policies --policy policies/ check-images team-a/check-team-images`,
		ValidArgsFunction: completePolicyNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.ConfigFlags.AddFlags(fs)
	o.Engines.AddFlags(fs)
	fs.StringArrayVar(&o.Policies, "policy", nil, "Policy file or directory (repeatable, - for stdin); without it, policies come from the cluster")
	fs.Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "List cluster objects in chunks of this size")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: table, json or yaml")
	fs.StringVar(&o.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json standing in for the public Sigstore roots and log keys")
	registerCompletions(cmd, o.ConfigFlags)
	_ = cmd.RegisterFlagCompletionFunc("output", fixed("table", "json", "yaml"))
	return cmd
}

// Validate checks flags.
func (o *PoliciesOptions) Validate() error {
	if !slices.Contains([]string{"table", "json", "yaml"}, o.Output) {
		return &UsageError{fmt.Sprintf("--output %q is not supported; use table, json or yaml", o.Output)}
	}
	return nil
}

// Run loads and prints. A policy the engine would refuse exits 2 (from loading).
func (o *PoliciesOptions) Run(ctx context.Context) error {
	set, source, err := o.load(ctx, o.ErrOut)
	if err != nil {
		return err
	}
	if o.TrustedRoot != "" {
		if _, err := verify.LoadTrustRoot(o.TrustedRoot); err != nil {
			return &UsageError{fmt.Sprintf("--trusted-root: %v", err)}
		}
	}
	set.RequirePublicTrust(o.TrustedRoot != "")
	list := describe(set, source, o.TrustedRoot != "")
	if err := filterPolicies(&list, o.Names); err != nil {
		return err
	}
	switch o.Output {
	case "json":
		return report.PrintJSON(o.Out, list)
	case "yaml":
		return report.PrintYAML(o.Out, list)
	}
	for _, w := range list.Warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
	}
	return printPolicies(o.Out, list)
}

// load reads the policies from --policy files, else from the cluster; the API server's
// warnings go to errOut.
func (o *PoliciesOptions) load(ctx context.Context, errOut io.Writer) (*policyload.Set, string, error) {
	var set *policyload.Set
	source := "files"
	sigCfg, sigWarnings, err := loadSigstoreConfig(o.ConfigFlags, o.Engines.SigstoreConfig, o.Engines.SigstoreNamespace)
	if err != nil {
		return nil, "", err
	}
	if len(o.Policies) == 0 {
		c, err := connect(o.ConfigFlags, errOut)
		if err != nil {
			return nil, "", err
		}
		loader, err := c.policyLoader(o.Engines.KyvernoNamespace, o.Engines.SigstoreNamespace, o.ChunkSize)
		if err != nil {
			return nil, "", err
		}
		loader.SigstoreCompiled = sigCfg.Compiled
		if set, err = loader.Load(ctx); err != nil {
			return nil, "", fmt.Errorf("reading policies from %s: %w", c.server, err)
		}
		source = c.Source()
	} else {
		objs, err := readObjects(o.ConfigFlags, o.Policies, true, "", o.In)
		if err != nil {
			return nil, "", fmt.Errorf("--policy: %w", err)
		}
		ns := "default"
		if o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "" {
			ns = *o.ConfigFlags.Namespace
		}
		if set, err = policyload.FromObjectsWith(objs, ns, sigCfg.Config); err != nil {
			return nil, "", err
		}
	}
	set.Warnings = append(set.Warnings, sigWarnings...)
	return set, source, nil
}

// describe lists set; trusted says a trust root stands in for the public Sigstore material.
func describe(set *policyload.Set, source string, trusted bool) PolicyList {
	list := PolicyList{APIVersion: report.APIVersion, Kind: "PolicyList", Source: source, Policies: []PolicyRow{}, Warnings: set.Warnings}
	if list.Warnings == nil {
		list.Warnings = []string{}
	}
	for _, e := range engineNames {
		kinds := append([]string{}, set.Found[e]...)
		sort.Strings(kinds)
		status := EngineStatus{Name: e, Found: len(kinds) > 0, Kinds: kinds, Replayed: e == "kyverno" || e == "sigstore"}
		if e == "kubewarden" {
			status.Replayed, status.Note = kubewardenStatus(kinds, trusted)
		}
		list.Engines = append(list.Engines, status)
	}
	for _, p := range set.Kyverno {
		for _, r := range p.Spec.Rules {
			if len(r.VerifyImages) == 0 {
				continue
			}
			row := PolicyRow{Engine: "kyverno", Kind: p.Kind, Namespace: p.Namespace, Name: p.Name, Rule: r.Name, Mode: kyvernoMode(p, &r),
				Unsupported: append([]string{}, r.Unsupported...), Source: p.Source, Authorities: []string{}, Simulated: true}
			for _, iv := range r.VerifyImages {
				row.Images = append(row.Images, iv.ImageReferences...)
				row.Skip = append(row.Skip, iv.SkipImageReferences...)
				format := ""
				if iv.Type == "SigstoreBundle" {
					format = "Sigstore bundle: "
				}
				for _, set := range iv.Attestors {
					row.Authorities = append(row.Authorities, format+describeAttestors(set))
				}
				for _, a := range iv.Attestations {
					for _, set := range a.Attestors {
						row.Authorities = append(row.Authorities, "attestation "+a.EffectiveType()+": "+describeAttestors(set))
					}
				}
			}
			list.Policies = append(list.Policies, row)
		}
	}
	for _, p := range set.ImageValidating {
		list.Policies = append(list.Policies, describeImageValidating(p))
	}
	for _, p := range set.Sigstore {
		row := PolicyRow{Engine: "sigstore", Kind: "ClusterImagePolicy", Name: p.Name, Mode: p.Spec.Mode,
			Unsupported: append([]string{}, p.Unsupported...), Source: p.Source, Authorities: []string{}, Simulated: true}
		for _, g := range p.Spec.Images {
			row.Images = append(row.Images, g.Glob)
		}
		for _, a := range p.Spec.Authorities {
			row.Authorities = append(row.Authorities, a.Name+": "+describeAuthority(a))
		}
		list.Policies = append(list.Policies, row)
	}
	for _, p := range set.Kubewarden {
		list.Policies = append(list.Policies, describeKubewarden(p, trusted))
	}
	return list
}

// How simulate/engine/kubewarden replays a verify-image-signatures signature shape.
const (
	shapeNotReplayed = iota
	shapeReplayed
	// shapeNeedsTrustRoot: replayed against --trusted-root, which stands in for the Sigstore
	// TUF data Kubewarden's host reads; without it, a kubectl-verify error check.
	shapeNeedsTrustRoot
	// shapeRekorNeedsTrustRoot: replayed; with requireRekorBundle, as shapeNeedsTrustRoot.
	shapeRekorNeedsTrustRoot
)

// kubewardenShapes are the signature shapes in serde's order, with how each is replayed.
// Keep it in step with that engine's verify (and policyload's RequirePublicTrust).
var kubewardenShapes = []struct {
	kind string
	how  int
}{
	{kwpol.KindPubKeys, shapeReplayed},
	{kwpol.KindKeyless, shapeNeedsTrustRoot},
	{kwpol.KindGitHubActions, shapeNeedsTrustRoot},
	{kwpol.KindKeylessPrefix, shapeNeedsTrustRoot},
	{kwpol.KindCertificate, shapeRekorNeedsTrustRoot},
}

// kubewardenStatus: Kubewarden is replayed, as far as the note says when its kinds were found.
func kubewardenStatus(kinds []string, trusted bool) (bool, string) {
	if len(kinds) == 0 {
		return true, ""
	}
	var replayed, needRoot, not []string
	for _, s := range kubewardenShapes {
		switch {
		case s.how == shapeReplayed, s.how == shapeRekorNeedsTrustRoot, s.how == shapeNeedsTrustRoot && trusted:
			replayed = append(replayed, s.kind)
		case s.how == shapeNeedsTrustRoot:
			needRoot = append(needRoot, s.kind)
		default:
			not = append(not, s.kind)
		}
		if s.how == shapeRekorNeedsTrustRoot && !trusted {
			needRoot = append(needRoot, s.kind+" with requireRekorBundle")
		}
	}
	note := "verify-image-signatures replayed, signatures " + strings.Join(replayed, ", ")
	if len(needRoot) > 0 {
		note += "; " + strings.Join(needRoot, ", ") + " need --trusted-root"
	}
	if len(not) > 0 {
		note += "; " + strings.Join(not, ", ") + " not replayed yet"
	}
	if len(needRoot)+len(not) > 0 {
		note += " (else a kubectl-verify error check)"
	}
	return true, note + "; other modules listed, not simulated; policy groups replayed over their verify-image-signatures members (expressions of calls, !, && and ||)"
}

// describeKubewarden is one (Cluster)AdmissionPolicy: its signatures[] entries when it runs
// verify-image-signatures, else the module, listed as not simulated; for a policy group, its
// expression and each member's entries.
func describeKubewarden(p *kwpol.Policy, trusted bool) PolicyRow {
	row := PolicyRow{Engine: "kubewarden", Kind: p.Kind, Namespace: p.Namespace, Name: p.Name, Mode: p.Mode, Module: p.Module,
		Images: []string{}, Authorities: []string{}, Unsupported: []string{}, Source: p.Source, Simulated: p.VerifyImages}
	if !p.VerifyImages {
		row.Unsupported = append(row.Unsupported, "module "+p.Module+" is not verify-image-signatures: not simulated")
		return row
	}
	row.Unsupported = append(row.Unsupported, p.Unsupported...)
	if p.Group {
		row.Authorities = append(row.Authorities, "expression: "+p.Expression)
		for _, m := range p.Members {
			if !m.VerifyImages {
				row.Unsupported = append(row.Unsupported, "policies."+m.Name+" (module "+m.Module+" is not verify-image-signatures: not simulated)")
				continue
			}
			if m.SettingsError != "" {
				row.Authorities = append(row.Authorities, "policies."+m.Name+": invalid settings, so policy-server does not start with the group and it is never active: Policy settings are invalid: "+m.SettingsError)
				continue
			}
			for i, sig := range m.Settings.Signatures {
				row.Images = append(row.Images, sig.Image)
				row.Authorities = append(row.Authorities, fmt.Sprintf("policies.%s.signatures[%d]: %s", m.Name, i, describeSignature(sig)))
				if why := kubewardenNotReplayed(sig, trusted); why != "" {
					row.Unsupported = append(row.Unsupported, fmt.Sprintf("policies.%s.signatures[%d].%s (%s)", m.Name, i, sig.Kind, why))
				}
			}
		}
		return row
	}
	if p.SettingsError != "" {
		row.Authorities = append(row.Authorities, "invalid settings, so policy-server does not start with it and it is never active: Policy settings are invalid: "+p.SettingsError)
		return row
	}
	for i, sig := range p.Settings.Signatures {
		row.Images = append(row.Images, sig.Image)
		row.Authorities = append(row.Authorities, fmt.Sprintf("signatures[%d]: %s", i, describeSignature(sig)))
		if why := kubewardenNotReplayed(sig, trusted); why != "" {
			row.Unsupported = append(row.Unsupported, fmt.Sprintf("signatures[%d].%s (%s)", i, sig.Kind, why))
		}
	}
	return row
}

// kubewardenNotReplayed says why the engine does not replay the entry's host call ("" when
// it does). The host refuses some entries before any registry call (keyless info or a
// GitHub owner missing): those are replayed whatever the shape.
func kubewardenNotReplayed(sig kwpol.Signature, trusted bool) string {
	switch {
	case sig.Kind == kwpol.KindKeyless && len(sig.Keyless) == 0,
		sig.Kind == kwpol.KindKeylessPrefix && len(sig.KeylessPrefix) == 0,
		sig.Kind == kwpol.KindGitHubActions && sig.GitHubActions.Owner == "":
		return ""
	}
	for _, s := range kubewardenShapes {
		if s.kind != sig.Kind {
			continue
		}
		if s.how == shapeNotReplayed {
			break
		}
		if s.how == shapeReplayed || trusted || s.how == shapeRekorNeedsTrustRoot && !sig.RequireRekorBundle {
			return ""
		}
		return "needs the Fulcio roots and Rekor keys Kubewarden reads over TUF: give --trusted-root to replay it"
	}
	return sig.Kind + " signatures are not replayed yet"
}

// describeSignature says what a signatures[] entry checks: every key, identity or
// certificate of the entry must verify.
func describeSignature(sig kwpol.Signature) string {
	var what string
	switch sig.Kind {
	case kwpol.KindPubKeys:
		what = fmt.Sprintf("%d public key(s) (all must verify)", len(sig.PubKeys))
	case kwpol.KindKeyless:
		what = fmt.Sprintf("keyless, %d issuer/subject pair(s) (all must verify)", len(sig.Keyless))
	case kwpol.KindKeylessPrefix:
		what = fmt.Sprintf("keyless prefix, %d issuer/URL prefix pair(s) (all must verify)", len(sig.KeylessPrefix))
	case kwpol.KindGitHubActions:
		what = "GitHub Actions owner " + sig.GitHubActions.Owner
		if sig.GitHubActions.Repo != nil {
			what += ", repo " + *sig.GitHubActions.Repo
		}
	case kwpol.KindCertificate:
		what = fmt.Sprintf("%d certificate(s) (all must verify)", len(sig.Certificates))
		if len(sig.CertificateChain) > 0 {
			what += fmt.Sprintf(", chain of %d", len(sig.CertificateChain))
		}
		if sig.RequireRekorBundle {
			what += ", Rekor bundle required"
		}
	}
	if len(sig.Annotations) > 0 {
		keys := make([]string, 0, len(sig.Annotations))
		for k := range sig.Annotations {
			keys = append(keys, k+"="+sig.Annotations[k])
		}
		sort.Strings(keys)
		what += ", annotations " + strings.Join(keys, ",")
	}
	return what
}

// describeAuthority says what a ClusterImagePolicy authority checks (one passing authority
// passes the policy).
func describeAuthority(a spol.Authority) string {
	var what string
	switch {
	case a.Static != nil:
		what = "static " + a.Static.Action
	case a.Key != nil && a.Key.Data != "":
		what = "public key"
	case a.Key != nil && a.Key.SecretRef != nil:
		what = "key from Secret " + a.Key.SecretRef.Name
	case a.Key != nil:
		what = "kms key " + a.Key.KMS
	case a.Keyless != nil:
		what = fmt.Sprintf("keyless (%d identities)", len(a.Keyless.Identities))
	}
	for _, att := range a.Attestations {
		what += ", attestation " + att.PredicateType
		if att.Policy != nil {
			what += " (" + att.Policy.Type + " policy)"
		}
	}
	return what
}

// kyvernoMode is the rule's action as far as it does not depend on the namespace.
func kyvernoMode(p *kpol.Policy, r *kpol.Rule) string {
	for _, iv := range r.VerifyImages {
		if iv.FailureAction != nil && (*iv.FailureAction == "Enforce" || *iv.FailureAction == "enforce") {
			return "enforce"
		}
	}
	for _, iv := range r.VerifyImages {
		if iv.FailureAction != nil {
			return strings.ToLower(*iv.FailureAction)
		}
	}
	mode := strings.ToLower(p.Spec.ValidationFailureAction)
	var overrides []string
	for _, o := range p.Spec.ValidationFailureActionOverrides {
		where := strings.Join(o.Namespaces, ",")
		if o.NamespaceSelector != nil {
			where += " (namespaceSelector)"
		}
		overrides = append(overrides, strings.ToLower(o.Action)+" in "+strings.TrimSpace(where))
	}
	if len(overrides) > 0 {
		mode += "; " + strings.Join(overrides, "; ")
	}
	return mode
}

func describeAttestors(set kpol.AttestorSet) string {
	keys := 0
	var other []string
	for _, e := range set.Entries {
		switch {
		case e.Keys != nil && strings.HasPrefix(strings.TrimSpace(e.Keys.PublicKeys), "-----BEGIN"):
			keys += len(kpol.SplitPEMKeys(e.Keys.PublicKeys))
		case e.Keys != nil && e.Keys.PublicKeys != "":
			other = append(other, "key "+strings.TrimSpace(e.Keys.PublicKeys))
		case e.Keys != nil:
			other = append(other, "kms/secret key")
		case e.Keyless != nil:
			other = append(other, "keyless")
		case e.Certificates != nil:
			other = append(other, "certificates")
		default:
			other = append(other, "nested attestor")
		}
	}
	var parts []string
	if keys > 0 {
		parts = append(parts, fmt.Sprintf("%d public key(s)", keys))
	}
	parts = append(parts, other...)
	need := "all"
	if set.Count != nil && *set.Count > 0 {
		need = fmt.Sprint(*set.Count)
	}
	return strings.Join(parts, ", ") + " (" + need + " must verify)"
}

func printPolicies(w io.Writer, list PolicyList) error {
	for _, e := range list.Engines {
		state := "not found"
		if e.Found {
			state = "found: " + strings.Join(e.Kinds, ", ")
			switch {
			case e.Note != "":
				state += " (" + e.Note + ")"
			case !e.Replayed:
				state += " (not replayed yet)"
			}
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", e.Name, state); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	rows := [][]string{{"ENGINE", "POLICY", "RULE", "MODE", "IMAGES", "AUTHORITIES"}}
	last := []string{"NOT REPLAYED"}
	for _, p := range list.Policies {
		name := p.Kind + "/" + p.Name
		if p.Namespace != "" {
			name = p.Kind + "/" + p.Namespace + "/" + p.Name
		}
		rows = append(rows, []string{p.Engine, name, p.Rule, p.Mode, strings.Join(p.Images, ","), dashed(strings.Join(p.Authorities, "; "))})
		last = append(last, dashed(strings.Join(p.Unsupported, "; ")))
	}
	if err := report.PrintColumns(w, rows, last, 0); err != nil {
		return err
	}
	// CEL validations are long: each policy's are listed under the table, one a line.
	for _, p := range list.Policies {
		if len(p.Validations) == 0 {
			continue
		}
		name := p.Kind + "/" + p.Name
		if p.Namespace != "" {
			name = p.Kind + "/" + p.Namespace + "/" + p.Name
		}
		fmt.Fprintf(w, "\n%s validations:\n", name)
		for i, v := range p.Validations {
			if _, err := fmt.Fprintf(w, "  %d. %s\n", i+1, strings.Join(strings.Fields(v), " ")); err != nil {
				return err
			}
		}
	}
	return nil
}

func dashed(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeImageValidating is one ImageValidatingPolicy: its image references, attestors,
// attestations and validations, and what of it is not replayed.
func describeImageValidating(p *ivpol.Policy) PolicyRow {
	s := p.Spec
	row := PolicyRow{Engine: "kyverno", Kind: p.Kind, Namespace: p.Namespace, Name: p.Name, Rule: p.Name,
		Mode: strings.ToLower(strings.Join(s.ValidationActions, ",")), Images: []string{}, Authorities: []string{},
		Unsupported: append([]string{}, p.NotReplayed...), Source: p.Source, Simulated: true}
	for _, m := range s.MatchImageReferences {
		if m.Glob != "" {
			row.Images = append(row.Images, m.Glob)
		} else {
			row.Images = append(row.Images, "expression: "+m.Expression)
		}
	}
	if len(s.MatchImageReferences) == 0 {
		row.Images = append(row.Images, "*")
	}
	for _, a := range s.Attestors {
		row.Authorities = append(row.Authorities, a.Name+": "+describeIvpolAttestor(a))
	}
	for _, a := range s.Attestations {
		switch {
		case a.InToto != nil:
			row.Authorities = append(row.Authorities, "attestation "+a.Name+": in-toto "+a.InToto.Type)
		case a.Referrer != nil:
			row.Authorities = append(row.Authorities, "attestation "+a.Name+": referrer "+a.Referrer.Type)
		}
	}
	for _, v := range s.Validations {
		text := v.Expression
		switch {
		case v.MessageExpression != "":
			text += " (message: " + v.MessageExpression + ")"
		case v.Message != "":
			text += " (message: " + strconv.Quote(v.Message) + ")"
		}
		row.Validations = append(row.Validations, text)
	}
	return row
}

func describeIvpolAttestor(a ivpol.Attestor) string {
	if a.Notary != nil {
		return "notary certificates"
	}
	c := a.Cosign
	var parts []string
	switch {
	case c.Key != nil && c.Key.KMS != "":
		parts = append(parts, "cosign key "+c.Key.KMS)
	case c.Key != nil && c.Key.Expression != "":
		parts = append(parts, "cosign key from expression")
	case c.Key != nil:
		parts = append(parts, "cosign public key")
	case c.Certificate != nil:
		parts = append(parts, "cosign certificate")
	case c.Keyless != nil:
		var ids []string
		for _, id := range c.Keyless.Identities {
			ids = append(ids, cmp.Or(id.Issuer, id.IssuerRegExp)+" "+cmp.Or(id.Subject, id.SubjectRegExp))
		}
		parts = append(parts, "cosign keyless ("+strings.Join(ids, "; ")+")")
	default:
		parts = append(parts, "cosign")
	}
	if c.CTLog != nil && c.CTLog.InsecureIgnoreTlog {
		parts = append(parts, "transparency log ignored")
	}
	if c.Source != nil && c.Source.Repository != "" {
		parts = append(parts, "signatures in "+c.Source.Repository)
	}
	return strings.Join(parts, ", ")
}
