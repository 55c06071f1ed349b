package plugin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/dynamic"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// binaryName is what a completion script completes: the plugin's own executable (kubectl
// reaches it through kubectl_complete-verify, which calls the same __complete command).
const binaryName = "kubectl-verify"

var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// NewCmdCompletion is `kubectl verify completion SHELL`.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script of kubectl-verify",
		Long: `Print the shell completion script of kubectl-verify, for the named shell.

  source <(kubectl-verify completion bash)                                  # bash
  kubectl-verify completion zsh > "${fpath[1]}/_kubectl-verify"             # zsh
  kubectl-verify completion fish > ~/.config/fish/completions/kubectl-verify.fish

Through kubectl (kubectl verify <TAB>, kubectl 1.26 and later), put the kubectl_complete-verify
script shipped beside the binary (krew installs it in its store) on PATH: kubectl runs it,
and it asks kubectl-verify, so the shell's kubectl completion needs nothing more.`,
		ValidArgs: completionShells,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(completionShells, args[0]) {
				return &UsageError{"completion needs one shell: " + strings.Join(completionShells, ", ")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.Root(), args[0], streams.Out)
		},
	}
}

// writeCompletion writes shell's script for root, named after the executable: cobra names the
// script's functions and the command it completes after the root's first word, which for help
// text is "kubectl".
func writeCompletion(root *cobra.Command, shell string, w io.Writer) error {
	use := root.Use
	root.Use = binaryName
	defer func() { root.Use = use }()
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	default:
		return root.GenPowerShellCompletionWithDesc(w)
	}
}

// completionTimeout bounds each cluster request a completion makes: a shell waits on it.
const completionTimeout = 5 * time.Second

// fixed completes a flag from a list of values, in their order.
func fixed(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// registerCompletions adds the completions every command shares: kubeconfig names, the
// namespaces of the cluster, and manifest and config files by extension.
func registerCompletions(cmd *cobra.Command, flags *genericclioptions.ConfigFlags) {
	fs := cmd.Flags()
	register := func(name string, f cobra.CompletionFunc) {
		if fs.Lookup(name) != nil {
			_ = cmd.RegisterFlagCompletionFunc(name, f)
		}
	}
	register("namespace", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return listNames(flags, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	register("context", kubeconfigNames(flags, func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.Contexts)) }))
	register("cluster", kubeconfigNames(flags, func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.Clusters)) }))
	register("user", kubeconfigNames(flags, func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.AuthInfos)) }))
	for _, name := range []string{"policy", "filename", "old-filename", "kyverno-config", "sigstore-config"} {
		if fs.Lookup(name) != nil {
			_ = cmd.MarkFlagFilename(name, "yaml", "yml", "json")
		}
	}
	for _, name := range []string{"trusted-root", "registry-config"} {
		if fs.Lookup(name) != nil {
			_ = cmd.MarkFlagFilename(name, "json")
		}
	}
	if fs.Lookup("kustomize") != nil {
		_ = cmd.MarkFlagDirname("kustomize")
	}
	if fs.Lookup("cache-dir") != nil {
		_ = cmd.MarkFlagDirname("cache-dir")
	}
}

// kubeconfigNames completes a flag with names pick takes from the kubeconfig.
func kubeconfigNames(flags *genericclioptions.ConfigFlags, pick func(clientcmdapi.Config) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		raw, err := flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(pick(raw), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// withPrefix keeps the names that start with prefix, in their order.
func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// listNames lists the names of gvr in namespace ("" for cluster-scoped), or nothing when the
// cluster cannot be asked: a completion never prints an error into the shell.
func listNames(flags *genericclioptions.ConfigFlags, gvr schema.GroupVersionResource, namespace, prefix string) []string {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil
	}
	cfg.Timeout = completionTimeout
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	list, err := dyn.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.GetName())
	}
	return withPrefix(names, prefix)
}

// completeResourceArgs completes simulate's and images' TYPE[/NAME] arguments as kubectl get
// does: resource types the cluster serves (api-resources -o name), then, after TYPE/ or
// after a lone TYPE argument, the names of that type in the namespace.
func completeResourceArgs(flags *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if f := cmd.Flags().Lookup("filename"); f != nil && f.Changed {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if typ, prefix, ok := strings.Cut(toComplete, "/"); ok {
			var out []string
			for _, n := range resourceNames(cmd, flags, typ, prefix) {
				out = append(out, typ+"/"+n)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		if len(args) == 1 && !strings.Contains(args[0], "/") && !strings.Contains(args[0], ",") {
			return resourceNames(cmd, flags, args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(resourceTypes(flags), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// resourceTypes are the listable resources the cluster serves, named as api-resources -o name
// names them (plural, then .group outside the core group).
func resourceTypes(flags *genericclioptions.ConfigFlags) []string {
	dc, err := flags.ToDiscoveryClient()
	if err != nil {
		return nil
	}
	// Groups that fail discovery still leave the others' lists.
	lists, _ := dc.ServerPreferredResources()
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			name := r.Name
			if gv.Group != "" {
				name += "." + gv.Group
			}
			out = append(out, name)
		}
	}
	return out
}

// resourceNames lists the names of typ (any form kubectl takes: pods, po, deploy.apps ...) in
// the command's namespace, as kubectl would resolve them.
func resourceNames(cmd *cobra.Command, flags *genericclioptions.ConfigFlags, typ, prefix string) []string {
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil
	}
	all := false
	if f := cmd.Flags().Lookup("all-namespaces"); f != nil {
		all = f.Value.String() == "true"
	}
	infos, err := resource.NewBuilder(flags).Unstructured().NamespaceParam(ns).DefaultNamespace().AllNamespaces(all).
		ResourceTypeOrNameArgs(true, typ).Latest().Flatten().Do().Infos()
	if err != nil {
		return nil
	}
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	return withPrefix(names, prefix)
}

// completePolicyNames completes `policies NAME` with the policies --policy files hold, else
// the cluster's, named as `policies` lists them (namespace/name for namespaced kinds).
func completePolicyNames(o *PoliciesOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		set, _, err := o.load(ctx, io.Discard)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, row := range describe(set, "", false).Policies {
			if n := policyRowName(row); !slices.Contains(names, n) && !slices.Contains(args, n) {
				names = append(names, n)
			}
		}
		return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// policyRowName is how a policy is named on the command line: namespace/name when namespaced.
func policyRowName(r PolicyRow) string {
	if r.Namespace != "" {
		return r.Namespace + "/" + r.Name
	}
	return r.Name
}

// filterPolicies keeps the rows of the named policies; a name that matches none is an error.
func filterPolicies(list *PolicyList, names []string) error {
	if len(names) == 0 {
		return nil
	}
	found := map[string]bool{}
	var kept []PolicyRow
	for _, r := range list.Policies {
		n := policyRowName(r)
		for _, want := range names {
			if want == n || (r.Namespace == "" && want == r.Name) {
				found[want] = true
				kept = append(kept, r)
				break
			}
		}
	}
	var missing []string
	for _, n := range names {
		if !found[n] {
			missing = append(missing, fmt.Sprintf("%q", n))
		}
	}
	if len(missing) > 0 {
		return &UsageError{fmt.Sprintf("no image-verification policy named %s (namespaced policies are NAMESPACE/NAME)", strings.Join(missing, ", "))}
	}
	list.Policies = kept
	if list.Policies == nil {
		list.Policies = []PolicyRow{}
	}
	return nil
}
