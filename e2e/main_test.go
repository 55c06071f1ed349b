//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/internal/scenario"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// suite is the shared state TestMain prepares.
type suite struct {
	root string // repository root
	work string // work directory for this run

	bin     string // kubectl-verify binary
	binErr  error  // why there is no binary
	kubectl string

	crane, cosign, kyverno string
	referrersRegistry      string // hack/bin/referrers-registry, for `registry: referrers`

	env     []string // isolated environment for every child process
	pathDir string   // directory on PATH holding kubectl-verify

	dead string              // ${DEAD_REGISTRY}
	keys map[string]*keyPair // by name
	ca   *verifytest.CA      // the run's stand-in for Fulcio (${ROOTS})

	scenarios []*prepared
}

type keyPair struct {
	priv, pub string // file paths
	pem       string
}

// prepared is one scenario with its own registry, pushed and signed images, and substituted
// files on disk.
type prepared struct {
	sc       *scenario.Scenario
	dir      string
	registry string
	files    *scenario.Files
	err      error // setup failure: every test of this scenario fails with it

	kyvernoOnce sync.Once
	kyvernoOut  []byte
	kyvernoErr  error

	oursOnce sync.Once
	ours     runResult
}

type runResult struct {
	stdout, stderr []byte
	exitCode       int
	err            error // the process could not be run at all
	cmdline        string
}

var s *suite

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e setup: %v\n", err)
		teardown()
		os.Exit(2)
	}
	if code == 0 {
		code = m.Run()
	}
	teardown()
	os.Exit(code)
}

var (
	procsMu sync.Mutex
	procs   []*exec.Cmd
)

func teardown() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for _, c := range procs {
		if c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	procs = nil
	if s != nil && s.work != "" {
		if os.Getenv("E2E_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "e2e: work directory kept: %s\n", s.work)
		} else {
			_ = os.RemoveAll(s.work)
		}
	}
}

func setup() (int, error) {
	s = &suite{keys: map[string]*keyPair{}}
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	s.root = filepath.Dir(wd) // tests run in e2e/
	if _, err := os.Stat(filepath.Join(s.root, "go.mod")); err != nil {
		return 0, fmt.Errorf("repository root not found from %s: %w", wd, err)
	}
	if s.work, err = os.MkdirTemp("", "kubectl-verify-e2e-"); err != nil {
		return 0, err
	}

	// Tools.
	hb := filepath.Join(s.root, "hack", "bin")
	s.crane, s.cosign, s.kyverno = filepath.Join(hb, "crane"), filepath.Join(hb, "cosign"), filepath.Join(hb, "kubectl-kyverno")
	for _, p := range []string{s.crane, s.cosign, s.kyverno} {
		if _, err := os.Stat(p); err != nil {
			return 0, fmt.Errorf("%s is missing: run `make tools`", p)
		}
	}
	s.kubectl = os.Getenv("KUBECTL")
	if s.kubectl == "" {
		if s.kubectl, err = exec.LookPath("kubectl"); err != nil {
			return 0, errors.New("kubectl not found on PATH (set KUBECTL)")
		}
	}

	// Isolated environment: nothing from this machine's HOME, docker config or kubeconfig.
	home := filepath.Join(s.work, "home")
	s.pathDir = filepath.Join(s.work, "path")
	for _, d := range []string{home, filepath.Join(home, ".docker"), filepath.Join(home, ".kube"), s.pathDir, filepath.Join(s.work, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	s.env = []string{
		"HOME=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"KUBECONFIG=" + filepath.Join(home, ".kube", "config"), // never created
		"PATH=" + s.pathDir + ":/usr/local/bin:/usr/bin:/bin",
		"TMPDIR=" + filepath.Join(s.work, "tmp"),
		"COSIGN_PASSWORD=",
		"SIGSTORE_NO_CACHE=true",
		"TUF_ROOT=" + filepath.Join(home, ".sigstore", "root"),
		"NO_COLOR=1",
		"LANG=C.UTF-8",
	}

	// The binary under test (a failure here fails only the tests that need it).
	if p := os.Getenv("KUBECTL_VERIFY_BIN"); p != "" {
		// A relative path is taken from the repository root (go test runs in e2e/).
		if !filepath.IsAbs(p) {
			p = filepath.Join(s.root, p)
		}
		s.bin = p
		_, s.binErr = os.Stat(s.bin)
	} else {
		s.bin = filepath.Join(s.root, "bin", "kubectl-verify")
		cmd := exec.Command("go", "build", "-o", s.bin, "./cmd/kubectl-verify")
		cmd.Dir = s.root
		if out, err := cmd.CombinedOutput(); err != nil {
			s.binErr = fmt.Errorf("go build ./cmd/kubectl-verify: %v\n%s", err, out)
		}
	}
	if s.binErr == nil {
		if err := os.Symlink(s.bin, filepath.Join(s.pathDir, "kubectl-verify")); err != nil {
			return 0, err
		}
	}

	// Scenarios.
	all, err := scenario.LoadAll(filepath.Join(s.root, "testdata", "scenarios"))
	if err != nil {
		return 0, err
	}
	var only *regexp.Regexp
	if f := os.Getenv("E2E_SCENARIO"); f != "" {
		if only, err = regexp.Compile(f); err != nil {
			return 0, fmt.Errorf("E2E_SCENARIO: %w", err)
		}
	}
	keyNames := map[string]bool{}
	needReferrers := false
	for _, sc := range all {
		if only != nil && !only.MatchString(sc.Name) {
			continue
		}
		s.scenarios = append(s.scenarios, &prepared{sc: sc, dir: filepath.Join(s.work, "scenarios", sc.Name)})
		for _, k := range sc.Images.Keys {
			keyNames[k] = true
		}
		needReferrers = needReferrers || sc.Images.NeedsReferrers()
	}
	if len(s.scenarios) == 0 {
		return 0, errors.New("no scenario selected")
	}
	s.referrersRegistry = filepath.Join(hb, "referrers-registry")
	if _, err := os.Stat(s.referrersRegistry); err != nil && needReferrers {
		return 0, fmt.Errorf("%s is missing: run `make tools`", s.referrersRegistry)
	}

	// ${DEAD_REGISTRY}: a loopback port that was free a moment ago and that no registry of
	// this run will take.
	deadPort, err := freePort(nil)
	if err != nil {
		return 0, err
	}
	s.dead = "127.0.0.1:" + strconv.Itoa(deadPort)
	// Valid since 2020, so that identities valid in the past chain to it at their time.
	if s.ca, err = verifytest.NewCAValid(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour)); err != nil {
		return 0, err
	}

	// Key pairs, made by the real cosign CLI.
	keyDir := filepath.Join(s.work, "keys")
	if err := os.MkdirAll(keyDir, 0o755); err != nil {
		return 0, err
	}
	for name := range keyNames {
		if err := generateKey(keyDir, name); err != nil {
			return 0, err
		}
	}

	// Registries, images and signatures, a few scenarios at a time.
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	var wg sync.WaitGroup
	for _, p := range s.scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p.err = p.prepare(deadPort)
		}()
	}
	wg.Wait()
	return 0, nil
}

func generateKey(dir, name string) error {
	if kind := scenario.KeyType(name); kind != verifytest.ECDSAP256 {
		// cosign generates only ECDSA P-256; other types are made here and imported by the
		// real cosign CLI, the way users bring their own keys.
		k, err := verifytest.NewKeyOfType(kind)
		if err != nil {
			return err
		}
		src := filepath.Join(dir, name+".source.pem")
		if err := os.WriteFile(src, []byte(k.PrivatePEM), 0o600); err != nil {
			return err
		}
		out, err := run(context.Background(), dir, nil, s.cosign, "import-key-pair", "--key", src, "--output-key-prefix", name)
		if err != nil {
			return fmt.Errorf("cosign import-key-pair %s (%s): %v\n%s", name, kind, err, out)
		}
	} else if out, err := run(context.Background(), dir, nil, s.cosign, "generate-key-pair", "--output-key-prefix", name); err != nil {
		return fmt.Errorf("cosign generate-key-pair %s: %v\n%s", name, err, out)
	}
	kp := &keyPair{priv: filepath.Join(dir, name+".key"), pub: filepath.Join(dir, name+".pub")}
	pem, err := os.ReadFile(kp.pub)
	if err != nil {
		return err
	}
	kp.pem = string(pem)
	s.keys[name] = kp
	return nil
}

// prepare starts the scenario's registry, pushes and signs its images and writes its
// substituted files.
func (p *prepared) prepare(deadPort int) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	reg, err := startRegistry(p.dir, deadPort, p.sc.Images.NeedsReferrers())
	if err != nil {
		return err
	}
	p.registry = reg
	env := scenario.Env{Registry: reg, DeadRegistry: s.dead, Digests: map[string]string{}, PublicKeys: map[string]string{},
		Roots: s.ca.PEM, Certs: map[string]string{}, LogKeys: map[string]string{}, TSAChains: map[string]string{}, CTLogKeys: map[string]string{}}
	// Identities: a leaf certificate from the run's CA, its key imported into the real cosign.
	idFiles := map[string][3]string{} // name -> cosign key, leaf PEM, chain PEM
	ctlogs := map[string]*verifytest.CTLog{}
	for _, name := range p.sc.Images.CTLogs {
		if ctlogs[name], err = verifytest.NewCTLog(); err != nil {
			return err
		}
		env.CTLogKeys[name] = ctlogs[name].PublicPEM
	}
	for name, spec := range p.sc.Images.Identities {
		from, to, err := spec.Validity(time.Now())
		if err != nil {
			return err
		}
		id, err := s.ca.IssueWithSCT(spec.Subject, spec.Issuer, spec.Extensions, from, to, ctlogs[spec.SCT])
		if err != nil {
			return err
		}
		env.Certs[name] = id.CertPEM
		base := filepath.Join(p.dir, "id-"+name)
		for path, text := range map[string]string{base + ".source.pem": id.Key.PrivatePEM, base + ".crt": id.CertPEM, base + ".chain": id.ChainPEM} {
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				return err
			}
		}
		if out, err := run(context.Background(), p.dir, nil, s.cosign, "import-key-pair", "--key", base+".source.pem", "--output-key-prefix", base); err != nil {
			return fmt.Errorf("cosign import-key-pair (identity %s): %v\n%s", name, err, out)
		}
		idFiles[name] = [3]string{base + ".key", base + ".crt", base + ".chain"}
	}
	for _, k := range p.sc.Images.Keys {
		env.PublicKeys[k] = s.keys[k].pem
	}
	// Private transparency logs: cosign cannot reach a Rekor offline, so the bundle of a logged
	// signature is made in Go by a test log key, and attached by the real cosign.
	logs := map[string]*verifytest.Rekor{}
	for _, name := range p.sc.Images.Logs {
		if logs[name], err = verifytest.NewRekor(); err != nil {
			return err
		}
		env.LogKeys[name] = logs[name].PublicPEM
	}
	tsas := map[string]*verifytest.TSA{}
	for _, name := range p.sc.Images.TSAs {
		if tsas[name], err = verifytest.NewTSA(); err != nil {
			return err
		}
		env.TSAChains[name] = tsas[name].ChainPEM
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i, img := range p.sc.Images.Images {
		ref := reg + "/" + img.Ref
		layer := filepath.Join(p.dir, fmt.Sprintf("layer-%d.tar", i))
		if err := writeLayer(layer, p.sc.Name, img.Ref); err != nil {
			return err
		}
		if out, err := run(ctx, p.dir, nil, s.crane, "append", "-f", layer, "-t", ref); err != nil {
			return fmt.Errorf("crane append %s: %v\n%s", ref, err, out)
		}
		out, err := run(ctx, p.dir, nil, s.crane, "digest", ref)
		if err != nil {
			return fmt.Errorf("crane digest %s: %v\n%s", ref, err, out)
		}
		digest := strings.TrimSpace(string(out))
		if !strings.HasPrefix(digest, "sha256:") {
			return fmt.Errorf("crane digest %s printed %q", ref, digest)
		}
		env.Digests[img.Ref] = digest
		byDigest := reg + "/" + img.Repo() + "@" + digest
		var sigEnv []string
		if img.SignRepository != "" {
			sigEnv = []string{"COSIGN_REPOSITORY=" + reg + "/" + img.SignRepository}
		}
		for _, k := range img.Sign {
			if out, err := run(ctx, p.dir, sigEnv, s.cosign, "sign", "--key", s.keys[k].priv,
				"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y", byDigest); err != nil {
				return fmt.Errorf("cosign sign --key %s %s: %v\n%s", k, byDigest, err, out)
			}
			// The fixture must verify with the real cosign before anything is compared; cosign
			// signs with the key's natural hash, which its verify must then be told.
			verifyArgs := []string{"verify", "--key", s.keys[k].pub, "--insecure-ignore-tlog=true", "--new-bundle-format=false"}
			if scenario.KeyType(k) == verifytest.ECDSAP384 {
				verifyArgs = append(verifyArgs, "--signature-digest-algorithm", "sha384")
			}
			// cosign v3.1.3 signs with Ed25519ph but `cosign verify --key` (like Kyverno) loads a
			// pure Ed25519 verifier, so its own check cannot pass: the Kyverno oracle judges it.
			if scenario.KeyType(k) == verifytest.Ed25519 {
				continue
			}
			if out, err := run(ctx, p.dir, sigEnv, s.cosign, append(verifyArgs, byDigest)...); err != nil {
				return fmt.Errorf("cosign verify --key %s %s: %v\n%s", k, byDigest, err, out)
			}
		}
		for j, l := range img.SignDetached {
			var by signer
			if l.Identity != "" {
				f := idFiles[l.Identity]
				by = signer{key: f[0], verifier: env.Certs[l.Identity], cert: f[1], chain: f[2]}
			} else {
				by = signer{key: s.keys[l.Key].priv, verifier: s.keys[l.Key].pem}
			}
			if err := p.signDetached(ctx, fmt.Sprintf("detached-%d-%d", i, j), byDigest, by, l, logs[l.Log], tsas[l.TSA]); err != nil {
				return err
			}
		}
		for _, k := range img.SignReferrers {
			// The legacy format stored as an OCI 1.1 referrer; cosign v3.1.3 accepts the mode only
			// with COSIGN_EXPERIMENTAL=1.
			expEnv := []string{"COSIGN_EXPERIMENTAL=1"}
			if out, err := run(ctx, p.dir, expEnv, s.cosign, "sign", "--key", s.keys[k].priv, "--registry-referrers-mode=oci-1-1",
				"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y", byDigest); err != nil {
				return fmt.Errorf("cosign sign --registry-referrers-mode=oci-1-1 --key %s %s: %v\n%s", k, byDigest, err, out)
			}
			if err := checkReferrersSignature(ctx, p.dir, expEnv, k, byDigest); err != nil {
				return err
			}
		}
		for j, a := range img.Attest {
			pred, err := a.PredicateJSON()
			if err != nil {
				return err
			}
			pf := filepath.Join(p.dir, fmt.Sprintf("predicate-%d-%d.json", i, j))
			if err := os.WriteFile(pf, pred, 0o644); err != nil {
				return err
			}
			if a.Identity != "" {
				// As signKeyless: the leaf's key with its certificate and the CA as chain. No
				// cosign verify-attestation form exists offline for the test CA: the Kyverno
				// oracle judges these.
				f := idFiles[a.Identity]
				if out, err := run(ctx, p.dir, nil, s.cosign, "attest", "--key", f[0], "--certificate", f[1], "--certificate-chain", f[2],
					"--type", a.Type, "--predicate", pf,
					"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y", byDigest); err != nil {
					return fmt.Errorf("cosign attest --certificate (identity %s) --type %s %s: %v\n%s", a.Identity, a.Type, byDigest, err, out)
				}
				continue
			}
			if out, err := run(ctx, p.dir, nil, s.cosign, "attest", "--key", s.keys[a.Key].priv, "--type", a.Type, "--predicate", pf,
				"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y", byDigest); err != nil {
				return fmt.Errorf("cosign attest --key %s --type %s %s: %v\n%s", a.Key, a.Type, byDigest, err, out)
			}
			// Only cosign's own key type is checked here: other types need verify flags that
			// depend on the type; the Kyverno oracle judges those.
			if scenario.KeyType(a.Key) != verifytest.ECDSAP256 {
				continue
			}
			if out, err := run(ctx, p.dir, nil, s.cosign, "verify-attestation", "--key", s.keys[a.Key].pub, "--insecure-ignore-tlog=true",
				"--type", a.Type, "--new-bundle-format=false", byDigest); err != nil {
				return fmt.Errorf("cosign verify-attestation --key %s --type %s %s: %v\n%s", a.Key, a.Type, byDigest, err, out)
			}
		}
		for _, name := range img.SignKeyless {
			f := idFiles[name]
			if out, err := run(ctx, p.dir, nil, s.cosign, "sign", "--key", f[0], "--certificate", f[1], "--certificate-chain", f[2],
				"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y", byDigest); err != nil {
				return fmt.Errorf("cosign sign --certificate (identity %s) %s: %v\n%s", name, byDigest, err, out)
			}
		}
		for _, k := range img.SignBundle {
			// cosign v3's default: a Sigstore bundle, through the OCI 1.1 referrers API or
			// its sha256-<digest> tag fallback.
			if out, err := run(ctx, p.dir, nil, s.cosign, "sign", "--key", s.keys[k].priv,
				"--tlog-upload=false", "--use-signing-config=false", "-y", byDigest); err != nil {
				return fmt.Errorf("cosign sign (bundle) --key %s %s: %v\n%s", k, byDigest, err, out)
			}
			if out, err := run(ctx, p.dir, nil, s.cosign, "verify", "--key", s.keys[k].pub,
				"--insecure-ignore-tlog=true", "--new-bundle-format=true", byDigest); err != nil {
				return fmt.Errorf("cosign verify (bundle) --key %s %s: %v\n%s", k, byDigest, err, out)
			}
		}
		if img.TagPrefix != "" {
			if err := p.moveToPrefix(ctx, byDigest, digest, img.TagPrefix); err != nil {
				return err
			}
		}
	}
	// A trusted_root.json of the run's CA and the scenario's logs (${TRUSTED_ROOT}).
	tr := verifytest.TrustedRoot{CA: s.ca}
	for _, name := range p.sc.Images.Logs {
		tr.Logs = append(tr.Logs, logs[name])
	}
	for _, name := range p.sc.Images.CTLogs {
		tr.CTLogs = append(tr.CTLogs, ctlogs[name])
	}
	rootJSON, err := tr.JSON()
	if err != nil {
		return err
	}
	env.TrustedRoot = filepath.Join(p.dir, "trusted_root.json")
	if err := os.WriteFile(env.TrustedRoot, rootJSON, 0o600); err != nil {
		return err
	}
	inputs := filepath.Join(p.dir, "inputs")
	if err := os.MkdirAll(inputs, 0o755); err != nil {
		return err
	}
	f, err := p.sc.Materialize(env, inputs)
	if err != nil {
		return err
	}
	p.files = f
	return nil
}

// moveToPrefix moves the signature and attestation tags cosign wrote for an image to
// <prefix>sha256-<hex>.sig and .att with crane (copy, then delete), as policy-controller's
// e2e prepares source.tagPrefix. A suffix the image lacks is skipped.
func (p *prepared) moveToPrefix(ctx context.Context, byDigest, digest, prefix string) error {
	repo := byDigest[:strings.LastIndex(byDigest, "@")]
	base := strings.Replace(digest, ":", "-", 1)
	for _, suffix := range []string{".sig", ".att"} {
		from := repo + ":" + base + suffix
		if _, err := run(ctx, p.dir, nil, s.crane, "digest", from); err != nil {
			continue
		}
		if out, err := run(ctx, p.dir, nil, s.crane, "copy", from, repo+":"+prefix+base+suffix); err != nil {
			return fmt.Errorf("crane copy %s: %v\n%s", from, err, out)
		}
		if out, err := run(ctx, p.dir, nil, s.crane, "delete", from); err != nil {
			return fmt.Errorf("crane delete %s: %v\n%s", from, err, out)
		}
	}
	return nil
}

// checkReferrersSignature confirms with the real cosign that a signature made with
// --registry-referrers-mode=oci-1-1 verifies through the referrers lookup
// (--experimental-oci11) and, since it must not have landed under the .sig tag, not without it.
func checkReferrersSignature(ctx context.Context, dir string, env []string, k, byDigest string) error {
	args := []string{"verify", "--key", s.keys[k].pub, "--insecure-ignore-tlog=true", "--new-bundle-format=false"}
	if scenario.KeyType(k) == verifytest.ECDSAP384 {
		args = append(args, "--signature-digest-algorithm", "sha384")
	}
	if scenario.KeyType(k) != verifytest.Ed25519 { // cosign cannot verify its own Ed25519ph (above)
		if out, err := run(ctx, dir, env, s.cosign, append(append(args, "--experimental-oci11"), byDigest)...); err != nil {
			return fmt.Errorf("cosign verify --experimental-oci11 --key %s %s: %v\n%s", k, byDigest, err, out)
		}
	}
	out, err := run(ctx, dir, env, s.cosign, append(args, byDigest)...)
	if err == nil || !strings.Contains(string(out), "no signatures found") {
		return fmt.Errorf("cosign verify (legacy lookup) --key %s %s: %v, want \"no signatures found\"\n%s", k, byDigest, err, out)
	}
	return nil
}

// signer is what signs a logged signature: a cosign key file, and the PEM the log records
// (the public key, or the certificate that then goes with the signature).
type signer struct{ key, verifier, cert, chain string }

// signDetached signs the way one does without a registry-side `cosign sign`: `cosign generate`
// writes the payload, `cosign sign-blob` signs it, the scenario's log records it (a Rekor
// bundle made in Go) and/or its TSA stamps it (an RFC 3161 response made in Go), and `cosign
// attach signature --rekor-response --tsr` stores it all.
func (p *prepared) signDetached(ctx context.Context, name, byDigest string, sg signer, l scenario.DetachedSigning, log *verifytest.Rekor, tsa *verifytest.TSA) error {
	base := filepath.Join(p.dir, name)
	gen := execCmd(ctx, p.dir, s.cosign, "generate", byDigest)
	if gen.err != nil || gen.exitCode != 0 {
		return fmt.Errorf("cosign generate %s: %v\n%s", byDigest, gen.err, gen.stderr)
	}
	if err := os.WriteFile(base+".payload.json", gen.stdout, 0o600); err != nil {
		return err
	}
	if out, err := run(ctx, p.dir, nil, s.cosign, "sign-blob", "--key", sg.key, "--tlog-upload=false", "--new-bundle-format=false",
		"--use-signing-config=false", "--output-signature", base+".sig", "-y", base+".payload.json"); err != nil {
		return fmt.Errorf("cosign sign-blob %s: %v\n%s", base, err, out)
	}
	b64, err := os.ReadFile(base + ".sig")
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	if err != nil {
		return fmt.Errorf("%s.sig: %w", base, err)
	}
	args := []string{"attach", "signature", "--payload", base + ".payload.json", "--signature", base + ".sig"}
	if log != nil {
		at, err := l.IntegratedTime(time.Now())
		if err != nil {
			return err
		}
		bundle, err := log.Bundle(gen.stdout, raw, sg.verifier, at)
		if err != nil {
			return err
		}
		resp, err := verifytest.Signed{Payload: gen.stdout, Signature: raw, Bundle: bundle}.RekorResponseJSON(sg.cert)
		if err != nil {
			return err
		}
		if err := os.WriteFile(base+".rekor.json", resp, 0o600); err != nil {
			return err
		}
		args = append(args, "--rekor-response", base+".rekor.json")
	}
	if tsa != nil {
		at, err := l.StampTime(time.Now())
		if err != nil {
			return err
		}
		tsr, err := tsa.Stamp(raw, at)
		if err != nil {
			return err
		}
		if err := os.WriteFile(base+".tsr", tsr, 0o600); err != nil {
			return err
		}
		args = append(args, "--tsr", base+".tsr")
	}
	if sg.cert != "" {
		args = append(args, "--certificate", sg.cert, "--certificate-chain", sg.chain)
	}
	if out, err := run(ctx, p.dir, nil, s.cosign, append(args, byDigest)...); err != nil {
		return fmt.Errorf("cosign attach signature %s: %v\n%s", byDigest, err, out)
	}
	if sg.cert != "" || log == nil {
		// Keyless against private roots, and timestamps alone, have no `cosign verify` form
		// here; the Kyverno oracle judges those fixtures.
		return nil
	}
	// The bundle must satisfy the real cosign, offline, with the log's key.
	logKey := base + ".log.pub"
	if err := os.WriteFile(logKey, []byte(log.PublicPEM), 0o600); err != nil {
		return err
	}
	pub := base + ".pub"
	if err := os.WriteFile(pub, []byte(sg.verifier), 0o600); err != nil {
		return err
	}
	if out, err := run(ctx, p.dir, []string{"SIGSTORE_REKOR_PUBLIC_KEY=" + logKey}, s.cosign, "verify", "--key", pub, "--offline=true",
		"--insecure-ignore-sct=true", "--new-bundle-format=false", byDigest); err != nil {
		return fmt.Errorf("cosign verify (logged) %s: %v\n%s", byDigest, err, out)
	}
	return nil
}

// writeLayer writes a one-file layer tarball whose content names the scenario and image, so
// that every image of the run has its own digest, and the same one on every run.
func writeLayer(path, scenarioName, ref string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("kubectl-verify e2e fixture\nscenario: " + scenarioName + "\nimage: " + ref + "\n")
	if err := tw.WriteHeader(&tar.Header{
		Name: "fixture.txt", Mode: 0o644, Size: int64(len(body)),
		ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
	}); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// startRegistry runs `crane registry serve` (or, with referrers, hack/bin/referrers-registry,
// which also serves the OCI 1.1 referrers API) on a free loopback port and waits until it
// answers /v2/.
func startRegistry(dir string, avoid int, referrers bool) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort(map[int]bool{avoid: true})
		if err != nil {
			return "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		logf, err := os.Create(filepath.Join(dir, "registry.log"))
		if err != nil {
			return "", err
		}
		cmd := exec.Command(s.crane, "registry", "serve", "--address", addr)
		if referrers {
			cmd = exec.Command(s.referrersRegistry, "--address", addr)
		}
		cmd.Env = s.env
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return "", err
		}
		procsMu.Lock()
		procs = append(procs, cmd)
		procsMu.Unlock()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited); logf.Close() }()
		lastErr = fmt.Errorf("registry on %s did not answer /v2/ in 15s (see %s)", addr, logf.Name())
	wait:
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			select {
			case <-exited:
				lastErr = fmt.Errorf("registry on %s exited early (see %s)", addr, logf.Name())
				break wait
			default:
			}
			resp, err := http.Get("http://" + addr + "/v2/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return addr, nil
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return "", lastErr
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freePort returns a loopback port nothing listened on a moment ago, never the same twice in
// one run and never one in avoid.
func freePort(avoid map[int]bool) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports[port] && !avoid[port] {
			ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// run runs a tool in the isolated environment and returns its combined output.
func run(ctx context.Context, dir string, extraEnv []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, s.env...), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd.CombinedOutput()
}

// exec runs a command in the isolated environment with stdout and stderr apart.
func execCmd(ctx context.Context, dir, name string, args ...string) runResult {
	return execEnv(ctx, dir, nil, name, args...)
}

// execEnv is execCmd with extra environment entries (later entries win).
func execEnv(ctx context.Context, dir string, extraEnv []string, name string, args ...string) runResult {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, s.env...), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := runResult{stdout: stdout.Bytes(), stderr: stderr.Bytes(), cmdline: shellQuote(append([]string{name}, args...))}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.exitCode = ee.ExitCode()
	default:
		r.err = err
		if ctx.Err() != nil {
			r.err = fmt.Errorf("%v (%v)", err, ctx.Err())
		}
	}
	return r
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$\\*?[]{}()<>|&;#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

// requireBinary stops the test when kubectl-verify could not be built.
func requireBinary(t testing.TB) {
	t.Helper()
	if s.binErr != nil {
		t.Fatalf("no kubectl-verify binary: %v", s.binErr)
	}
}

// requireReady stops the test when the scenario's setup failed.
func (p *prepared) requireReady(t testing.TB) {
	t.Helper()
	if p.err != nil {
		t.Fatalf("scenario setup: %v", p.err)
	}
}

// simulate runs `kubectl verify simulate --policy P -f R -o json ARGS` once per scenario.
func (p *prepared) simulate() runResult {
	p.oursOnce.Do(func() {
		args := []string{"verify", "simulate", "--policy", p.files.Policies, "-f", p.files.Resources, "-o", "json"}
		args = append(args, p.files.Args...)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		p.ours = execCmd(ctx, p.dir, s.kubectl, args...)
		p.save("kubectl-verify", p.ours)
	})
	return p.ours
}

// kyvernoApply runs `kyverno apply -p --output-format json` once per scenario and returns
// its per-resource (policy, rule, result, message) sets.
func (p *prepared) kyvernoApply() (map[string][]scenario.CheckKey, []byte, error) {
	p.kyvernoOnce.Do(func() {
		policies, err := p.enginePolicies("kyverno")
		if err != nil {
			p.kyvernoErr = err
			return
		}
		if policies == "" {
			p.kyvernoErr = errNoKyvernoPolicies
			return
		}
		args := []string{"apply", policies, "--resource", p.files.Resources, "-p", "--output-format", "json"}
		if slices.Contains(p.files.Args, "--operation=UPDATE") {
			// The CLI's only UPDATE: the old object is the resource itself
			// (processor/operation.go AdmissionRequestShape), so such a scenario gives
			// --old-filename=${RESOURCES}.
			args = append(args, "--set", "request.operation=UPDATE")
		}
		resources, err := os.ReadFile(p.files.Resources)
		if err != nil {
			p.kyvernoErr = err
			return
		}
		if ok, err := scenario.HasNamespaceObjects(resources); err != nil {
			p.kyvernoErr = err
			return
		} else if ok {
			values, err := scenario.KyvernoValues(resources)
			if err != nil {
				p.kyvernoErr = err
				return
			}
			vf := filepath.Join(p.dir, "inputs", "kyverno-values.yaml")
			if err := os.WriteFile(vf, values, 0o644); err != nil {
				p.kyvernoErr = err
				return
			}
			args = append(args, "--values-file", vf)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r := execCmd(ctx, p.dir, s.kyverno, args...)
		p.save("kyverno", r)
		if r.err != nil {
			p.kyvernoErr = fmt.Errorf("%s: %v\n%s", r.cmdline, r.err, r.stderr)
			return
		}
		p.kyvernoOut = r.stdout
		loaded, want, err := loadedPolicies(policies, r.stdout)
		switch {
		case err != nil:
			p.kyvernoErr = err
		case loaded != want:
			// The CLI drops a policy file whose fields its schema does not know without a word
			// but the deprecation warning it prints for each policy it did load.
			p.kyvernoErr = fmt.Errorf("%s loaded %d of the %d policies in %s (a field Kyverno's schema does not know drops them silently)", r.cmdline, loaded, want, policies)
		case bytes.Contains(r.stdout, []byte("Policies Skipped")):
			// Kyverno refused a policy (it would be rejected at creation): the comparison
			// would be meaningless. Scenarios about invalid policies set differential: false.
			p.kyvernoErr = fmt.Errorf("%s skipped a policy (exit %d):\n%s", r.cmdline, r.exitCode, r.stdout)
		case r.exitCode != 0 && !bytes.Contains(r.stdout, []byte(`"results"`)):
			p.kyvernoErr = fmt.Errorf("%s failed without a report (exit %d):\nstdout:\n%s\nstderr:\n%s", r.cmdline, r.exitCode, r.stdout, r.stderr)
		}
	})
	if p.kyvernoErr != nil {
		return nil, p.kyvernoOut, p.kyvernoErr
	}
	checks, err := scenario.KyvernoChecks(p.kyvernoOut)
	return checks, p.kyvernoOut, err
}

// errNoKyvernoPolicies: the scenario is about other engines; the Kyverno CLI has nothing to say.
var errNoKyvernoPolicies = errors.New("no Kyverno policies in this scenario")

// enginePolicies writes the scenario's policies of one engine (kyverno: kyverno.io and
// policies.kyverno.io; sigstore:
// policy.sigstore.dev) to their own file, for that engine's oracle, and returns its path ("" when
// there are none).
func (p *prepared) enginePolicies(engine string) (string, error) {
	data, err := os.ReadFile(p.files.Policies)
	if err != nil {
		return "", err
	}
	objs, err := manifest.Parse(data, p.files.Policies)
	if err != nil {
		return "", err
	}
	groups := map[string][]string{"kyverno": {"kyverno.io/", "policies.kyverno.io/"}, "sigstore": {"policy.sigstore.dev/"}}[engine]
	var docs []string
	for _, o := range objs {
		if slices.ContainsFunc(groups, func(g string) bool { return strings.HasPrefix(o.APIVersion(), g) }) {
			doc, err := json.Marshal(o.Obj)
			if err != nil {
				return "", err
			}
			docs = append(docs, string(doc))
		}
	}
	if len(docs) == 0 {
		return "", nil
	}
	path := filepath.Join(p.dir, "inputs", engine+"-policies.yaml")
	return path, os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o644)
}

// deprecatedPolicy is the warning `kyverno apply` prints for each kyverno.io/v1 policy it
// loads from a file.
var deprecatedPolicy = regexp.MustCompile(`(?m)^Warning: (.*): kyverno\.io/v1 (Cluster)?Policy is deprecated`)

// loadedPolicies counts the kyverno.io/v1 policies of file `kyverno apply` says it loaded,
// and those the file holds.
func loadedPolicies(file string, stdout []byte) (loaded, want int, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	objs, err := manifest.Parse(data, file)
	if err != nil {
		return 0, 0, err
	}
	for _, o := range objs {
		// Only kyverno.io/v1 policies get the warning; the others cannot be counted.
		if o.APIVersion() == "kyverno.io/v1" && (o.Kind() == "ClusterPolicy" || o.Kind() == "Policy") {
			want++
		}
	}
	for _, m := range deprecatedPolicy.FindAllSubmatch(stdout, -1) {
		if string(m[1]) == file {
			loaded++
		}
	}
	return loaded, want, nil
}

// save writes a command's output next to the scenario's inputs, for E2E_KEEP=1.
func (p *prepared) save(name string, r runResult) {
	_ = os.WriteFile(filepath.Join(p.dir, name+".stdout"), r.stdout, 0o644)
	_ = os.WriteFile(filepath.Join(p.dir, name+".stderr"), r.stderr, 0o644)
	_ = os.WriteFile(filepath.Join(p.dir, name+".cmd"), []byte(fmt.Sprintf("%s\nexit %d\n", r.cmdline, r.exitCode)), 0o644)
}

func scenarioNames() []string {
	var n []string
	for _, p := range s.scenarios {
		n = append(n, p.sc.Name)
	}
	sort.Strings(n)
	return n
}
