// Package scenario loads the scenario folders under testdata/scenarios (format:
// testdata/scenarios/README.md), substitutes their placeholders for one test environment, and
// compares a `kubectl verify simulate -o json` report, or a `kyverno apply -p` report, with what
// the scenario expects.
//
// It is test support shared by the unit tests of the simulate packages and the end-to-end suite
// under e2e/. It does not sign or push anything: callers make the registry, keys and images and
// describe them in an Env.
package scenario

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// File names inside a scenario folder.
const (
	ImagesFile    = "images.yaml"
	PoliciesFile  = "policies.yaml"
	ResourcesFile = "resources.yaml"
	ExpectedFile  = "expected.yaml"
	ArgsFile      = "args"
	ClusterFile   = "cluster.yaml"
)

// Scenario is one folder under testdata/scenarios, as read from disk (placeholders intact).
type Scenario struct {
	// Name is the folder's base name.
	Name string
	// Dir is the folder's path.
	Dir string
	// Images is images.yaml.
	Images Images
	// Policies, Resources and Expected are the raw file contents.
	Policies  []byte
	Resources []byte
	Expected  []byte
	// Args is the args file's raw content, nil when the file is absent.
	Args []byte
	// Cluster is cluster.yaml's raw content (objects that exist in the cluster: ConfigMaps a
	// rule's context reads, say), nil when the file is absent. A scenario with it is live: it
	// runs only where a cluster holds them (e2e TestKyvernoAdmission), with policies read
	// from that cluster.
	Cluster []byte
}

// Live reports whether the scenario needs a cluster holding cluster.yaml's objects.
func (s *Scenario) Live() bool { return s.Cluster != nil }

// Images is the content of images.yaml.
type Images struct {
	// Keys names the key pairs the harness makes (e.g. k1, k2).
	Keys []string `json:"keys,omitempty"`
	// Images are pushed to the test registry, each with distinct content.
	Images []Image `json:"images,omitempty"`
	// Identities are leaf certificates the run's test CA (standing in for Fulcio) issues.
	Identities map[string]IdentitySpec `json:"identities,omitempty"`
	// Logs names private transparency logs (Rekor keys the harness makes) that SignDetached
	// signatures are recorded in; ${REKOR:<name>} is a log's public key.
	Logs []string `json:"logs,omitempty"`
	// TSAs names private RFC 3161 timestamping authorities; ${TSA:<name>} is one's
	// certificate chain (leaf, then root), what Kyverno's ctlog.tsaCertChain takes.
	TSAs []string `json:"tsas,omitempty"`
	// CTLogs names private certificate-transparency logs; an identity with `sct` carries an
	// embedded SCT from one, and ${CTLOG:<name>} is its public key.
	CTLogs []string `json:"ctlogs,omitempty"`
	// Registry is the kind of registry the scenario needs: RegistryPlain ("" too) or
	// RegistryReferrers.
	Registry string `json:"registry,omitempty"`
}

// Registry kinds (images.yaml `registry`).
const (
	// RegistryPlain has no OCI 1.1 referrers API (`crane registry serve` in e2e): referrers
	// live under the sha256-<digest> fallback tag. The unit runner also runs such scenarios
	// on a registry with the API.
	RegistryPlain = "plain"
	// RegistryReferrers serves the referrers API (hack/referrers-registry in e2e); the
	// scenario runs only there, since what it pins down depends on the API.
	RegistryReferrers = "referrers"
)

// NeedsReferrers reports whether the scenario must run on a registry with the referrers API.
func (im Images) NeedsReferrers() bool { return im.Registry == RegistryReferrers }

// IdentitySpec is the workload identity a leaf certificate carries.
type IdentitySpec struct {
	// Subject is the URI SAN (e.g. a GitHub Actions workflow ref).
	Subject string `json:"subject"`
	// Issuer is the OIDC issuer, in Fulcio's issuer extensions.
	Issuer string `json:"issuer"`
	// ValidFrom is when the leaf's validity starts: an RFC 3339 time, or an offset from now
	// (e.g. -48h); ValidFor how long it lasts. Empty: an hour ago, for a day. Absolute times
	// keep messages that print them stable.
	ValidFrom string `json:"validFrom,omitempty"`
	ValidFor  string `json:"validFor,omitempty"`
	// Extensions are further Fulcio extensions by dotted OID, each value as raw bytes (the
	// first-generation GitHub workflow extensions 1.3.6.1.4.1.57264.1.2 to .6).
	Extensions map[string]string `json:"extensions,omitempty"`
	// SCT names the CT log (one of CTLogs) whose SCT the leaf embeds, as Fulcio's do.
	SCT string `json:"sct,omitempty"`
}

// Validity is the leaf's validity window.
func (id IdentitySpec) Validity(now time.Time) (notBefore, notAfter time.Time, err error) {
	notBefore, span := now.Add(-time.Hour), 24*time.Hour
	if id.ValidFrom != "" {
		if notBefore, err = instant(id.ValidFrom, now); err != nil {
			return
		}
	}
	if id.ValidFor != "" {
		if span, err = time.ParseDuration(id.ValidFor); err != nil {
			return
		}
	}
	return notBefore, notBefore.Add(span), nil
}

// instant reads an RFC 3339 time or an offset from now.
func instant(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", s)
	}
	return now.Add(d), nil
}

// DetachedSigning is one signature made outside the registry (`cosign sign-blob` of `cosign
// generate`'s payload) with a proof of its time: recorded in a private transparency log (a
// Rekor bundle) and/or stamped by a private timestamping authority (an RFC 3161 response),
// both made by the harness, then stored with `cosign attach signature --rekor-response
// --tsr`.
type DetachedSigning struct {
	// Key or Identity signs (exactly one).
	Key      string `json:"key,omitempty"`
	Identity string `json:"identity,omitempty"`
	// Log records it (one of Images.Logs), at LoggedAt: an RFC 3339 time or an offset from
	// now; empty is now.
	Log      string `json:"log,omitempty"`
	LoggedAt string `json:"loggedAt,omitempty"`
	// TSA stamps it (one of Images.TSAs), at StampedAt (as LoggedAt).
	TSA       string `json:"tsa,omitempty"`
	StampedAt string `json:"stampedAt,omitempty"`
}

// IntegratedTime is LoggedAt applied to now.
func (l DetachedSigning) IntegratedTime(now time.Time) (time.Time, error) {
	if l.LoggedAt == "" {
		return now, nil
	}
	return instant(l.LoggedAt, now)
}

// StampTime is StampedAt applied to now.
func (l DetachedSigning) StampTime(now time.Time) (time.Time, error) {
	if l.StampedAt == "" {
		return now, nil
	}
	return instant(l.StampedAt, now)
}

// Image is one image to push and sign.
type Image struct {
	// Ref is repository:tag relative to the registry, e.g. test/app:signed.
	Ref string `json:"ref"`
	// Sign names the keys (from Images.Keys) that sign the image in cosign's legacy
	// `.sig`-tag format, without a transparency log entry.
	Sign []string `json:"sign,omitempty"`
	// SignBundle names the keys that sign the image in cosign v3's default Sigstore bundle
	// format (`cosign sign` without --new-bundle-format=false), without a transparency log
	// entry. On a registry without the OCI 1.1 referrers API the bundle lands under the
	// sha256-<digest> fallback tag.
	SignBundle []string `json:"signBundle,omitempty"`
	// SignReferrers names the keys that sign the image in the legacy format (as Sign) but
	// store the signature as an OCI 1.1 referrer of the image (`cosign sign
	// --registry-referrers-mode=oci-1-1`, artifactType
	// application/vnd.dev.cosign.artifact.sig.v1+json) instead of under the .sig tag.
	SignReferrers []string `json:"signReferrers,omitempty"`
	// SignRepository, when set, is where the legacy signatures go (repository relative to the
	// registry), as COSIGN_REPOSITORY does.
	SignRepository string `json:"signRepository,omitempty"`
	// SignKeyless names identities whose certificate-bearing signatures the image gets
	// (`cosign sign --key <leaf key> --certificate <leaf> --certificate-chain <CA>`).
	SignKeyless []string `json:"signKeyless,omitempty"`
	// SignDetached are signatures that carry a Rekor bundle from one of Logs and/or a
	// timestamp from one of TSAs.
	SignDetached []DetachedSigning `json:"signDetached,omitempty"`
	// Attest are in-toto attestations the image gets, in cosign's legacy format (a DSSE
	// envelope under the .att tag), without a transparency log entry.
	Attest []Attestation `json:"attest,omitempty"`
	// TagPrefix, when set, moves the image's signature and attestation tags, once made, to
	// <prefix>sha256-<hex>.sig and .att (policy-controller's source.tagPrefix): cosign cannot
	// write them there, so the harness moves them, as policy-controller's e2e does with crane.
	TagPrefix string `json:"tagPrefix,omitempty"`
}

// Attestation is one images.yaml `attest` entry: `cosign attest --key <key> --type <type>
// --predicate <predicate as a file>`, or by an identity (`--key <leaf key> --certificate
// <leaf> --certificate-chain <CA>`), as signKeyless signs.
type Attestation struct {
	// Key or Identity signs (exactly one).
	Key      string `json:"key,omitempty"`
	Identity string `json:"identity,omitempty"`
	// Type is cosign's --type: one of its short names (slsaprovenance, custom, ...) or a
	// predicate-type URI.
	Type string `json:"type"`
	// Predicate is the predicate, a JSON object.
	Predicate map[string]any `json:"predicate"`
}

// KeyType is the type of the key pair a key name asks for: names starting with rsa give
// RSA-2048, p384 ECDSA P-384, ed25519 Ed25519; any other name cosign's default, ECDSA P-256.
func KeyType(name string) string {
	switch {
	case strings.HasPrefix(name, "rsa"):
		return "rsa-2048"
	case strings.HasPrefix(name, "p384"):
		return "ecdsa-p384"
	case strings.HasPrefix(name, "ed25519"):
		return "ed25519"
	}
	return "ecdsa-p256"
}

// Repo returns the repository part of Ref (test/app for test/app:signed).
func (i Image) Repo() string {
	repo, _ := splitRef(i.Ref)
	return repo
}

// Tag returns the tag part of Ref (signed for test/app:signed).
func (i Image) Tag() string {
	_, tag := splitRef(i.Ref)
	return tag
}

func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// Env is what the placeholders of one test environment stand for.
type Env struct {
	// Registry is the test registry's host:port (${REGISTRY}).
	Registry string
	// DeadRegistry is a loopback host:port where nothing listens (${DEAD_REGISTRY}).
	DeadRegistry string
	// Digests maps an images.yaml ref (repo:tag) to its manifest digest, sha256:...
	// (${DIGEST:<repo>:<tag>}).
	Digests map[string]string
	// PublicKeys maps a key name to its PEM public key (${KEY:<name>}).
	PublicKeys map[string]string
	// Roots is the test CA's PEM (${ROOTS}); Certs the identities' leaf PEMs (${CERT:<name>}).
	Roots string
	Certs map[string]string
	// LogKeys maps a log name to its PEM public key (${REKOR:<name>}).
	LogKeys map[string]string
	// TSAChains maps a TSA name to its certificate chain PEM (${TSA:<name>}).
	TSAChains map[string]string
	// CTLogKeys maps a CT log name to its PEM public key (${CTLOG:<name>}).
	CTLogKeys map[string]string
	// TrustedRoot is the path of a trusted_root.json declaring the run's CA and the scenario's
	// logs and CT logs (${TRUSTED_ROOT}, for `--trusted-root`).
	TrustedRoot string
	// Resources is the path of the substituted resources.yaml (${RESOURCES}, for
	// `--old-filename` in args); Materialize sets it.
	Resources string
}

// Load reads the scenario folder dir.
func Load(dir string) (*Scenario, error) {
	s := &Scenario{Name: filepath.Base(dir), Dir: dir}
	read := func(name string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if optional && errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		return b, nil
	}
	var err error
	var images []byte
	if images, err = read(ImagesFile, true); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(images)) > 0 {
		if err := yaml.UnmarshalStrict(images, &s.Images); err != nil {
			return nil, fmt.Errorf("scenario %s: %s: %w", s.Name, ImagesFile, err)
		}
	}
	if err := s.Images.validate(); err != nil {
		return nil, fmt.Errorf("scenario %s: %s: %w", s.Name, ImagesFile, err)
	}
	if s.Policies, err = read(PoliciesFile, false); err != nil {
		return nil, err
	}
	if s.Resources, err = read(ResourcesFile, false); err != nil {
		return nil, err
	}
	if s.Expected, err = read(ExpectedFile, false); err != nil {
		return nil, err
	}
	if s.Args, err = read(ArgsFile, true); err != nil {
		return nil, err
	}
	if s.Cluster, err = read(ClusterFile, true); err != nil {
		return nil, err
	}
	return s, nil
}

func (im Images) validate() error {
	switch im.Registry {
	case "", RegistryPlain, RegistryReferrers:
	default:
		return fmt.Errorf("registry %q, want %q or %q", im.Registry, RegistryPlain, RegistryReferrers)
	}
	keys := map[string]bool{}
	for _, k := range im.Keys {
		if k == "" {
			return errors.New("empty key name")
		}
		if keys[k] {
			return fmt.Errorf("key %q listed twice", k)
		}
		keys[k] = true
	}
	for name, id := range im.Identities {
		if _, _, err := id.Validity(time.Now()); err != nil {
			return fmt.Errorf("identities.%s: %w", name, err)
		}
		if id.SCT != "" && !slices.Contains(im.CTLogs, id.SCT) {
			return fmt.Errorf("identities.%s.sct: %q is not in ctlogs", name, id.SCT)
		}
	}
	refs := map[string]bool{}
	for i, img := range im.Images {
		if img.Repo() == "" || img.Tag() == "" {
			return fmt.Errorf("images[%d].ref = %q, want repo:tag", i, img.Ref)
		}
		if refs[img.Ref] {
			return fmt.Errorf("images[%d].ref %q listed twice", i, img.Ref)
		}
		refs[img.Ref] = true
		for _, k := range append(append(append([]string(nil), img.Sign...), img.SignBundle...), img.SignReferrers...) {
			if !keys[k] {
				return fmt.Errorf("images[%d] (%s) is signed by %q, which keys does not list", i, img.Ref, k)
			}
		}
		for j, a := range img.Attest {
			_, isID := im.Identities[a.Identity]
			switch {
			case a.Type == "":
				return fmt.Errorf("images[%d] (%s).attest[%d]: type must be set", i, img.Ref, j)
			case (a.Key == "") == (a.Identity == ""):
				return fmt.Errorf("images[%d] (%s).attest[%d]: give key or identity", i, img.Ref, j)
			case a.Key != "" && !keys[a.Key]:
				return fmt.Errorf("images[%d] (%s).attest[%d]: key %q must be listed in keys", i, img.Ref, j, a.Key)
			case a.Identity != "" && !isID:
				return fmt.Errorf("images[%d] (%s).attest[%d]: identity %q is not in identities", i, img.Ref, j, a.Identity)
			}
		}
		for _, id := range img.SignKeyless {
			if _, ok := im.Identities[id]; !ok {
				return fmt.Errorf("images[%d] (%s) is signed by identity %q, which identities does not list", i, img.Ref, id)
			}
		}
		for j, l := range img.SignDetached {
			_, isID := im.Identities[l.Identity]
			switch {
			case (l.Key == "") == (l.Identity == ""):
				return fmt.Errorf("images[%d].signDetached[%d]: give key or identity", i, j)
			case l.Key != "" && !keys[l.Key]:
				return fmt.Errorf("images[%d].signDetached[%d]: key %q is not in keys", i, j, l.Key)
			case l.Identity != "" && !isID:
				return fmt.Errorf("images[%d].signDetached[%d]: identity %q is not in identities", i, j, l.Identity)
			case l.Log == "" && l.TSA == "":
				return fmt.Errorf("images[%d].signDetached[%d]: give log, tsa or both", i, j)
			case l.Log != "" && !slices.Contains(im.Logs, l.Log):
				return fmt.Errorf("images[%d].signDetached[%d]: log %q is not in logs", i, j, l.Log)
			case l.TSA != "" && !slices.Contains(im.TSAs, l.TSA):
				return fmt.Errorf("images[%d].signDetached[%d]: tsa %q is not in tsas", i, j, l.TSA)
			}
			if _, err := l.IntegratedTime(time.Now()); err != nil {
				return fmt.Errorf("images[%d].signDetached[%d].loggedAt: %w", i, j, err)
			}
			if _, err := l.StampTime(time.Now()); err != nil {
				return fmt.Errorf("images[%d].signDetached[%d].stampedAt: %w", i, j, err)
			}
		}
	}
	return nil
}

// LoadAll loads every scenario folder directly under root (folders without an expected.yaml
// are ignored), sorted by name.
func LoadAll(root string) ([]*Scenario, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, ExpectedFile)); err != nil {
			continue
		}
		s, err := Load(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)(?::([^}]*))?\}`)

// Substitute replaces the placeholders in text (README: ${REGISTRY}, ${DEAD_REGISTRY},
// ${DIGEST:<repo>:<tag>}, and ${KEY:<name>} alone on a line). An unknown placeholder, one whose
// value env lacks, or a ${KEY:...} that shares its line with anything else is an error.
func Substitute(text string, env Env) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	var errs []error
	for n, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		eol := line[len(body):]
		if m := keyLineRE.FindStringSubmatch(body); m != nil {
			pem, ok := pemOf(m[2], m[3], env)
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: ${%s:%s}: no such %s", n+1, m[2], m[3], strings.ToLower(m[2])))
				continue
			}
			for _, pl := range strings.Split(strings.TrimRight(pem, "\n"), "\n") {
				b.WriteString(m[1] + pl + "\n")
			}
			if eol == "" {
				// The placeholder ended the text without a newline; keep it that way.
				s := b.String()
				b.Reset()
				b.WriteString(strings.TrimSuffix(s, "\n"))
			}
			continue
		}
		out := placeholderRE.ReplaceAllStringFunc(body, func(ph string) string {
			m := placeholderRE.FindStringSubmatch(ph)
			v, err := value(m[1], m[2], env)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %s: %w", n+1, ph, err))
				return ph
			}
			return v
		})
		b.WriteString(out + eol)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return b.String(), nil
}

// keyLineRE matches a block placeholder alone on its line: ${KEY:name}, ${CERT:name}, ${ROOTS},
// ${REKOR:name}, ${TSA:name}, ${CTLOG:name}.
var keyLineRE = regexp.MustCompile(`^(\s*)\$\{(KEY|CERT|ROOTS|REKOR|TSA|CTLOG)(?::([^}]*))?\}\s*$`)

// pemOf is the PEM a block placeholder stands for.
func pemOf(kind, name string, env Env) (string, bool) {
	switch kind {
	case "KEY":
		pem, ok := env.PublicKeys[name]
		return pem, ok
	case "CERT":
		pem, ok := env.Certs[name]
		return pem, ok
	case "ROOTS":
		return env.Roots, env.Roots != "" && name == ""
	case "REKOR":
		pem, ok := env.LogKeys[name]
		return pem, ok
	case "TSA":
		pem, ok := env.TSAChains[name]
		return pem, ok
	case "CTLOG":
		pem, ok := env.CTLogKeys[name]
		return pem, ok
	}
	return "", false
}

func value(name, arg string, env Env) (string, error) {
	switch name {
	case "BASE64":
		// ${BASE64:ROOTS}, ${BASE64:CTLOG:<name>}, ...: a block placeholder's PEM, base64
		// encoded on one line (policy-controller's TrustRoot holds PEM as bytes).
		kind, pemName, _ := strings.Cut(arg, ":")
		pem, ok := pemOf(kind, pemName, env)
		if !ok {
			return "", fmt.Errorf("no such %s", strings.ToLower(kind))
		}
		return base64.StdEncoding.EncodeToString([]byte(pem)), nil
	case "INDENTED":
		// ${INDENTED:KEY:<name>}, ...: a block placeholder's PEM inside a double-quoted YAML
		// string, each line indented by two and ended by a \n escape, as Kubewarden's
		// messages list a key (a literal block in serde_yaml's output).
		kind, pemName, _ := strings.Cut(arg, ":")
		pem, ok := pemOf(kind, pemName, env)
		if !ok {
			return "", fmt.Errorf("no such %s", strings.ToLower(kind))
		}
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimRight(pem, "\n"), "\n") {
			b.WriteString("  " + l + `\n`)
		}
		return b.String(), nil
	case "REGISTRY":
		if arg != "" || env.Registry == "" {
			return "", errors.New("no registry (or an unexpected argument)")
		}
		return env.Registry, nil
	case "DEAD_REGISTRY":
		if arg != "" || env.DeadRegistry == "" {
			return "", errors.New("no dead registry (or an unexpected argument)")
		}
		return env.DeadRegistry, nil
	case "TRUSTED_ROOT":
		if arg != "" || env.TrustedRoot == "" {
			return "", errors.New("no trusted root (or an unexpected argument)")
		}
		return env.TrustedRoot, nil
	case "RESOURCES":
		if arg != "" || env.Resources == "" {
			return "", errors.New("no resources file (args only, or an unexpected argument)")
		}
		return env.Resources, nil
	case "DIGEST":
		d, ok := env.Digests[arg]
		if !ok {
			return "", errors.New("no digest for that image (is it in images.yaml?)")
		}
		return d, nil
	case "KEY", "CERT", "ROOTS", "REKOR", "TSA", "CTLOG":
		return "", fmt.Errorf("${%s...} must be alone on its line", name)
	}
	return "", errors.New("unknown placeholder")
}

// Files are a scenario's inputs, substituted for one Env and written to disk.
type Files struct {
	// Policies and Resources are the paths of the substituted policies.yaml and resources.yaml.
	Policies  string
	Resources string
	// Args are the extra flags from the args file (substituted; blank lines and lines starting
	// with # are dropped).
	Args []string
	// Cluster is the path of the substituted cluster.yaml ("" without one).
	Cluster string
	// Expected is the parsed, substituted expected.yaml.
	Expected Expected
}

// Materialize substitutes the scenario's files for env and writes policies.yaml and
// resources.yaml into dir (which must exist).
func (s *Scenario) Materialize(env Env, dir string) (*Files, error) {
	if err := s.checkEnv(env); err != nil {
		return nil, err
	}
	f := &Files{
		Policies:  filepath.Join(dir, PoliciesFile),
		Resources: filepath.Join(dir, ResourcesFile),
	}
	type write struct {
		name string
		raw  []byte
		path string
	}
	writes := []write{{PoliciesFile, s.Policies, f.Policies}, {ResourcesFile, s.Resources, f.Resources}}
	if s.Live() {
		f.Cluster = filepath.Join(dir, ClusterFile)
		writes = append(writes, write{ClusterFile, s.Cluster, f.Cluster})
	}
	for _, w := range writes {
		text, err := Substitute(string(w.raw), env)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %s: %w", s.Name, w.name, err)
		}
		if err := os.WriteFile(w.path, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	env.Resources = f.Resources
	args, err := s.SubstitutedArgs(env)
	if err != nil {
		return nil, err
	}
	f.Args = args
	exp, err := s.SubstitutedExpected(env)
	if err != nil {
		return nil, err
	}
	f.Expected = exp
	return f, nil
}

// checkEnv reports images and keys the scenario needs but env does not describe.
func (s *Scenario) checkEnv(env Env) error {
	var errs []error
	for _, k := range s.Images.Keys {
		if _, ok := env.PublicKeys[k]; !ok {
			errs = append(errs, fmt.Errorf("no public key %q", k))
		}
	}
	for _, img := range s.Images.Images {
		if _, ok := env.Digests[img.Ref]; !ok {
			errs = append(errs, fmt.Errorf("no digest for image %q", img.Ref))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("scenario %s: env: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// SubstitutedArgs returns the args file's flags for env.
func (s *Scenario) SubstitutedArgs(env Env) ([]string, error) {
	if s.Args == nil {
		return nil, nil
	}
	text, err := Substitute(string(s.Args), env)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %s: %w", s.Name, ArgsFile, err)
	}
	var args []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		args = append(args, l)
	}
	return args, nil
}

// SubstitutedExpected parses expected.yaml after substitution for env.
func (s *Scenario) SubstitutedExpected(env Env) (Expected, error) {
	text, err := Substitute(string(s.Expected), env)
	if err != nil {
		return Expected{}, fmt.Errorf("scenario %s: %s: %w", s.Name, ExpectedFile, err)
	}
	exp, err := ParseExpected([]byte(text))
	if err != nil {
		return Expected{}, fmt.Errorf("scenario %s: %s: %w", s.Name, ExpectedFile, err)
	}
	return exp, nil
}
