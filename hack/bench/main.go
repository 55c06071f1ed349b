// Command bench is the harness behind `make bench`: it builds a workload on a loopback registry
// process (U unique images, half signed by the real cosign CLI, N Pod manifests over them, one
// Kyverno key policy), then times `kubectl verify simulate`, the Kyverno CLI (`kyverno apply`)
// and a `cosign verify` loop on that same workload, with the registry requests each makes
// counted by a proxy in front of the registry. A second mode delays every request by 20 ms to
// model a registry that is not on loopback, and a third lists Pods from a real API server
// (envtest) beside `kubectl get pods -A -o json`.
//
// Figures are reported, never asserted: docs/performance.md says what they should be.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

type size struct{ pods, images int }

func parseSizes(s string) ([]size, error) {
	var out []size
	for _, f := range strings.Split(s, ",") {
		n, u, ok := strings.Cut(strings.TrimSpace(f), "/")
		pods, err1 := strconv.Atoi(n)
		images, err2 := strconv.Atoi(u)
		if !ok || err1 != nil || err2 != nil || pods < 1 || images < 2 {
			return nil, fmt.Errorf("size %q: want PODS/IMAGES, for example 2000/200", f)
		}
		out = append(out, size{pods, images})
	}
	return out, nil
}

type options struct {
	root        string
	sizes       []size
	delay       time.Duration
	baselines   string
	clusterPods int
	repeat      int
	work        string
	trace       bool
	hold        bool
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&sizes, "sizes", "2000/200,20000/2000", "Workloads as PODS/IMAGES, comma-separated")
	flag.DurationVar(&o.delay, "delay", 20*time.Millisecond, "Per-request delay of the delayed mode (0 skips that mode)")
	flag.StringVar(&o.baselines, "baselines", "all", "Which sizes also run kyverno apply and the cosign verify loop: all, first or none")
	flag.IntVar(&o.clusterPods, "cluster-pods", 10000, "Pods created in a real API server for the listing comparison (0 skips it)")
	flag.IntVar(&o.repeat, "repeat", 3, "Runs of each kubectl verify / kubectl measurement; the median is reported")
	flag.BoolVar(&o.hold, "hold", false, "Set up the first size, print how to run kubectl verify on it, and wait for Ctrl-C (for profiling by hand)")
	flag.BoolVar(&o.trace, "trace", false, "Print every registry request of the measured runs to stderr")
	flag.StringVar(&o.work, "work", "", "Working directory (default: a temporary one, removed afterwards)")
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		fatal(err)
	}
	switch o.baselines {
	case "first", "all", "none":
	default:
		fatal(fmt.Errorf("-baselines %q: want first, all or none", o.baselines))
	}
	if o.root, err = os.Getwd(); err != nil {
		fatal(err)
	}
	if err := run(context.Background(), o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// tools are the binaries the harness runs; `make bench` builds them.
type tools struct {
	verify, cosign, crane, kyverno, kubectl string
	env                                     []string
}

func run(ctx context.Context, o options) error {
	bin := filepath.Join(o.root, "hack", "bin")
	t := tools{
		verify:  filepath.Join(o.root, "bin", "kubectl-verify"),
		cosign:  filepath.Join(bin, "cosign"),
		crane:   filepath.Join(bin, "crane"),
		kyverno: filepath.Join(bin, "kubectl-kyverno"),
	}
	for _, p := range []string{t.verify, t.cosign, t.crane, t.kyverno} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s missing: run `make bench` (it builds the tools first)", p)
		}
	}
	var err error
	if t.kubectl, err = exec.LookPath("kubectl"); err != nil && o.clusterPods > 0 {
		return errors.New("kubectl not found on PATH (the listing comparison needs it; -cluster-pods=0 skips it)")
	}

	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "kubectl-verify-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	home := filepath.Join(work, "home")
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o755); err != nil {
		return err
	}
	// Nothing from this machine's HOME, docker config or kubeconfig; cosign never goes online.
	t.env = []string{
		"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "PATH=" + os.Getenv("PATH"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"), "COSIGN_PASSWORD=", "SIGSTORE_NO_CACHE=true",
		"TUF_ROOT=" + filepath.Join(home, ".sigstore"), "TMPDIR=" + os.TempDir(),
	}
	if n := os.Getenv("GOMAXPROCS"); n != "" {
		t.env = append(t.env, "GOMAXPROCS="+n)
	}
	if out, err := t.cmd(ctx, work, t.cosign, "generate-key-pair", "--output-key-prefix", "bench").CombinedOutput(); err != nil {
		return fmt.Errorf("cosign generate-key-pair: %v\n%s", err, out)
	}

	fmt.Printf("kubectl-verify benchmark, %s, GOMAXPROCS=%s, %d CPUs\n\n", time.Now().UTC().Format(time.RFC3339), orDefault(os.Getenv("GOMAXPROCS"), "default"), runtime.NumCPU())
	var rows []row
	var firstWorkload *workload
	for i, sz := range o.sizes {
		w, err := newWorkload(ctx, t, o.trace, filepath.Join(work, fmt.Sprintf("n%d-u%d", sz.pods, sz.images)), sz)
		if err != nil {
			return err
		}
		defer w.close()
		if i == 0 {
			firstWorkload = w
		}
		if o.hold {
			fmt.Printf("cd %s && %s simulate --policy policy.yaml -f pods.yaml -o json\nCtrl-C ends.\n", w.dir, t.verify)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			<-sig
			return nil
		}
		rs, err := w.measure(ctx, o, o.baselines == "all" || (o.baselines == "first" && i == 0))
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
		printRows(os.Stdout, rows[len(rows)-len(rs):])
	}
	if o.clusterPods > 0 {
		rs, err := measureCluster(ctx, o, t, firstWorkload, filepath.Join(work, "cluster"))
		if err != nil {
			return err
		}
		printRows(os.Stdout, rs)
		rows = append(rows, rs...)
	}
	printTargets(os.Stdout, rows)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (t tools) cmd(ctx context.Context, dir, bin string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir = dir
	c.Env = t.env
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

// row is one measured run.
type row struct {
	workload string
	tool     string
	wall     time.Duration
	rssKB    int64
	requests int64
	images   int
	note     string
}

func printRows(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tTOOL\tWALL\tPEAK RSS\tREQUESTS\tREQ/IMAGE\tNOTE")
	for _, r := range rows {
		perImage, reqs := "-", "-"
		if r.images > 0 {
			perImage = fmt.Sprintf("%.2f", float64(r.requests)/float64(r.images))
			reqs = strconv.FormatInt(r.requests, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d MB\t%s\t%s\t%s\n", r.workload, r.tool, r.wall.Round(time.Millisecond), r.rssKB/1024, reqs, perImage, r.note)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// proxy counts (and optionally delays) every request on its way to the registry.
type proxy struct {
	srv   *http.Server
	host  string
	count atomic.Int64
	delay atomic.Int64
	rp    *httputil.ReverseProxy
	trace bool
}

func newProxy(target string) (*proxy, error) {
	u, err := url.Parse("http://" + target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{host: l.Addr().String(), rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go p.srv.Serve(l) //nolint:errcheck // ends with Close
	return p, nil
}

// reset starts counting the requests of a run.
func (p *proxy) reset(run string) {
	p.count.Store(0)
	if p.trace {
		fmt.Fprintln(os.Stderr, "run:", run)
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.count.Add(1)
	if p.trace {
		fmt.Fprintln(os.Stderr, "request:", r.Method, r.URL.Path)
	}
	if d := time.Duration(p.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	p.rp.ServeHTTP(w, r)
}

// workload is one size: a registry process, the proxy in front of it, the images, the Pods
// and the policy.
type workload struct {
	t        tools
	dir      string
	size     size
	label    string
	registry *exec.Cmd
	proxy    *proxy
	images   []string // by tag, through the proxy
	signed   map[string]bool
	pods     string
	policy   string
	deniedW  int // Pods whose image is unsigned
}

func newWorkload(ctx context.Context, t tools, trace bool, dir string, sz size) (*workload, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &workload{t: t, dir: dir, size: sz, label: fmt.Sprintf("N=%d U=%d", sz.pods, sz.images), signed: map[string]bool{}}
	fmt.Fprintf(os.Stderr, "%s: starting the registry, pushing %d images, signing %d with cosign...\n", w.label, sz.images, sz.images/2)
	addr, err := w.startRegistry(ctx)
	if err != nil {
		return nil, err
	}
	if w.proxy, err = newProxy(addr); err != nil {
		w.close()
		return nil, err
	}
	// Setup requests are not the benchmark's.
	defer func() { w.proxy.trace = trace }()
	if err := w.push(ctx); err != nil {
		w.close()
		return nil, err
	}
	if err := w.sign(ctx); err != nil {
		w.close()
		return nil, err
	}
	if err := w.writeManifests(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *workload) close() {
	if w.proxy != nil {
		w.proxy.srv.Close()
	}
	if w.registry != nil && w.registry.Process != nil {
		_ = w.registry.Process.Kill()
		_ = w.registry.Wait()
	}
}

// startRegistry runs `crane registry serve` on a free loopback port until it answers /v2/.
func (w *workload) startRegistry(ctx context.Context) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(w.dir, "registry.log"))
	if err != nil {
		return "", err
	}
	w.registry = w.t.cmd(ctx, w.dir, w.t.crane, "registry", "serve", "--address", addr)
	w.registry.Stdout, w.registry.Stderr = logf, logf
	if err := w.registry.Start(); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, nil
			}
		}
	}
	return "", fmt.Errorf("registry on %s did not answer /v2/ in 15s (see %s)", addr, logf.Name())
}

// push writes U distinct small images (two layers each) through the proxy.
func (w *workload) push(ctx context.Context) error {
	w.images = make([]string, w.size.images)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range w.images {
		w.images[i] = fmt.Sprintf("%s/bench/app%d:v1", w.proxy.host, i)
		g.Go(func() error {
			img, err := random.Image(512, 2)
			if err != nil {
				return err
			}
			ref, err := name.NewTag(w.images[i])
			if err != nil {
				return err
			}
			return remote.Write(ref, img, remote.WithContext(ctx))
		})
	}
	return g.Wait()
}

// sign signs every other image with `cosign sign --key`, by digest, as users are told to,
// in batches (cosign signs every image it is given).
func (w *workload) sign(ctx context.Context) error {
	var refs []string
	for i := 0; i < len(w.images); i += 2 {
		ref, err := name.NewTag(w.images[i])
		if err != nil {
			return err
		}
		desc, err := remote.Head(ref, remote.WithContext(ctx))
		if err != nil {
			return err
		}
		refs = append(refs, ref.Context().Digest(desc.Digest.String()).String())
		w.signed[w.images[i]] = true
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for start := 0; start < len(refs); start += 100 {
		batch := refs[start:min(start+100, len(refs))]
		g.Go(func() error {
			args := append([]string{"sign", "--key", filepath.Join(filepath.Dir(w.dir), "bench.key"),
				"--tlog-upload=false", "--new-bundle-format=false", "--use-signing-config=false", "-y"}, batch...)
			if out, err := w.t.cmd(ctx, w.dir, w.t.cosign, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("cosign sign: %v\n%s", err, out)
			}
			return nil
		})
	}
	return g.Wait()
}

func (w *workload) writeManifests() error {
	var b strings.Builder
	for i := 0; i < w.size.pods; i++ {
		img := w.images[i%len(w.images)]
		if !w.signed[img] {
			w.deniedW++
		}
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-%d\n  namespace: ns-%d\nspec:\n  containers:\n  - name: app\n    image: %s\n", i, i%50, img)
	}
	w.pods = filepath.Join(w.dir, "pods.yaml")
	if err := os.WriteFile(w.pods, []byte(b.String()), 0o644); err != nil {
		return err
	}
	pub, err := os.ReadFile(filepath.Join(filepath.Dir(w.dir), "bench.pub"))
	if err != nil {
		return err
	}
	w.policy = filepath.Join(w.dir, "policy.yaml")
	return os.WriteFile(w.policy, []byte(policyYAML(w.proxy.host, string(pub))), 0o644)
}

func policyYAML(host, pub string) string {
	return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image-signature
spec:
  webhookConfiguration:
    failurePolicy: Fail
  rules:
  - name: signed-by-bench-key
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - failureAction: Enforce
      # The Kyverno CLI runs the validating phase (verifyDigest, required) on the resource
      # without its own digest patch and verification annotation, where the admission
      # controller sees the patched one: with the defaults every tag would fail there. The
      # signatures are still verified and digests resolved and patched.
      verifyDigest: false
      required: false
      imageReferences: ["%s/bench/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
%s
            rekor:
              ignoreTlog: true
            ctlog:
              ignoreSCT: true
`, host, indent(strings.TrimSpace(pub), "              "))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// measured runs cmd with its output to out, and reports wall time and peak RSS.
func measured(cmd *exec.Cmd, out io.Writer) (time.Duration, int64, error) {
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var rss int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return wall, rss, err
		}
		return wall, rss, fmt.Errorf("%w\n%s", err, lastLines(stderr.String(), 10))
	}
	return wall, rss, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var deniedRE = regexp.MustCompile(`"denied":\s*(\d+)`)

// simulate runs `kubectl verify simulate` once and checks it denied exactly the Pods on
// unsigned images.
func (w *workload) simulate(ctx context.Context, extra ...string) (row, error) {
	w.proxy.reset("kubectl verify simulate " + strings.Join(extra, " "))
	out, err := os.Create(filepath.Join(w.dir, "report.json"))
	if err != nil {
		return row{}, err
	}
	defer out.Close()
	args := append([]string{"simulate", "--policy", w.policy, "-f", w.pods, "-o", "json", "--fail-on", "never"}, extra...)
	wall, rss, err := measured(w.t.cmd(ctx, w.dir, w.t.verify, args...), out)
	if err != nil {
		return row{}, fmt.Errorf("kubectl verify simulate: %w", err)
	}
	r := row{workload: w.label, tool: "kubectl verify simulate", wall: wall, rssKB: rss, requests: w.proxy.count.Load(), images: w.size.images}
	report, err := os.ReadFile(out.Name())
	if err != nil {
		return row{}, err
	}
	m := deniedRE.FindSubmatch(report)
	if m == nil || string(m[1]) != strconv.Itoa(w.deniedW) {
		return row{}, fmt.Errorf("kubectl verify simulate denied %s Pods, want %d (report %s)", matchOr(m), w.deniedW, out.Name())
	}
	return r, nil
}

func matchOr(m [][]byte) string {
	if m == nil {
		return "no"
	}
	return string(m[1])
}

// median runs f o.repeat times and keeps the run with the median wall time (requests and RSS
// of that run).
func median(n int, f func() (row, error)) (row, error) {
	var rs []row
	for i := 0; i < max(1, n); i++ {
		r, err := f()
		if err != nil {
			return row{}, err
		}
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	m := rs[len(rs)/2]
	if len(rs) > 1 {
		m.note = strings.TrimSpace(fmt.Sprintf("median of %d %s", len(rs), m.note))
	}
	return m, nil
}

var kyvernoFailRE = regexp.MustCompile(`fail: (\d+)`)

func (w *workload) measure(ctx context.Context, o options, baselines bool) ([]row, error) {
	fmt.Fprintf(os.Stderr, "%s: kubectl verify simulate...\n", w.label)
	ours, err := median(o.repeat, func() (row, error) { return w.simulate(ctx) })
	if err != nil {
		return nil, err
	}
	rows := []row{ours}
	cacheDir := filepath.Join(w.dir, "cache")
	if _, err := w.simulate(ctx, "--cache-dir", cacheDir); err == nil {
		warm, err := median(o.repeat, func() (row, error) { return w.simulate(ctx, "--cache-dir", cacheDir) })
		if err != nil {
			return nil, err
		}
		warm.tool += " --cache-dir (warm)"
		rows = append(rows, warm)
	} else if !strings.Contains(err.Error(), "unknown flag") {
		return nil, err
	}
	if o.delay > 0 {
		fmt.Fprintf(os.Stderr, "%s: kubectl verify simulate, %s per request...\n", w.label, o.delay)
		w.proxy.delay.Store(int64(o.delay))
		delayed, err := median(o.repeat, func() (row, error) { return w.simulate(ctx) })
		w.proxy.delay.Store(0)
		if err != nil {
			return nil, err
		}
		delayed.workload += fmt.Sprintf(" +%s/req", o.delay)
		rows = append(rows, delayed)
	}
	if !baselines {
		return rows, nil
	}

	fmt.Fprintf(os.Stderr, "%s: kyverno apply...\n", w.label)
	w.proxy.reset("kyverno apply")
	var kout strings.Builder
	wall, rss, err := measured(w.t.cmd(ctx, w.dir, w.t.kyverno, "apply", w.policy, "--resource", w.pods), &kout)
	// kyverno apply exits 1 when a rule fails, which is the expected outcome here.
	m := kyvernoFailRE.FindStringSubmatch(kout.String())
	if m == nil {
		return nil, fmt.Errorf("kyverno apply printed no summary (%v):\n%s", err, lastLines(kout.String(), 10))
	}
	if m[1] != strconv.Itoa(w.deniedW) {
		return nil, fmt.Errorf("kyverno apply: fail: %s, want %d", m[1], w.deniedW)
	}
	rows = append(rows, row{workload: w.label, tool: "kyverno apply", wall: wall, rssKB: rss, requests: w.proxy.count.Load(), images: w.size.images})

	fmt.Fprintf(os.Stderr, "%s: cosign verify loop over %d images...\n", w.label, len(w.images))
	w.proxy.reset("cosign verify loop")
	loop := row{workload: w.label, tool: "cosign verify loop", images: w.size.images}
	verified := 0
	for _, img := range w.images {
		wall, rss, err := measured(w.t.cmd(ctx, w.dir, w.t.cosign, "verify", "--key", filepath.Join(filepath.Dir(w.dir), "bench.pub"),
			"--insecure-ignore-tlog=true", img), io.Discard)
		loop.wall += wall
		loop.rssKB = max(loop.rssKB, rss)
		var ee *exec.ExitError
		switch {
		case err == nil:
			verified++
		case !errors.As(err, &ee):
			return nil, err
		}
	}
	if verified != len(w.signed) {
		return nil, fmt.Errorf("cosign verify loop: %d images verified, want %d", verified, len(w.signed))
	}
	loop.requests = w.proxy.count.Load()
	loop.note = "one run per unique image"
	return append(rows, loop), nil
}

// printTargets compares the figures with the targets of docs/performance.md.
func printTargets(w io.Writer, rows []row) {
	find := func(workload, tool string) (row, bool) {
		for _, r := range rows {
			if r.workload == workload && r.tool == tool {
				return r, true
			}
		}
		return row{}, false
	}
	fmt.Fprintln(w, "TARGETS")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	check := func(what string, ok bool, got string) {
		mark := "met"
		if !ok {
			mark = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", what, got, mark)
	}
	for _, r := range rows {
		if r.tool != "kubectl verify simulate" {
			continue
		}
		if r.images > 0 && !strings.Contains(r.workload, "/req") {
			per := float64(r.requests) / float64(r.images)
			check(r.workload+": registry requests per unique image <= 4", per <= 4, fmt.Sprintf("%.2f", per))
		}
		if strings.Contains(r.workload, "/req") && strings.HasPrefix(r.workload, "N=2000 ") {
			check(r.workload+": under 3s", r.wall < 3*time.Second, r.wall.Round(time.Millisecond).String())
		}
		if strings.HasPrefix(r.workload, "N=20000 ") && !strings.Contains(r.workload, "/req") {
			check(r.workload+": peak RSS under 300 MB", r.rssKB < 300*1024, fmt.Sprintf("%d MB", r.rssKB/1024))
		}
		for _, base := range []string{"kyverno apply", "cosign verify loop"} {
			if b, ok := find(r.workload, base); ok {
				ratio := float64(b.wall) / float64(r.wall)
				if strings.HasPrefix(r.workload, "N=2000 ") {
					check(fmt.Sprintf("%s: at least 20x faster than %s", r.workload, base), ratio >= 20, fmt.Sprintf("%.1fx", ratio))
				} else {
					fmt.Fprintf(tw, "%s: faster than %s\t%.1fx\t(no target)\n", r.workload, base, ratio)
				}
			}
		}
	}
	for _, r := range rows {
		if strings.HasPrefix(r.tool, "kubectl verify simulate -A") {
			if k, ok := find(r.workload, "kubectl get pods -A -o json"); ok {
				ratio := float64(r.wall) / float64(k.wall)
				check(r.workload+": "+r.tool+" within 1.5x of kubectl get pods -A -o json", ratio <= 1.5, fmt.Sprintf("%.2fx", ratio))
			}
		}
	}
	tw.Flush()
}
