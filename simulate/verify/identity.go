package verify

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sigstore/cosign/v3/pkg/cosign"
)

// Identity is one entry of a policy-controller keyless authority's identities: exactly one of
// Issuer and IssuerRegExp, and of Subject and SubjectRegExp (the CIP webhook enforces that).
type Identity struct {
	Issuer, Subject, IssuerRegExp, SubjectRegExp string
}

// MatchIdentities checks a signature's certificate against a keyless authority's identities,
// any one of which must match, by cosign's own CheckCertificatePolicy as policy-controller
// runs it: the issuer is the first-generation issuer extension (1.3.6.1.4.1.57264.1.1) only;
// regular expressions are Go RE2 and unanchored; the subject is compared with every SAN
// (DNS, email, IP, URI, Fulcio username). A mismatch is *FailedError with cosign's text
// ("none of the expected identities matched what was in the certificate, got subjects [...]
// with issuer ..."), as is a malformed expression ("malformed issuer in identity: ...").
func MatchIdentities(cert *x509.Certificate, ids []Identity) error {
	co := &cosign.CheckOpts{}
	for _, id := range ids {
		co.Identities = append(co.Identities, cosign.Identity{
			Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp,
		})
	}
	if err := cosign.CheckCertificatePolicy(cert, co); err != nil {
		return &FailedError{err}
	}
	return nil
}

// What Kubewarden's host (policy-fetcher's constraints over sigstore-rs 0.13) reads from a
// signature's certificate. sigstore-rs drops the whole certificate, and with it every keyless
// constraint, when any of these cannot be read (CertificateSignature::from_certificate).
type kwCert struct {
	// subject is the first rfc822Name or URI in the SAN extension, in the certificate's order.
	subject string
	email   bool
	// issuer and repository are the first-generation extensions' raw bytes (1.1.1, 1.1.5);
	// sigstore-rs reads no other generation.
	issuer, repository       string
	hasIssuer, hasRepository bool
}

// Kubewarden's workflow extensions, all of which must be UTF-8 for the certificate to count.
var kwWorkflowOIDs = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, "Issuer"},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 2}, "GitHub Workflow trigger"},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 3}, "GitHub Workflow sha"},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 4}, "GitHub Workflow name"},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 5}, "GitHub Workflow repository"},
	{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 6}, "GitHub Workflow ref"},
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// readKWCert reads cert as sigstore-rs does; its errors carry sigstore-rs's texts.
func readKWCert(cert *x509.Certificate) (kwCert, error) {
	var c kwCert
	found := false
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		found = true
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			return c, fmt.Errorf("Pkcs8 error : get SAN ext failed: %v", err)
		}
		named := false
		for _, n := range names {
			if n.Class == asn1.ClassContextSpecific && (n.Tag == 1 || n.Tag == 6) {
				c.subject, c.email, named = string(n.Bytes), n.Tag == 1, true
				break
			}
		}
		if !named {
			return c, errors.New("Certificate with incomplete Subject Alternative Name") //nolint:staticcheck // sigstore-rs's text
		}
	}
	if !found {
		return c, errors.New("Pkcs8 error : No SAN ext found")
	}
	for _, w := range kwWorkflowOIDs {
		for _, ext := range cert.Extensions {
			if !ext.Id.Equal(w.oid) {
				continue
			}
			if !utf8.Valid(ext.Value) {
				return c, fmt.Errorf("x509 error: Certificate's extension Sigstore %s is not UTF8 compatible", w.name)
			}
			switch w.name {
			case "Issuer":
				c.issuer, c.hasIssuer = string(ext.Value), true
			case "GitHub Workflow repository":
				c.repository, c.hasRepository = string(ext.Value), true
			}
			break
		}
	}
	return c, nil
}

// KubewardenConstraint is one entry of the verification config Kubewarden's host builds for
// verify-image-signatures' keyless, keylessPrefix and githubActions settings (all of them must
// be satisfied by some signature). Match looks at a certificate only; Annotations are checked
// against the signature's payload elsewhere and appear here because the engine's message
// lists them.
type KubewardenConstraint interface {
	// Match returns nil, or *FailedError saying why this certificate does not satisfy the
	// constraint (Kubewarden itself only logs that at debug level).
	Match(cert *x509.Certificate) error
	// YAML is the constraint as Kubewarden lists it when unsatisfied (serde_yaml of
	// policy-fetcher's Signature).
	YAML() string
}

// KeylessExact is a keyless entry: the issuer extension equals Issuer and the certificate's
// subject (first email or URI SAN) equals Subject.
type KeylessExact struct {
	Issuer, Subject string
	Annotations     map[string]string
}

// Match implements KubewardenConstraint.
func (k KeylessExact) Match(cert *x509.Certificate) error {
	c, err := readKWCert(cert)
	if err != nil {
		return &FailedError{err}
	}
	if !c.hasIssuer || c.issuer != k.Issuer || c.subject != k.Subject {
		return &FailedError{fmt.Errorf("SubjectEqual not satisfied: want issuer %q and subject %q, certificate has %s and subject %q", k.Issuer, k.Subject, kwIssuerText(c), c.subject)}
	}
	return nil
}

// YAML implements KubewardenConstraint.
func (k KeylessExact) YAML() string {
	return "kind: genericIssuer\nissuer: " + yamlScalar(k.Issuer) + "\nsubject: !equal " + yamlScalar(k.Subject) + "\n" + yamlAnnotations(k.Annotations)
}

// KeylessPrefix is a keylessPrefix entry: the issuer extension equals Issuer and the
// certificate's subject starts with URLPrefix as a URL, with a slash appended when it does not
// end in one, so that https://github.com/org never matches https://github.com/organisation.
type KeylessPrefix struct {
	Issuer, URLPrefix string
	Annotations       map[string]string
}

// Prefix is the string a subject must start with: URLPrefix parsed and written back as a
// WHATWG URL (lowercase scheme and host, no default port, "/" for an empty path, dot segments
// resolved), then given a trailing slash. A prefix that is not an absolute URL is an error; in
// Kubewarden the host panics on it ("Cannot build url prefix").
func (k KeylessPrefix) Prefix() (string, error) {
	s, err := whatwgURL(k.URLPrefix)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// Match implements KubewardenConstraint.
func (k KeylessPrefix) Match(cert *x509.Certificate) error {
	prefix, err := k.Prefix()
	if err != nil {
		return &FailedError{err}
	}
	c, err := readKWCert(cert)
	if err != nil {
		return &FailedError{err}
	}
	if !c.hasIssuer || c.issuer != k.Issuer || !strings.HasPrefix(c.subject, prefix) {
		return &FailedError{fmt.Errorf("SubjectURLPrefix not satisfied: want issuer %q and a subject starting with %q, certificate has %s and subject %q", k.Issuer, prefix, kwIssuerText(c), c.subject)}
	}
	return nil
}

// YAML implements KubewardenConstraint. The URL is listed as parsed, before the slash is added.
func (k KeylessPrefix) YAML() string {
	u, err := whatwgURL(k.URLPrefix)
	if err != nil {
		u = k.URLPrefix
	}
	return "kind: genericIssuer\nissuer: " + yamlScalar(k.Issuer) + "\nsubject: !urlPrefix " + yamlScalar(u) + "\n" + yamlAnnotations(k.Annotations)
}

// GitHubActionsIssuer is the only issuer Kubewarden's githubActions accepts.
const GitHubActionsIssuer = "https://token.actions.githubusercontent.com"

// GitHubActions is a githubActions entry: the issuer is GitHub Actions', the subject is a
// github.com URL (not an email), and the owner and, when Repo is set, the repository are read
// from the first-generation workflow repository extension (1.3.6.1.4.1.57264.1.5,
// "owner/repo"), which must be there; newer repository extensions are not read.
type GitHubActions struct {
	Owner, Repo string
	Annotations map[string]string
}

// Match implements KubewardenConstraint.
func (g GitHubActions) Match(cert *x509.Certificate) error {
	c, err := readKWCert(cert)
	if err != nil {
		return &FailedError{err}
	}
	switch {
	case !c.hasIssuer || c.issuer != GitHubActionsIssuer:
		return &FailedError{fmt.Errorf("issuer not satisfied: want %q, certificate has %s", GitHubActionsIssuer, kwIssuerText(c))}
	case c.email:
		return &FailedError{fmt.Errorf("subject not satisfied, expected URI, got email instead: %q", c.subject)}
	}
	if _, _, err := githubOwnerRepo(c.subject); err != nil {
		return &FailedError{fmt.Errorf("The certificate subject url doesn't seem a GitHub valid one, despite the issuer being the GitHub Action one: %s", c.subject)} //nolint:staticcheck // policy-fetcher's text
	}
	if !c.hasRepository {
		return &FailedError{errors.New("The certificate is missing the github_workflow_repository extension despite being a GitHub Action one")} //nolint:staticcheck // policy-fetcher's text
	}
	owner, repo, err := githubOwnerRepo("https://github.com/" + c.repository)
	if err != nil {
		return &FailedError{fmt.Errorf("The certificate doesn't have a valid github_workflow_repository extension, despite the issuer being the GitHub Action one: %s", c.repository)} //nolint:staticcheck // the engine's text
	}
	if owner != g.Owner {
		return &FailedError{fmt.Errorf("repo owner not satisfied: want %q, certificate has %q", g.Owner, owner)}
	}
	if g.Repo != "" && repo != g.Repo {
		return &FailedError{fmt.Errorf("repo not satisfied: want %q, certificate has %q", g.Repo, repo)}
	}
	return nil
}

// YAML implements KubewardenConstraint.
func (g GitHubActions) YAML() string {
	repo := "null"
	if g.Repo != "" {
		repo = yamlScalar(g.Repo)
	}
	return "kind: githubAction\nowner: " + yamlScalar(g.Owner) + "\nrepo: " + repo + "\n" + yamlAnnotations(g.Annotations)
}

// KubewardenMissingSignatures is the host's error when some constraints were not satisfied by
// any signature (policy-fetcher verify_signatures_against_config), listing them in order.
func KubewardenMissingSignatures(unsatisfied []KubewardenConstraint) string {
	var b strings.Builder
	b.WriteString("Image verification failed: missing signatures\nThe following constraints were not satisfied:\n")
	for _, c := range unsatisfied {
		b.WriteString(c.YAML())
	}
	return b.String()
}

func kwIssuerText(c kwCert) string {
	if !c.hasIssuer {
		return "no issuer extension"
	}
	return fmt.Sprintf("issuer %q", c.issuer)
}

// githubOwnerRepo reads owner and repository as the first two path segments of a github.com
// URL, as policy-fetcher's GitHubRepo does: the host must be github.com and both segments must
// exist (an empty second one counts).
func githubOwnerRepo(raw string) (owner, repo string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", "", fmt.Errorf("cannot parse github url %q", raw)
	}
	if strings.ToLower(u.Hostname()) != "github.com" {
		return "", "", fmt.Errorf("not a GitHub url: %q", raw)
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(segs) < 2 {
		return "", "", fmt.Errorf("cannot parse github url: repo not found in %q", raw)
	}
	return segs[0], segs[1], nil
}

var specialPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21", "file": ""}

// whatwgURL parses raw as Rust's url crate does for the common cases and writes it back:
// absolute URLs only; for special schemes, lowercase host, no default port, "/" for an empty
// path and dot segments resolved. Other schemes are kept as written.
func whatwgURL(raw string) (string, error) {
	s := strings.TrimFunc(raw, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("Cannot build url prefix: %w", err) //nolint:staticcheck // the engine's text
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("Cannot build url prefix: %q: relative URL without a base", raw) //nolint:staticcheck // the engine's text
	}
	defPort, special := specialPorts[u.Scheme]
	if !special {
		return u.Scheme + s[len(u.Scheme):], nil
	}
	if u.Host == "" && u.Scheme != "file" {
		return "", fmt.Errorf("Cannot build url prefix: %q: empty host", raw) //nolint:staticcheck // the engine's text
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n > 65535 {
			return "", fmt.Errorf("Cannot build url prefix: %q: invalid port number", raw) //nolint:staticcheck // the engine's text
		}
		if strconv.Itoa(n) != defPort {
			host += ":" + strconv.Itoa(n)
		}
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(u.User.String() + "@")
	}
	b.WriteString(host)
	b.WriteString(resolveDots(u.EscapedPath()))
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + u.RawQuery)
	}
	if u.Fragment != "" {
		b.WriteString("#" + u.EscapedFragment())
	}
	return b.String(), nil
}

// resolveDots removes "." and ".." segments, keeping empty ones and a trailing slash.
func resolveDots(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch strings.ToLower(s) {
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// yamlScalar writes s as serde_yaml (libyaml) does in block context: plain when that reads back
// as the same string, otherwise single-quoted, or double-quoted when s has control characters.
func yamlScalar(s string) string {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	if yamlNeedsQuotes(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}

var yamlNonString = regexp.MustCompile(`^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?([0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$`)

func yamlNeedsQuotes(s string) bool {
	switch {
	case s == "", yamlNonString.MatchString(s),
		s[0] == ' ', s[len(s)-1] == ' ',
		strings.HasPrefix(s, "---"), strings.HasPrefix(s, "..."),
		strings.ContainsAny(s[:1], "#,[]{}&*!|>'\"%@`"),
		strings.Contains(s, ": "), strings.HasSuffix(s, ":"), strings.Contains(s, " #"):
		return true
	case strings.ContainsAny(s[:1], "-?:"):
		return len(s) == 1 || s[1] == ' '
	}
	return false
}

func yamlAnnotations(a map[string]string) string {
	// nil is settings without annotations (None); an empty map is `annotations: {}` (Some).
	if a == nil {
		return "annotations: null\n"
	}
	if len(a) == 0 {
		return "annotations: {}\n"
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("annotations:\n")
	for _, k := range keys {
		b.WriteString("  " + yamlScalar(k) + ": " + yamlScalar(a[k]) + "\n")
	}
	return b.String()
}
