// Package plugin is the command line: cobra commands, flags, and their conversion into
// simulate.Config. No policy logic lives here.
package plugin

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Build information, set with -ldflags -X at release time.
var (
	Version = "dev"
	Commit  = "unknown"
)

// NewCmdRoot is `kubectl verify`.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubectl verify",
		Short: "Replay image-signature admission policies before they are enforced",
		Long: `kubectl verify replays the image-verification admission policies of Kyverno
(verifyImages rules), Sigstore policy-controller (ClusterImagePolicy) and Kubewarden
(verify-image-signatures) against your manifests or cluster, verifying signatures against the
real registries, and reports what admission would allow, deny, warn and patch; and what
would be denied if every policy were enforced.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl verify",
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	// Our own completion command: cobra's would name its scripts after "kubectl".
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.AddCommand(NewCmdSimulate(streams), NewCmdImages(streams), NewCmdPolicies(streams), NewCmdPin(streams), NewCmdVersion(streams), NewCmdCompletion(streams))
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{err.Error()} })
	return cmd
}

// NewCmdVersion is `kubectl verify version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the engine versions whose semantics are replayed",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			version, commit := buildVersion(Version, Commit, bi)
			_, err := fmt.Fprintf(streams.Out, "kubectl-verify %s (commit %s)\nreplays: Kyverno 1.19, policy-controller 0.15, verify-image-signatures 1.0\n", version, commit)
			return err
		},
	}
}

// buildVersion is what the release build injected, else what the Go toolchain recorded: the
// module version of `go install ...@v1.2.3`, and the commit of a build in a git checkout.
func buildVersion(version, commit string, bi *debug.BuildInfo) (string, string) {
	if bi == nil {
		return version, commit
	}
	if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if commit == "unknown" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return version, commit
}
