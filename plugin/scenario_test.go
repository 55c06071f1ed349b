package plugin_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/internal/scenario"
	"github.com/kubectl-verify/kubectl-verify/plugin"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// deadHost is a loopback host:port where nothing listens.
func deadHost(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() //nolint:errcheck // freeing the port is the point
	return addr
}

// run executes `kubectl verify args...` in-process and returns stdout, stderr, exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := plugin.NewCmdRoot(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil {
		// What main would print.
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), plugin.ExitCode(err)
}

// errorOf runs the command and returns its exit code and error text.
func errorOf(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := plugin.NewCmdRoot(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0, ""
	}
	return plugin.ExitCode(err), err.Error()
}

// TestScenarios runs every testdata/scenarios suite against an in-process registry, with and
// without the OCI referrers API (only with it for `registry: referrers`), signatures made in Go.
func TestScenarios(t *testing.T) {
	all, err := scenario.LoadAll(filepath.Join("..", "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no scenarios found")
	}
	for _, referrers := range []bool{false, true} {
		name := "legacy-registry"
		if referrers {
			name = "referrers-registry"
		}
		t.Run(name, func(t *testing.T) {
			reg := verifytest.NewRegistry(referrers)
			defer reg.Close()
			dead := deadHost(t)
			// Valid since 2020, so that identities valid in the past chain to it at their time.
			ca, err := verifytest.NewCAValid(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range all {
				t.Run(sc.Name, func(t *testing.T) {
					if sc.Images.NeedsReferrers() && !referrers {
						t.Skip("images.yaml: registry: referrers")
					}
					if sc.Live() {
						t.Skip("live scenario (cluster.yaml): e2e TestKyvernoAdmission runs it against a cluster holding its objects")
					}
					env := scenario.Env{Registry: reg.Host, DeadRegistry: dead, Digests: map[string]string{}, PublicKeys: map[string]string{},
						Roots: ca.PEM, Certs: map[string]string{}, LogKeys: map[string]string{}, TSAChains: map[string]string{}, CTLogKeys: map[string]string{}}
					ctlogs := map[string]*verifytest.CTLog{}
					for _, name := range sc.Images.CTLogs {
						if ctlogs[name], err = verifytest.NewCTLog(); err != nil {
							t.Fatal(err)
						}
						env.CTLogKeys[name] = ctlogs[name].PublicPEM
					}
					ids := map[string]*verifytest.Identity{}
					for name, spec := range sc.Images.Identities {
						from, to, err := spec.Validity(time.Now())
						if err != nil {
							t.Fatal(err)
						}
						id, err := ca.IssueWithSCT(spec.Subject, spec.Issuer, spec.Extensions, from, to, ctlogs[spec.SCT])
						if err != nil {
							t.Fatal(err)
						}
						ids[name], env.Certs[name] = id, id.CertPEM
					}
					logs := map[string]*verifytest.Rekor{}
					for _, name := range sc.Images.Logs {
						if logs[name], err = verifytest.NewRekor(); err != nil {
							t.Fatal(err)
						}
						env.LogKeys[name] = logs[name].PublicPEM
					}
					tsas := map[string]*verifytest.TSA{}
					for _, name := range sc.Images.TSAs {
						if tsas[name], err = verifytest.NewTSA(); err != nil {
							t.Fatal(err)
						}
						env.TSAChains[name] = tsas[name].ChainPEM
					}
					keys := map[string]*verifytest.Key{}
					for _, k := range sc.Images.Keys {
						key, err := verifytest.NewKeyOfType(scenario.KeyType(k))
						if err != nil {
							t.Fatal(err)
						}
						keys[k] = key
						env.PublicKeys[k] = key.PublicPEM
					}
					for _, im := range sc.Images.Images {
						// Scenarios share repository paths: each push gives new content (a new digest), and
						// signatures attach to digests, so earlier scenarios leave nothing behind.
						ref := reg.Host + "/" + im.Ref
						d, err := verifytest.Push(ref)
						if err != nil {
							t.Fatal(err)
						}
						env.Digests[im.Ref] = d
						for _, k := range im.Sign {
							repo := ""
							if im.SignRepository != "" {
								repo = reg.Host + "/" + im.SignRepository
							}
							if err := verifytest.SignInto(ref, repo, keys[k]); err != nil {
								t.Fatal(err)
							}
						}
						for _, id := range im.SignKeyless {
							if err := verifytest.SignWithCertificate(ref, ids[id]); err != nil {
								t.Fatal(err)
							}
						}
						for _, a := range im.Attest {
							pred, err := a.PredicateJSON()
							if err != nil {
								t.Fatal(err)
							}
							if id := ids[a.Identity]; id != nil {
								err = verifytest.AttestWithCertificate(ref, id, a.Type, pred)
							} else {
								err = verifytest.Attest(ref, keys[a.Key], a.Type, pred)
							}
							if err != nil {
								t.Fatal(err)
							}
						}
						for _, k := range im.SignBundle {
							if err := verifytest.SignBundle(ref, keys[k]); err != nil {
								t.Fatal(err)
							}
						}
						for _, l := range im.SignDetached {
							d := verifytest.Detached{Key: keys[l.Key], Log: logs[l.Log], TSA: tsas[l.TSA]}
							if id := ids[l.Identity]; id != nil {
								d.Key, d.CertPEM, d.ChainPEM = id.Key, id.CertPEM, id.ChainPEM
							}
							d.LoggedAt, _ = l.IntegratedTime(time.Now())
							d.StampedAt, _ = l.StampTime(time.Now())
							if err := verifytest.SignDetached(ref, d); err != nil {
								t.Fatal(err)
							}
						}
						for _, k := range im.SignReferrers {
							if err := verifytest.SignReferrers(ref, keys[k]); err != nil {
								t.Fatal(err)
							}
						}
						if im.TagPrefix != "" {
							if err := verifytest.MoveToPrefix(ref, im.TagPrefix); err != nil {
								t.Fatal(err)
							}
						}
					}
					trustDir := t.TempDir()
					env.TrustedRoot = filepath.Join(trustDir, "trusted_root.json")
					tr := verifytest.TrustedRoot{CA: ca}
					for _, name := range sc.Images.Logs {
						tr.Logs = append(tr.Logs, logs[name])
					}
					for _, name := range sc.Images.CTLogs {
						tr.CTLogs = append(tr.CTLogs, ctlogs[name])
					}
					if raw, err := tr.JSON(); err != nil || os.WriteFile(env.TrustedRoot, raw, 0o600) != nil {
						t.Fatalf("trusted root: %v", err)
					}
					files, err := sc.Materialize(env, trustDir)
					if err != nil {
						t.Fatal(err)
					}
					args := append([]string{"simulate", "--policy", files.Policies, "-f", files.Resources, "-o", "json"}, files.Args...)
					out, stderr, code := run(t, "", args...)
					if code == 2 {
						if os.Getenv("SCENARIO_DUMP") != "" {
							b, _ := os.ReadFile(files.Policies)
							t.Logf("policies:\n%s", b)
						}
						t.Fatalf("kubectl verify %s: exit 2: %s", strings.Join(args, " "), stderr)
					}
					if os.Getenv("SCENARIO_DUMP") != "" {
						t.Logf("report:\n%s\nstderr:\n%s", out, stderr)
					}
					scenario.Compare(t, files.Expected, []byte(out), code)
					// Determinism: the same inputs give the same bytes on another run, however
					// many resources are evaluated at once.
					for _, parallel := range []string{"1", "16"} {
						again, _, _ := run(t, "", append(args, "--parallel="+parallel)...)
						if d := cmp.Diff(out, again); d != "" {
							t.Errorf("a run with --parallel=%s gives another report (-first +again):\n%s", parallel, d)
						}
					}
				})
			}
		})
	}
}
