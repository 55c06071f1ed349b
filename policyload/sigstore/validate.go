package sigstore

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/kubectl-verify/kubectl-verify/internal/fielderror"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// What follows mirrors the validating webhook validating.clusterimagepolicy.sigstore.dev
// (pkg/apis/policy/v1alpha1/clusterimagepolicy_validation.go; v1beta1's is the same), entry
// for entry and path for path, including its oddities: attestation paths carry no index, the
// CIP-level policy's paths no "policy." prefix, and a nameless signaturePullSecret re-prefixes
// the errors before it.

// matchResources is the set cmd/webhook/main.go installs: the kinds the webhook handles.
var matchResources = map[string]bool{
	"replicasets": true, "deployments": true, "pods": true, "cronjobs": true,
	"jobs": true, "statefulsets": true, "daemonsets": true,
}

// shortPredicateTypes are accepted with a deprecation warning (pkg/apis/policy/common).
var shortPredicateTypes = map[string]bool{
	"custom": true, "slsaprovenance": true, "spdx": true, "spdxjson": true,
	"cyclonedx": true, "link": true, "vuln": true,
}

// hashAlgorithms are pkg/apis/signaturealgo's names, matched trimmed and lower-cased.
var hashAlgorithms = map[string]bool{"sha224": true, "sha256": true, "sha384": true, "sha512": true}

// kmsSchemes are sigstore's KMS reference schemes, in the order the error message lists them.
var kmsSchemes = []string{"awskms://", "azurekms://", "hashivault://", "gcpkms://"}

const deprecatedPredicate = "deprecated value, please use RFC 3986 conformant values"

func validateSpec(s *Spec, cfg Config) fielderror.List {
	var errs fielderror.List
	if len(s.Images) == 0 {
		errs = append(errs, fielderror.MissingField("images")...)
	}
	for i, im := range s.Images {
		errs = append(errs, validateImage(im).ViaIndex("images", i)...)
	}
	if len(s.Authorities) == 0 && cfg.FailOnEmptyAuthorities {
		errs = append(errs, fielderror.MissingField("authorities")...)
	}
	for i := range s.Authorities {
		errs = append(errs, validateAuthority(&s.Authorities[i], cfg.Namespace).ViaIndex("authorities", i)...)
	}
	if s.Mode != "" && s.Mode != "enforce" && s.Mode != "warn" {
		errs = append(errs, fielderror.InvalidValue(s.Mode, "mode", "unsupported mode")...)
	}
	for i, m := range s.Match {
		errs = append(errs, validateMatch(m).ViaIndex("match", i)...)
	}
	errs = append(errs, validatePolicyRef(s.Policy, true)...)
	return errs.Via("spec")
}

func validateImage(im ImagePattern) fielderror.List {
	if im.Glob == "" {
		return fielderror.MissingField("glob")
	}
	if err := globError(im.Glob); err != nil {
		return fielderror.InvalidValue(im.Glob, "glob", "glob is invalid: "+err.Error())
	}
	return nil
}

var globChars = regexp.MustCompile(`^[a-zA-Z0-9-_:\/\*\.@]+$`)

// globError is the webhook's glob check: filepath.Match's syntax, then the glob package's own
// compilation (spec §3.1).
func globError(glob string) error {
	if _, err := filepath.Match(glob, ""); err != nil {
		return err
	}
	_, err := CompileGlob(glob)
	return err
}

// CompileGlob is policy-controller's glob (pkg/apis/glob Compile): `*` alone means Docker Hub
// library images, `*/*` any Docker Hub image; `*` matches within one path segment (`:` and
// `@` included), `**` anything; anchored at both ends.
func CompileGlob(glob string) (*regexp.Regexp, error) {
	switch glob {
	case "*/*":
		glob = "index.docker.io/*/*"
	case "*":
		glob = "index.docker.io/library/*"
	}
	if !globChars.MatchString(glob) {
		return nil, fmt.Errorf("invalid glob %q", glob)
	}
	re := strings.ReplaceAll(glob, ".", `\.`)
	re = strings.ReplaceAll(re, "**", "#")
	re = strings.ReplaceAll(re, "*", "[^/]*")
	re = strings.ReplaceAll(re, "#", ".*")
	return regexp.Compile("^" + re + "$")
}

func validateAuthority(a *Authority, ns string) fielderror.List {
	n := 0
	for _, set := range []bool{a.Key != nil, a.Keyless != nil, a.Static != nil} {
		if set {
			n++
		}
	}
	// Either way the webhook stops here, to keep the message short.
	switch {
	case n == 0:
		return fielderror.MissingOneOf("key", "keyless", "static")
	case n > 1:
		return fielderror.MultipleOneOf("key", "keyless", "static")
	}
	var errs fielderror.List
	if a.Key != nil {
		errs = append(errs, validateKey(a.Key, ns).Via("key")...)
	}
	if a.Keyless != nil {
		errs = append(errs, validateKeyless(a.Keyless, ns).Via("keyless")...)
	}
	if a.Static != nil {
		errs = append(errs, validateStatic(a.Static).Via("static")...)
		if len(a.Attestations) > 0 {
			errs = append(errs, fielderror.MultipleOneOf("static", "attestations")...)
		}
		if len(a.Sources) > 0 {
			errs = append(errs, fielderror.MultipleOneOf("static", "source")...)
		}
		if a.CTLog != nil {
			errs = append(errs, fielderror.MultipleOneOf("static", "ctlog")...)
		}
		if a.RFC3161 != nil {
			errs = append(errs, fielderror.MultipleOneOf("static", "rfc3161timestamp")...)
		}
	}
	if len(a.Sources) > 1 {
		errs = append(errs, fielderror.InvalidValue("source", "source", "only single source is supported")...)
	} else {
		for i, src := range a.Sources {
			errs = append(errs, validateSource(src).ViaIndex("source", i)...)
		}
	}
	for _, att := range a.Attestations {
		errs = append(errs, validateAttestation(att).Via("attestations")...)
	}
	return errs
}

func validateStatic(s *StaticRef) fielderror.List {
	switch s.Action {
	case "":
		return fielderror.MissingField("action")
	case "pass", "fail":
		return nil
	}
	return fielderror.InvalidValue(s.Action, "action", "unsupported action")
}

func validateMatch(m MatchResource) fielderror.List {
	var errs fielderror.List
	if m.Resource != "" && !matchResources[m.Resource] {
		errs = append(errs, fielderror.InvalidValue(m.Resource, "resource", "unsupported resource name")...)
	}
	if m.Selector != nil && m.Resource == "" && m.Version == "" && m.Group == "" {
		errs = append(errs, fielderror.InvalidValue(m.Resource, "selector", "selector requires a resource type to match the labels")...)
	}
	return errs
}

func validateKey(k *KeyRef, ns string) fielderror.List {
	var errs fielderror.List
	if k.Data == "" && k.KMS == "" && k.SecretRef == nil {
		errs = append(errs, fielderror.MissingOneOf("data", "kms", "secretref")...)
	}
	if k.HashAlgorithm != "" && !hashAlgorithms[strings.ToLower(strings.TrimSpace(k.HashAlgorithm))] {
		errs = append(errs, fielderror.InvalidValue(k.HashAlgorithm, "hashAlgorithm")...)
	}
	if k.Data != "" {
		if k.KMS != "" || k.SecretRef != nil {
			errs = append(errs, fielderror.MultipleOneOf("data", "kms", "secretref")...)
		}
		if !isPublicKeyPEM(k.Data) {
			errs = append(errs, fielderror.InvalidValue(k.Data, "data")...)
		}
	} else if k.KMS != "" && k.SecretRef != nil {
		errs = append(errs, fielderror.MultipleOneOf("data", "kms", "secretref")...)
	}
	if k.KMS != "" {
		errs = append(errs, validateKMS(k.KMS).Via("kms")...)
	}
	if k.SecretRef != nil && k.SecretRef.Namespace != "" && k.SecretRef.Namespace != ns {
		errs = append(errs, fielderror.InvalidValue(k.SecretRef.Namespace, "secretref.namespace",
			"secretref.namespace is invalid. If set, it should use the same namespace where the policy-controller was deployed")...)
	}
	return errs
}

// isPublicKeyPEM is sigstore's UnmarshalPEMToPublicKey: the first PEM block, PKIX "PUBLIC
// KEY" or PKCS#1 "RSA PUBLIC KEY".
func isPublicKeyPEM(data string) bool { return publicKeyPEM([]byte(data)) == nil }

// publicKeyPEM is sigstore's cryptoutils.UnmarshalPEMToPublicKey, with its error texts.
func publicKeyPEM(data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("PEM decoding failed")
	}
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		_, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		_, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		err = fmt.Errorf("unknown Public key PEM file type: %v. Are you passing the correct public key?", block.Type)
	}
	return err
}

func validateKeyless(k *KeylessRef, ns string) fielderror.List {
	var errs fielderror.List
	if !k.HasURL() && k.CACert == nil {
		errs = append(errs, fielderror.MissingOneOf("url", "ca-cert")...)
	}
	if k.HasURL() && k.CACert != nil {
		errs = append(errs, fielderror.MultipleOneOf("url", "ca-cert")...)
	}
	if k.CACert != nil {
		errs = append(errs, validateKey(k.CACert, ns).Via("ca-cert")...)
	}
	if len(k.Identities) == 0 {
		errs = append(errs, fielderror.MissingField("identities")...)
	}
	for i, id := range k.Identities {
		errs = append(errs, validateIdentity(id).ViaIndex("identities", i)...)
	}
	return errs
}

func validateIdentity(id Identity) fielderror.List {
	var errs fielderror.List
	if id.Issuer != "" && id.IssuerRegExp != "" {
		errs = append(errs, fielderror.MultipleOneOf("issuer", "issuerRegExp")...)
	}
	if id.Subject != "" && id.SubjectRegExp != "" {
		errs = append(errs, fielderror.MultipleOneOf("subject", "subjectRegExp")...)
	}
	if id.IssuerRegExp != "" {
		errs = append(errs, validateRegexp(id.IssuerRegExp).Via("issuerRegExp")...)
	}
	if id.SubjectRegExp != "" {
		errs = append(errs, validateRegexp(id.SubjectRegExp).Via("subjectRegExp")...)
	}
	if id.Subject == "" && id.SubjectRegExp == "" {
		errs = append(errs, fielderror.MissingField("subject", "subjectRegExp")...)
	}
	if id.Issuer == "" && id.IssuerRegExp == "" {
		errs = append(errs, fielderror.MissingField("issuer", "issuerRegExp")...)
	}
	return errs
}

func validateRegexp(expr string) fielderror.List {
	if _, err := regexp.Compile(expr); err != nil {
		return fielderror.InvalidValue(expr, "", "regex is invalid: "+err.Error())
	}
	return nil
}

func validateSource(src Source) fielderror.List {
	var errs fielderror.List
	if src.OCI != "" {
		if err := ociError(src.OCI); err != nil {
			errs = append(errs, fielderror.InvalidValue(src.OCI, "oci", err.Error())...)
		}
	}
	for i, s := range src.SignaturePullSecrets {
		if s.Name == "" {
			// The webhook prefixes everything collected so far, not just this entry.
			errs = append(errs, fielderror.MissingField("name")...).ViaIndex("signaturePullSecrets", i)
		}
	}
	return errs
}

// ociError is common.ValidateOCI: a registry, or a registry/repository when the first part
// looks like a host, parsed strictly by go-containerregistry.
func ociError(oci string) error {
	host, _, hasRepo := strings.Cut(oci, "/")
	if hasRepo && strings.ContainsAny(host, ".:") {
		_, err := name.NewRepository(oci, name.StrictValidation)
		return err
	}
	_, err := name.NewRegistry(oci, name.StrictValidation)
	return err
}

func validateAttestation(a Attestation) fielderror.List {
	var errs fielderror.List
	if a.Name == "" {
		errs = append(errs, fielderror.MissingField("name")...)
	}
	switch {
	case a.PredicateType == "":
		errs = append(errs, fielderror.MissingField("predicateType")...)
	case shortPredicateTypes[a.PredicateType]:
		errs = append(errs, fielderror.InvalidValue(a.PredicateType, "predicateType", deprecatedPredicate).At(fielderror.Warning)...)
	default:
		if _, err := url.ParseRequestURI(a.PredicateType); err != nil {
			errs = append(errs, fielderror.InvalidValue(a.PredicateType, "predicateType", deprecatedPredicate).At(fielderror.Warning)...)
		}
	}
	errs = append(errs, validatePolicyRef(a.Policy, false).Via("policy")...)
	return errs
}

// validatePolicyRef checks a CUE/Rego policy; inSpec is true only for the CIP-level one,
// where the fetchConfigFile and include* switches are allowed.
func validatePolicyRef(p *PolicyRef, inSpec bool) fielderror.List {
	if p == nil {
		return nil
	}
	var errs fielderror.List
	if p.Type != "cue" && p.Type != "rego" {
		errs = append(errs, fielderror.InvalidValue(p.Type, "type", "only [cue,rego] are supported at the moment")...)
	}
	hasData, hasCM, hasRemote := p.Data != "", p.ConfigMapRef != nil, p.Remote != nil
	if !hasData && !hasCM && !hasRemote {
		errs = append(errs, fielderror.MissingField("data", "configMapRef", "remote")...)
	}
	if hasData && hasCM && hasRemote {
		errs = append(errs, fielderror.MultipleOneOf("data", "configMapRef", "remote")...)
	}
	if (hasData && hasCM) || (hasData && hasRemote) || (hasCM && hasRemote) {
		errs = append(errs, fielderror.MultipleOneOf("data", "configMapRef", "remote")...)
	}
	if hasRemote {
		errs = append(errs, validateRemote(p.Remote).Via("remote")...)
	}
	if hasCM {
		var cm fielderror.List
		if p.ConfigMapRef.Name == "" {
			cm = append(cm, fielderror.MissingField("name")...)
		}
		if p.ConfigMapRef.Key == "" {
			cm = append(cm, fielderror.MissingField("key")...)
		}
		errs = append(errs, cm.Via("configMapRef")...)
	}
	if !inSpec {
		for _, sw := range []struct {
			name string
			set  bool
		}{
			{"fetchConfigFile", p.FetchConfigFile != nil},
			{"includeSpec", p.IncludeSpec != nil},
			{"includeObjectMeta", p.IncludeObjectMeta != nil},
			{"includeTypeMeta", p.IncludeTypeMeta != nil},
		} {
			if sw.set {
				errs = append(errs, fielderror.DisallowedFields(sw.name)...)
			}
		}
	}
	return errs
}

func validateRemote(r *RemoteRef) fielderror.List {
	var errs fielderror.List
	// The value shown is the URL as knative's apis.URL re-renders it.
	shown := r.URL
	u, err := url.Parse(r.URL)
	if err == nil {
		shown = u.String()
	}
	if err != nil || u.Host == "" || u.Scheme != "https" {
		errs = append(errs, fielderror.InvalidValue(shown, "url", "url valid is invalid. host and https scheme are expected")...)
	}
	if r.SHA256Sum == "" {
		errs = append(errs, fielderror.MissingField("sha256sum")...)
	}
	return errs
}

func validateKMS(kms string) fielderror.List {
	known := false
	for _, s := range kmsSchemes {
		if strings.HasPrefix(kms, s) {
			known = true
			break
		}
	}
	if !known {
		return fielderror.InvalidValue(kms, "", fmt.Sprintf("malformed KMS format, should be prefixed by any of the supported providers: %v", kmsSchemes))
	}
	if strings.HasPrefix(kms, "awskms://") {
		if problem := awsKMSProblem(kms); problem != "" {
			return fielderror.InvalidValue(kms, "", problem)
		}
	}
	return nil
}

const awsKMSReference = "kms key should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)"

// AWS key references the controller accepts: a key id, a key ARN, an alias name or an alias
// ARN, each after an optional endpoint.
var awsKMSForms = func() []*regexp.Regexp {
	const (
		uuid   = `m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}`
		arnPfx = `arn:(?:aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:\d{12}:`
		start  = `^awskms://([^/]*)/`
	)
	var out []*regexp.Regexp
	for _, tail := range []string{uuid, arnPfx + `key/` + uuid, `alias/.*`, arnPfx + `alias/.*`} {
		out = append(out, regexp.MustCompile(start+`(`+tail+`)$`))
	}
	return out
}()

// arnParts prints as aws-sdk-go-v2's arn.ARN does under %+v.
type arnParts struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	Resource  string
}

// awsKMSProblem is why the controller refuses an awskms:// reference, or "".
func awsKMSProblem(kms string) string {
	parts := strings.Split(kms, "/")
	if len(parts) < 4 {
		return "malformed AWS KMS format 'awskms://$ENDPOINT/$KEYID', should be conformant with KMS standard documented here: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id"
	}
	matched := false
	for _, re := range awsKMSForms {
		if re.MatchString(kms) {
			matched = true
			break
		}
	}
	if !matched {
		return awsKMSReference
	}
	endpoint := parts[2]
	if endpoint != "" && (strings.HasPrefix(endpoint, "arn") || strings.HasPrefix(endpoint, "alias")) {
		return awsKMSReference
	}
	if endpoint != "" {
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			return "malformed endpoint: " + err.Error()
		}
	}
	// The fourth slash-separated part is what the controller parses as an ARN, which is
	// why plain key ids and alias names, though matched above, end up refused.
	id := parts[3]
	if !strings.HasPrefix(id, "arn:") {
		return "failed to parse either key or alias arn: arn: invalid prefix"
	}
	sections := strings.SplitN(id, ":", 6)
	if len(sections) != 6 {
		return "failed to parse either key or alias arn: arn: not enough sections"
	}
	a := arnParts{Partition: sections[1], Service: sections[2], Region: sections[3], AccountID: sections[4], Resource: sections[5]}
	if a.Resource != "key" && a.Resource != "alias" {
		return fmt.Sprintf("Got ARN: %+v Resource: %s", a, a.Resource)
	}
	return ""
}
