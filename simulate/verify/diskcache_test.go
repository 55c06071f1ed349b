package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// countedRegistry is an in-process registry that counts the requests reaching it, and answers
// those its fault selects with a server error: 501, which go-containerregistry does not
// retry (it backs off for seconds on 500, 502, 503 and 504), so the test stays fast.
type countedRegistry struct {
	Host string
	srv  *httptest.Server

	mu sync.Mutex
	// total counts every request; reads those a verification makes beyond resolving tags.
	total, reads int
	fault        func(*http.Request) bool
}

func newCountedRegistry(referrers bool) *countedRegistry {
	r := &countedRegistry{}
	inner := ocireg.New(referrers, nil)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.total++
		if !isResolution(req) {
			r.reads++
		}
		fault := r.fault
		r.mu.Unlock()
		if fault != nil && fault(req) {
			http.Error(w, "injected fault", http.StatusNotImplemented)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// isResolution: the API version check, or a manifest asked for by tag. Signature tags
// (sha256-<hex>.sig) and digests are not tags an image is resolved by.
func isResolution(req *http.Request) bool {
	if req.URL.Path == "/v2/" {
		return true
	}
	_, ref, ok := strings.Cut(req.URL.Path, "/manifests/")
	return ok && !strings.HasPrefix(ref, "sha256")
}

func (r *countedRegistry) setFault(f func(*http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
}

// counts returns the counts since the last call and starts again from zero.
func (r *countedRegistry) counts() (total, reads int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, reads = r.total, r.reads
	r.total, r.reads = 0, 0
	return total, reads
}

// cachedVerifier is the Verifier of one run: its own registry client (so no answer is shared
// with another run in memory), the disk cache in dir, the clock stopped at now.
func cachedVerifier(t *testing.T, dir string, now time.Time) *verify.Verifier {
	t.Helper()
	disk, err := verify.OpenDiskCache(dir, time.Hour)
	if err != nil {
		t.Fatalf("OpenDiskCache(%s) = %v", dir, err)
	}
	verify.SetDiskCacheClock(disk, func() time.Time { return now })
	return verify.New(must(verify.NewRegistry("", nil, "test")), verify.WithDiskCache(disk))
}

// entries lists the files in the cache directory.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, filepath.Join(dir, de.Name()))
	}
	return out
}

// rewriteEntries replaces every cache file's content by what edit makes of it.
func rewriteEntries(t *testing.T, dir string, edit func([]byte) []byte) {
	t.Helper()
	for _, p := range entries(t, dir) {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, edit(raw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// cacheFixture is one image, signed by two keys, in its own repository, and a cache
// directory of its own.
type cacheFixture struct {
	reg              *countedRegistry
	tag, repo        string
	digest           string
	dir              string
	k1, k2, stranger *verifytest.Key
	start            time.Time
}

func (f *cacheFixture) byTag(k *verifytest.Key) verify.SignatureCheck {
	return verify.SignatureCheck{Image: f.tag, PublicKey: k.PublicPEM}
}

func (f *cacheFixture) byDigest(k *verifytest.Key) verify.SignatureCheck {
	return verify.SignatureCheck{Image: f.repo + "@" + f.digest, PublicKey: k.PublicPEM}
}

// cacheStep is one run of the tool against the fixture.
type cacheStep struct {
	name string
	// before changes the world first: the registry, the tag, the cache files.
	before func(t *testing.T, f *cacheFixture)
	// after is the run's clock, from the first run's.
	after time.Duration
	check func(f *cacheFixture) verify.SignatureCheck
	want  string // outcome
	// cached: answered from the disk, with no signature read reaching the registry, the
	// result identical to the last one computed, and fewer requests than that took.
	cached bool
	// entries is how many files the cache directory holds afterwards.
	entries int
}

func TestDiskCache(t *testing.T) {
	signatureReads := func(req *http.Request) bool { return !isResolution(req) }
	everything := func(*http.Request) bool { return true }
	var corruptions = []struct {
		name string
		edit func([]byte) []byte
	}{
		{"not JSON", func([]byte) []byte { return []byte("\x00garbage") }},
		{"empty", func([]byte) []byte { return nil }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"another format", func(b []byte) []byte { return bytes.Replace(b, []byte("/v1"), []byte("/v0"), 1) }},
		{"result of another shape", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"result":`))
			return append(b[:i:i], []byte(`"result":"pass"}`)...)
		}},
		{"result with a field this version does not write", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"Digest"`), []byte(`"Verified":true,"Digest"`), 1)
		}},
	}
	tests := []struct {
		name  string
		steps []cacheStep
	}{
		{"second run answered from the cache", []cacheStep{
			{name: "first run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "second run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", cached: true, entries: 1},
		}},
		{"by digest, the second run asks the registry nothing", []cacheStep{
			{name: "first run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byDigest(f.k1) }, want: "verified", entries: 1},
			{name: "second run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byDigest(f.k1) }, want: "verified", cached: true, entries: 1},
		}},
		{"tag and digest share the entry", []cacheStep{
			{name: "by tag", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "by digest", check: func(f *cacheFixture) verify.SignatureCheck { return f.byDigest(f.k1) }, want: "verified", cached: true, entries: 1},
		}},
		{"failed verification is not kept", []cacheStep{
			{name: "wrong key", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.stranger) }, want: "failed", entries: 0},
			{name: "wrong key again", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.stranger) }, want: "failed", entries: 0},
		}},
		{"registry fault is not kept and passes nothing", []cacheStep{
			{name: "warm for key 1", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "signature reads fail, key 2 by tag",
				before: func(_ *testing.T, f *cacheFixture) { f.reg.setFault(signatureReads) },
				check:  func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k2) }, want: "could-not-verify", entries: 1},
			{name: "signature reads fail, key 2 by digest",
				check: func(f *cacheFixture) verify.SignatureCheck { return f.byDigest(f.k2) }, want: "could-not-verify", entries: 1},
			{name: "registry down, key 1 by tag: the tag is resolved live",
				before: func(_ *testing.T, f *cacheFixture) { f.reg.setFault(everything) },
				check:  func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "could-not-verify", entries: 1},
			{name: "registry back, key 2 verified afresh",
				before: func(_ *testing.T, f *cacheFixture) { f.reg.setFault(nil) },
				check:  func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k2) }, want: "verified", entries: 2},
		}},
		{"another key is a miss", []cacheStep{
			{name: "key 1", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "key 2", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k2) }, want: "verified", entries: 2},
			{name: "key 1 again", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", cached: true, entries: 2},
		}},
		{"another constraint is a miss", []cacheStep{
			{name: "plain", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "with OCI 1.1", check: func(f *cacheFixture) verify.SignatureCheck {
				c := f.byTag(f.k1)
				c.OCI11 = true
				return c
			}, want: "verified", entries: 2},
		}},
		{"expired entry is verified again and rewritten", []cacheStep{
			{name: "first run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "within the TTL", after: 59 * time.Minute, check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", cached: true, entries: 1},
			{name: "past the TTL", after: 2 * time.Hour, check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "the rewritten entry is fresh", after: 2*time.Hour + 30*time.Minute, check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", cached: true, entries: 1},
		}},
		{"entry dated in the future is not trusted", []cacheStep{
			{name: "written an hour ahead", after: time.Hour, check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "read now", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
		}},
		{"tag moved to a new digest", []cacheStep{
			{name: "old digest verified", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "tag now names an unsigned image",
				before: func(t *testing.T, f *cacheFixture) {
					if f.digest, _ = verifytest.Push(f.tag); f.digest == "" {
						t.Fatal("push failed")
					}
				},
				check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "failed", entries: 1},
			{name: "new digest signed",
				before: func(t *testing.T, f *cacheFixture) {
					if err := verifytest.Sign(f.tag, f.k1); err != nil {
						t.Fatal(err)
					}
				},
				check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 2},
		}},
	}
	for _, c := range corruptions {
		tests = append(tests, struct {
			name  string
			steps []cacheStep
		}{"corrupt entry is verified again: " + c.name, []cacheStep{
			{name: "first run", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "entry corrupted",
				before: func(t *testing.T, f *cacheFixture) { rewriteEntries(t, f.dir, c.edit) },
				check:  func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", entries: 1},
			{name: "entry rewritten", check: func(f *cacheFixture) verify.SignatureCheck { return f.byTag(f.k1) }, want: "verified", cached: true, entries: 1},
		}})
	}

	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := newCountedRegistry(referrers)
			defer reg.srv.Close()
			k1, k2, stranger := must(verifytest.NewKey()), must(verifytest.NewKey()), must(verifytest.NewKey())
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					reg.setFault(nil)
					f := &cacheFixture{reg: reg, repo: fmt.Sprintf("%s/dc/case%d", reg.Host, i), dir: filepath.Join(t.TempDir(), "cache"),
						k1: k1, k2: k2, stranger: stranger, start: time.Now()}
					f.tag = f.repo + ":v1"
					f.digest = must(verifytest.Push(f.tag))
					for _, k := range []*verifytest.Key{k1, k2} {
						if err := verifytest.Sign(f.tag, k); err != nil {
							t.Fatal(err)
						}
					}
					// The last computed result and its request count, by key.
					computed := map[string]verify.SignatureResult{}
					computedRequests := map[string]int{}
					for _, st := range tt.steps {
						if st.before != nil {
							st.before(t, f)
						}
						reg.counts()
						v := cachedVerifier(t, f.dir, f.start.Add(st.after))
						check := st.check(f)
						res, err := v.VerifySignature(context.Background(), check)
						total, reads := reg.counts()
						if got := outcome(err); got != st.want {
							t.Fatalf("%s: VerifySignature = %s (%v), want %s", st.name, got, err, st.want)
						}
						if n := len(entries(t, f.dir)); n != st.entries {
							t.Errorf("%s: %d cache entries, want %d", st.name, n, st.entries)
						}
						if err != nil {
							continue
						}
						switch {
						case st.cached && reads != 0:
							t.Errorf("%s: %d signature reads, want none (answered from the cache)", st.name, reads)
						case st.cached && total >= computedRequests[check.PublicKey]:
							t.Errorf("%s: %d requests, want fewer than the %d of the run that computed it", st.name, total, computedRequests[check.PublicKey])
						case st.cached:
							if diff := cmp.Diff(computed[check.PublicKey], res); diff != "" {
								t.Errorf("%s: cached result differs from the computed one (-computed +cached):\n%s", st.name, diff)
							}
						case reads == 0:
							t.Errorf("%s: no signature read, want the signatures verified afresh", st.name)
						default:
							computed[check.PublicKey], computedRequests[check.PublicKey] = res, total
						}
						if res.Digest != f.digest {
							t.Errorf("%s: digest %s, want %s", st.name, res.Digest, f.digest)
						}
					}
				})
			}
		})
	}
}

// TestDiskCacheRoundTrip: what every kept result type reads back from disk is exactly what was
// computed, and the second run reads no signature for it.
func TestDiskCacheRoundTrip(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy-registry", true: "referrers-registry"}[referrers], func(t *testing.T) {
			reg := newCountedRegistry(referrers)
			defer reg.srv.Close()
			key := must(verifytest.NewKey())
			rekor := must(verifytest.NewRekor())
			ca := must(verifytest.NewCA())
			id := must(ca.IssueWith(subject, issuer, map[string]string{oidWorkflowTrigger: "push", oidWorkflowRepository: "acme/app"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)))
			trustJSON := must(verifytest.TrustedRootJSON(ca, rekor))
			img := func(n string) string { return reg.Host + "/rt/" + n + ":v1" }
			for _, n := range []string{"signed", "logged", "bundled", "attested"} {
				must(verifytest.Push(img(n)))
			}
			// Numbers, nesting, nulls and text that JSON escapes: the statements go through
			// map[string]any both ways.
			predicate := []byte(`{"n":1.5,"big":12345678901234567890,"neg":-0.001,"list":[1,"two",null,{"deep":true}],"text":"<\u00e9>\n"}`)
			for i, err := range []error{
				verifytest.Sign(img("signed"), key),
				verifytest.SignDetached(img("logged"), verifytest.Detached{Key: id.Key, CertPEM: id.CertPEM, ChainPEM: id.ChainPEM, Log: rekor, LoggedAt: time.Now()}),
				verifytest.SignBundle(img("bundled"), key),
				verifytest.Attest(img("attested"), key, "slsaprovenance", predicate),
				verifytest.Attest(img("attested"), key, codeReview, predicate),
			} {
				if err != nil {
					t.Fatalf("fixture %d: %v", i, err)
				}
			}
			keyless := verify.SignatureCheck{Image: img("logged"), Keyless: true, Subject: subject, Issuer: issuer, Tlog: true, RekorURL: "http://127.0.0.1:1"}
			byKey := verify.SignatureCheck{Image: img("attested"), PublicKey: key.PublicPEM}
			tests := []struct {
				name  string
				trust bool
				run   func(v *verify.Verifier) (any, error)
			}{
				{"signature by key", false, func(v *verify.Verifier) (any, error) {
					return v.VerifySignature(context.Background(), verify.SignatureCheck{Image: img("signed"), PublicKey: key.PublicPEM})
				}},
				{"keyless signature, logged, against the trust root", true, func(v *verify.Verifier) (any, error) {
					return v.VerifySignature(context.Background(), keyless)
				}},
				{"bundle with its statement", false, func(v *verify.Verifier) (any, error) {
					return v.VerifyBundles(context.Background(), verify.BundleCheck{Image: img("bundled"), PublicKey: key.PublicPEM, PredicateType: verifytest.CosignSignPredicateType})
				}},
				{"attestations with their statements", false, func(v *verify.Verifier) (any, error) {
					return v.VerifyAttestations(context.Background(), verify.AttestationCheck{SignatureCheck: byKey, Type: slsa02})
				}},
				{"in-toto attestations", false, func(v *verify.Verifier) (any, error) {
					return v.VerifyInToto(context.Background(), byKey)
				}},
				{"Kubewarden keys", false, func(v *verify.Verifier) (any, error) {
					return v.VerifyKubewardenKeys(context.Background(), verify.KubewardenKeyCheck{Image: img("signed"), PubKeys: []string{key.PublicPEM}, Annotations: map[string]string{}})
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					dir := t.TempDir()
					run := func() (any, int) {
						v := cachedVerifier(t, dir, time.Now())
						if tt.trust {
							v.Trust = must(verify.ParseTrustRoot(trustJSON))
						}
						reg.counts()
						res, err := tt.run(v)
						if err != nil {
							t.Fatalf("%s: %v", tt.name, err)
						}
						_, reads := reg.counts()
						return res, reads
					}
					computed, _ := run()
					if n := len(entries(t, dir)); n != 1 {
						t.Fatalf("%d cache entries after the first run, want 1", n)
					}
					cached, reads := run()
					if reads != 0 {
						t.Errorf("second run made %d signature reads, want none", reads)
					}
					if diff := cmp.Diff(computed, cached); diff != "" {
						t.Errorf("cached result differs from the computed one (-computed +cached):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestDiskCacheKeepsOnlyWhatItsKeyCovers: checks whose outcome hangs on something the key
// cannot name are verified every run; the trust root's content is part of the key.
func TestDiskCacheKeepsOnlyWhatItsKeyCovers(t *testing.T) {
	reg := newCountedRegistry(false)
	defer reg.srv.Close()
	key := must(verifytest.NewKey())
	rekor, otherRekor := must(verifytest.NewRekor()), must(verifytest.NewRekor())
	ca := must(verifytest.NewCA())
	id := must(ca.Issue(subject, issuer))
	img := func(n string) string { return reg.Host + "/keys/" + n + ":v1" }
	for _, n := range []string{"signed", "keyless", "logged"} {
		must(verifytest.Push(img(n)))
	}
	for i, err := range []error{
		verifytest.Sign(img("signed"), key),
		verifytest.SignWithCertificate(img("keyless"), id),
		verifytest.SignDetached(img("logged"), verifytest.Detached{Key: id.Key, CertPEM: id.CertPEM, ChainPEM: id.ChainPEM, Log: rekor, LoggedAt: time.Now()}),
	} {
		if err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
	}
	trust := must(verifytest.TrustedRootJSON(ca, rekor))
	otherTrust := must(verifytest.TrustedRootJSON(ca, rekor, otherRekor))
	logged := verify.SignatureCheck{Image: img("logged"), Keyless: true, Subject: subject, Issuer: issuer, Tlog: true, RekorURL: "http://127.0.0.1:1"}
	type run struct {
		trust []byte
		check verify.SignatureCheck
	}
	tests := []struct {
		name string
		runs []run
		// entries after each run
		entries []int
	}{
		{"key from a Kubernetes Secret", []run{
			{check: verify.SignatureCheck{Image: img("signed"), PublicKey: "k8s://team/cosign"}},
			{check: verify.SignatureCheck{Image: img("signed"), PublicKey: "k8s://team/cosign"}},
		}, []int{0, 0}},
		{"certificate judged at the current time", []run{
			{check: verify.SignatureCheck{Image: img("keyless"), Keyless: true, Roots: ca.PEM, Subject: subject, Issuer: issuer}},
		}, []int{0}},
		{"signing time proven by the log", []run{
			{trust: trust, check: logged},
		}, []int{1}},
		{"another trust root is a miss, the same one a hit", []run{
			{trust: trust, check: logged},
			{trust: otherTrust, check: logged},
			{trust: trust, check: logged},
		}, []int{1, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, r := range tt.runs {
				v := cachedVerifier(t, dir, time.Now())
				v.Secrets = secrets{"team/cosign": {"cosign.pub": []byte(key.PublicPEM)}}
				if r.trust != nil {
					v.Trust = must(verify.ParseTrustRoot(r.trust))
				}
				if _, err := v.VerifySignature(context.Background(), r.check); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if n := len(entries(t, dir)); n != tt.entries[i] {
					t.Errorf("run %d: %d cache entries, want %d", i, n, tt.entries[i])
				}
			}
		})
	}
}

// TestOpenDiskCache: the directory is made private, entries are private files, and a
// directory that cannot serve says so (the caller then runs without it).
func TestOpenDiskCache(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		ttl     time.Duration
		wantErr string
	}{
		{"created when missing", filepath.Join(base, "a", "b"), time.Hour, ""},
		{"existing directory", base, time.Hour, ""},
		{"a file", file, time.Hour, "not a directory"},
		{"under a file", filepath.Join(file, "cache"), time.Hour, "not a directory"},
		{"no TTL", filepath.Join(base, "c"), 0, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify.OpenDiskCache(tt.dir, tt.ttl)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OpenDiskCache(%s, %s) = %v, want an error containing %q", tt.dir, tt.ttl, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenDiskCache(%s, %s) = %v", tt.dir, tt.ttl, err)
			}
			if fi, err := os.Stat(tt.dir); err != nil || !fi.IsDir() {
				t.Fatalf("%s: %v, want a directory", tt.dir, err)
			}
			for _, p := range entries(t, tt.dir) {
				if strings.HasPrefix(filepath.Base(p), ".") {
					t.Errorf("OpenDiskCache left %s behind", p)
				}
			}
		})
	}

	reg := newCountedRegistry(false)
	defer reg.srv.Close()
	key := must(verifytest.NewKey())
	ref := reg.Host + "/perm/app:v1"
	must(verifytest.Push(ref))
	if err := verifytest.Sign(ref, key); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := cachedVerifier(t, dir, time.Now()).VerifySignature(context.Background(), verify.SignatureCheck{Image: ref, PublicKey: key.PublicPEM}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v, want 0700", fi.Mode().Perm())
	}
	files := entries(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one entry", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 || !strings.HasSuffix(files[0], ".json") {
		t.Errorf("entry %s mode %v, want a .json file with mode 0600", files[0], fi.Mode().Perm())
	}
}
