// Package fuzzseed gives the fuzz tests realistic seeds: the files of the scenario suites
// (testdata/scenarios), their placeholders filled with fixed values (a real P-256 key and a
// real self-signed certificate, so PEM checks pass and parsers go deep).
package fuzzseed

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/internal/scenario"
)

// MaxInput bounds what a fuzzer feeds its target: larger inputs are skipped, so a run
// measures parsing, not the time a huge input takes.
const MaxInput = 64 << 10

// TimeLimit is how long one input may take before Watchdog calls it a hang.
const TimeLimit = 10 * time.Second

// Watchdog crashes the process when the input being tried takes over TimeLimit: the fuzzing
// engine has no timeout of its own (a hung worker only stalls the run), but it records the
// input of a worker that crashes, under testdata/fuzz. Call it as defer Watchdog(input)().
func Watchdog(input ...any) (stop func()) {
	timer := time.AfterFunc(TimeLimit, func() {
		panic(fmt.Sprintf("fuzzseed: an input took over %s (a hang): %q", TimeLimit, input))
	})
	return func() { timer.Stop() }
}

// Registry is what ${REGISTRY} becomes.
const Registry = "registry.example:5000"

// PublicKey is a P-256 public key, what every ${KEY:...}, ${REKOR:...} and ${CTLOG:...}
// becomes.
const PublicKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVbWrl0IQJLiSH4IKvvJg/SIVvNK2
/kwJ/bqT7F6SwIN3GMm/4iM8nXoQjuf6Sz0NzACavqlGErBeQn+Ud7DIXw==
-----END PUBLIC KEY-----
`

// Certificate is a self-signed CA certificate for that key (code signing, an email SAN), what
// every ${CERT:...}, ${ROOTS} and ${TSA:...} becomes.
const Certificate = `-----BEGIN CERTIFICATE-----
MIIB6jCCAY+gAwIBAgIUVQt1xjchIzgOSE0KTyLfKb+R5CEwCgYIKoZIzj0EAwIw
JjENMAsGA1UECgwEZnV6ejEVMBMGA1UEAwwMZnV6eiBzZWVkIENBMCAXDTI2MTEy
NTIwMjAxNloYDzIxMjYxMTAxMjAyMDE2WjAmMQ0wCwYDVQQKDARmdXp6MRUwEwYD
VQQDDAxmdXp6IHNlZWQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARVtauX
QhAkuJIfggq+8mD9IhW80rb+TAn9upPsXpLAg3cYyb/iIzydehCO5/pLPQ3MAJq+
qUYSsF5Cf5R3sMhfo4GYMIGVMB0GA1UdDgQWBBTszFTIfhsWkmoN4x/INQuPTMa3
ujAfBgNVHSMEGDAWgBTszFTIfhsWkmoN4x/INQuPTMa3ujAOBgNVHQ8BAf8EBAMC
AoQwDwYDVR0TAQH/BAUwAwEB/zATBgNVHSUEDDAKBggrBgEFBQcDAzAdBgNVHREE
FjAUgRJzaWduZXJAZXhhbXBsZS5jb20wCgYIKoZIzj0EAwIDSQAwRgIhANpaoeZ+
dTrYgq+6sWA4aZK/WHOT2R1RdExgKkwQn+E8AiEAyqGHZZvoiHfpsaPEhXHQuhr1
UMI5zIMFdf0emBYba3g=
-----END CERTIFICATE-----
`

// Digest is what every ${DIGEST:...} becomes.
const Digest = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

var (
	argRE  = regexp.MustCompile(`\$\{[A-Z][A-Z0-9_]*:([^}]*)\}`)
	kindRE = regexp.MustCompile(`^[A-Z]+:`)
)

// env fills every placeholder text names.
func env(text string) scenario.Env {
	e := scenario.Env{Registry: Registry, DeadRegistry: "127.0.0.1:9", Roots: Certificate,
		TrustedRoot: "/nonexistent/trusted_root.json", Resources: "resources.yaml",
		Digests: map[string]string{}, PublicKeys: map[string]string{}, Certs: map[string]string{},
		LogKeys: map[string]string{}, TSAChains: map[string]string{}, CTLogKeys: map[string]string{}}
	for _, m := range argRE.FindAllStringSubmatch(text, -1) {
		// ${KEY:name}, ${DIGEST:repo:tag}, and ${BASE64:KIND:name}: give every map every
		// name that may be looked up.
		names := []string{m[1]}
		if i := kindRE.FindStringIndex(m[1]); i != nil {
			names = append(names, m[1][i[1]:])
		}
		for _, n := range names {
			e.Digests[n] = Digest
			e.PublicKeys[n], e.LogKeys[n], e.CTLogKeys[n] = PublicKey, PublicKey, PublicKey
			e.Certs[n], e.TSAChains[n] = Certificate, Certificate
		}
	}
	return e
}

// root is the module's directory (the fuzz tests run in their package's).
func root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("fuzzseed: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Files is file (policies.yaml, resources.yaml) of every scenario that has it, placeholders
// filled, in scenario order.
func Files(tb testing.TB, file string) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(root(tb), "testdata", "scenarios", "*", file))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("fuzzseed: no testdata/scenarios/*/%s (%v)", file, err)
	}
	slices.Sort(paths)
	var out [][]byte
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		text, err := scenario.Substitute(string(raw), env(string(raw)))
		if err != nil {
			tb.Fatalf("fuzzseed: %s: %v", p, err)
		}
		out = append(out, []byte(text))
	}
	return out
}

// Objects is every object of those files that keep accepts, as JSON (what the policy
// parsers take); files that do not parse are left out.
func Objects(tb testing.TB, file string, keep func(o manifest.Object) bool) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, data := range Files(tb, file) {
		objs, err := manifest.Parse(data, file)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if !keep(o) {
				continue
			}
			raw, err := json.Marshal(o.Obj)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, raw)
		}
	}
	return out
}

// Strings is every distinct string found under a key named key (a string, or a list of
// strings) in the objects of those files: "image" in resources.yaml, "glob" or
// "imageReferences" in policies.yaml.
func Strings(tb testing.TB, file, key string) []string {
	tb.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if k == key {
					switch x := v[k].(type) {
					case string:
						add(x)
					case []any:
						for _, s := range x {
							if s, ok := s.(string); ok {
								add(s)
							}
						}
					}
				}
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, data := range Files(tb, file) {
		objs, err := manifest.Parse(data, file)
		if err != nil {
			continue
		}
		for _, o := range objs {
			walk(o.Obj)
		}
	}
	return out
}
