// Command demo is the offline demo behind `make demo`: an in-process registry, images signed
// at start-up, example Kyverno policies and manifests, and `kubectl verify simulate` on them.
package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/plugin"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

//go:embed policy.yaml
var policyTemplate string

//go:embed manifests.yaml
var manifestTemplate string

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
}

func run() error {
	reg := verifytest.NewRegistry(false)
	defer reg.Close()
	trusted, err := verifytest.NewKey()
	if err != nil {
		return err
	}
	other, err := verifytest.NewKey()
	if err != nil {
		return err
	}
	images := []struct {
		ref string
		key *verifytest.Key
	}{
		{"demo/app:signed", trusted}, {"demo/app:unsigned", nil}, {"demo/app:other-key", other}, {"team/tool:v1", nil},
	}
	for _, im := range images {
		ref := reg.Host + "/" + im.ref
		if _, err := verifytest.Push(ref); err != nil {
			return err
		}
		if im.key != nil {
			if err := verifytest.Sign(ref, im.key); err != nil {
				return err
			}
		}
	}
	dir, err := os.MkdirTemp("", "kubectl-verify-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // best effort
	keyLines := strings.ReplaceAll(strings.TrimSpace(trusted.PublicPEM), "\n", "\n              ")
	sub := strings.NewReplacer("${REGISTRY}", reg.Host, "${KEY}", keyLines)
	policy := filepath.Join(dir, "policy.yaml")
	manifests := filepath.Join(dir, "manifests.yaml")
	if err := os.WriteFile(policy, []byte(sub.Replace(policyTemplate)), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(manifests, []byte(sub.Replace(manifestTemplate)), 0o600); err != nil {
		return err
	}
	fmt.Printf("registry %s: demo/app:signed (trusted key), demo/app:unsigned, demo/app:other-key (another key), team/tool:v1 (unsigned)\n", reg.Host)
	fmt.Printf("$ kubectl verify simulate --policy policy.yaml -f manifests.yaml -o wide --fail-on=never\n\n")
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := plugin.NewCmdRoot(streams)
	// Extra arguments (e.g. `go run ./hack/demo -o json`) override the defaults.
	cmd.SetArgs(append([]string{"simulate", "--policy", policy, "-f", manifests, "-o", "wide", "--fail-on=never"}, os.Args[1:]...))
	return cmd.ExecuteContext(context.Background())
}
