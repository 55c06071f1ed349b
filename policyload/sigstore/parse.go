package sigstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/kubectl-verify/kubectl-verify/internal/fielderror"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

// IsClusterImagePolicy reports whether apiVersion/kind name a policy this package parses.
func IsClusterImagePolicy(apiVersion, kind string) bool {
	group, version, _ := strings.Cut(apiVersion, "/")
	return group == Group && (version == "v1alpha1" || version == "v1beta1") && kind == "ClusterImagePolicy"
}

// InvalidError is a ClusterImagePolicy the API server or the controller's webhook would
// refuse at creation. Path is the first field named; Msg is the refusal's text (for the
// webhook, knative's FieldError rendering, every entry).
type InvalidError struct {
	Policy string
	Path   string
	Msg    string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Policy, e.Path, e.Msg)
}

// fulcioURL is the keyless url the defaulting webhook fills in (apis.HTTPS("fulcio.sigstore.dev")).
const fulcioURL = "https://fulcio.sigstore.dev"

// defaultNamespace is where the controller runs unless Config says otherwise.
const defaultNamespace = "cosign-system"

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

// Parse decodes one ClusterImagePolicy (JSON) the way creating it would go: strict field
// names, the defaulting webhook's defaults, the schema's and the validating webhook's checks
// (cfg.FailOnEmptyAuthorities and cfg.Namespace take part), then the v1beta1→v1alpha1
// storage conversion. It records what the replay does not do yet in Unsupported.
func Parse(raw []byte, source string, cfg Config) (*Policy, error) {
	var obj object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decoding ClusterImagePolicy: %w", err)
	}
	if !IsClusterImagePolicy(obj.APIVersion, obj.Kind) {
		return nil, fmt.Errorf("not a ClusterImagePolicy: %s %s", obj.APIVersion, obj.Kind)
	}
	p := &Policy{Name: obj.Metadata.Name, APIVersion: obj.APIVersion, Source: source}
	ref := "ClusterImagePolicy/" + p.Name
	if p.Name == "" {
		return nil, &InvalidError{Policy: "ClusterImagePolicy", Path: "metadata.name", Msg: "Required value: name or generateName is required"}
	}

	var rawSpec map[string]any
	if len(obj.Spec) > 0 {
		if err := json.Unmarshal(obj.Spec, &rawSpec); err != nil {
			return nil, &InvalidError{ref, "spec", err.Error()}
		}
	}
	// kubectl asks for strict field validation: the API server names every unknown field.
	if unknown := unknownFields(rawSpec, reflect.TypeOf(Spec{}), "spec"); len(unknown) > 0 {
		quoted := make([]string, len(unknown))
		for i, u := range unknown {
			quoted[i] = fmt.Sprintf("unknown field %q", u)
		}
		return nil, &InvalidError{ref, unknown[0], "strict decoding error: " + strings.Join(quoted, ", ")}
	}
	if rawSpec != nil {
		dec := json.NewDecoder(bytes.NewReader(obj.Spec))
		if err := dec.Decode(&p.Spec); err != nil {
			return nil, &InvalidError{ref, "spec", err.Error()}
		}
	}
	if err := p.checkURLs(ref, rawSpec); err != nil {
		return nil, err
	}
	// The defaulting webhook round-trips the object through its Go type, turning an absent
	// images or identities into null, which the CRD schema then refuses before the
	// validating webhook runs (policy-controller issue #742).
	if err := nullArrays(ref, rawSpec); err != nil {
		return nil, err
	}

	p.setDefaults()
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace
	}
	all := validateSpec(&p.Spec, cfg)
	if errs := all.Only(fielderror.Error); len(errs) > 0 {
		first := errs.Merged()[0]
		path := "spec"
		if len(first.Paths) > 0 {
			path = first.Paths[0]
		}
		return nil, &InvalidError{ref, path, errs.String()}
	}
	for _, w := range all.Only(fielderror.Warning).Merged() {
		p.Warnings = append(p.Warnings, w.String())
	}
	if strings.HasSuffix(p.APIVersion, "/v1beta1") {
		p.convertToStorage()
	}
	p.normaliseHashes()
	p.markUnsupported()
	for _, u := range p.Unsupported {
		p.Warnings = append(p.Warnings, u+unsupportedWarning)
	}
	return p, nil
}

// setDefaults is the defaulting webhook (clusterimagepolicy_defaults.go, both versions).
func (p *Policy) setDefaults() {
	s := &p.Spec
	if s.Mode == "" {
		s.Mode = "enforce"
	}
	for i := range s.Authorities {
		a := &s.Authorities[i]
		if a.Name == "" {
			a.Name = fmt.Sprintf("authority-%d", i)
		}
		if a.Key == nil && a.Static == nil && a.Keyless != nil && a.Keyless.CACert == nil && !a.Keyless.HasURL() {
			a.Keyless.URL = fulcioURL
		}
	}
}

// convertToStorage applies what the v1beta1→v1alpha1 conversion loses (the hub, and what the
// reconciler compiles): a ctlog without url, an rfc3161timestamp without trustRootRef.
func (p *Policy) convertToStorage() {
	for i := range p.Spec.Authorities {
		a := &p.Spec.Authorities[i]
		if a.CTLog != nil && !a.CTLog.HasURL() {
			a.CTLog = nil
		}
		if a.RFC3161 != nil && a.RFC3161.TrustRootRef == "" {
			a.RFC3161 = nil
		}
	}
}

// normaliseHashes writes the hash algorithm as the compiled policy uses it (trimmed,
// lower-case, sha256 when unset); validation has already refused unknown names.
func (p *Policy) normaliseHashes() {
	norm := func(k *KeyRef) {
		if k == nil {
			return
		}
		k.HashAlgorithm = strings.ToLower(strings.TrimSpace(k.HashAlgorithm))
		if k.HashAlgorithm == "" {
			k.HashAlgorithm = "sha256"
		}
	}
	for i := range p.Spec.Authorities {
		a := &p.Spec.Authorities[i]
		norm(a.Key)
		if a.Keyless != nil {
			norm(a.Keyless.CACert)
		}
	}
}

// unsupportedWarning follows an Unsupported entry in its load warning.
const unsupportedWarning = " is not supported yet: images this policy selects get an error check"

// markUnsupported lists the fields whose effect the replay cannot reproduce yet.
func (p *Policy) markUnsupported() {
	add := func(path, why string) {
		p.Unsupported = append(p.Unsupported, fmt.Sprintf("%s (%s)", path, why))
	}
	policyRef := func(path string, r *PolicyRef) {
		if r == nil {
			return
		}
		if r.Remote != nil {
			add(path+".remote", "the controller fetches remote policies; not fetched yet")
		}
		if r.ConfigMapRef != nil {
			add(path+".configMapRef", "the controller inlines the ConfigMap's policy; not read yet")
		}
	}
	for i, a := range p.Spec.Authorities {
		path := fmt.Sprintf("spec.authorities[%d]", i)
		if a.Key != nil && a.Key.KMS != "" {
			add(path+".key.kms", "the controller fetches the public key from the KMS; not fetched yet")
		}
		if a.Keyless != nil {
			if a.SignatureFormat == "bundle" {
				add(path+".signatureFormat: bundle", "bundle-format keyless verification is not replayed yet")
			}
		}
		for j, att := range a.Attestations {
			policyRef(fmt.Sprintf("%s.attestations[%d].policy", path, j), att.Policy)
		}
	}
	policyRef("spec.policy", p.Spec.Policy)
}

// checkURLs records explicit empty urls and refuses what apis.URL cannot parse (the
// webhook's decoding of the object fails on it).
func (p *Policy) checkURLs(ref string, rawSpec map[string]any) error {
	auths, _ := rawSpec["authorities"].([]any)
	for i := range p.Spec.Authorities {
		a := &p.Spec.Authorities[i]
		var rawAuth map[string]any
		if i < len(auths) {
			rawAuth, _ = auths[i].(map[string]any)
		}
		path := fmt.Sprintf("spec.authorities[%d]", i)
		if a.Keyless != nil {
			a.Keyless.urlSet = a.Keyless.URL == "" && present(rawAuth, "keyless", "url")
			if err := parseableURL(ref, path+".keyless.url", a.Keyless.URL); err != nil {
				return err
			}
		}
		if a.CTLog != nil {
			a.CTLog.urlSet = a.CTLog.URL == "" && present(rawAuth, "ctlog", "url")
			if err := parseableURL(ref, path+".ctlog.url", a.CTLog.URL); err != nil {
				return err
			}
		}
		for j, att := range a.Attestations {
			if att.Policy != nil && att.Policy.Remote != nil {
				if err := parseableURL(ref, fmt.Sprintf("%s.attestations[%d].policy.remote.url", path, j), att.Policy.Remote.URL); err != nil {
					return err
				}
			}
		}
	}
	if r := p.Spec.Policy; r != nil && r.Remote != nil {
		return parseableURL(ref, "spec.policy.remote.url", r.Remote.URL)
	}
	return nil
}

func parseableURL(ref, path, u string) error {
	if u == "" {
		return nil
	}
	if _, err := url.Parse(u); err != nil {
		return &InvalidError{ref, path, err.Error()}
	}
	return nil
}

// present reports whether the field at keys is given and not null.
func present(m map[string]any, keys ...string) bool {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = mm[k]; !ok {
			return false
		}
	}
	return v != nil
}

func nullArrays(ref string, rawSpec map[string]any) error {
	var paths []string
	if !present(rawSpec, "images") {
		paths = append(paths, "spec.images")
	}
	auths, _ := rawSpec["authorities"].([]any)
	for i, a := range auths {
		m, _ := a.(map[string]any)
		if present(m, "keyless") && !present(m, "keyless", "identities") {
			paths = append(paths, fmt.Sprintf("spec.authorities[%d].keyless.identities", i))
		}
	}
	if len(paths) == 0 {
		return nil
	}
	msgs := make([]string, len(paths))
	for i, path := range paths {
		msgs[i] = fmt.Sprintf("%s: Invalid value: \"null\": %s in body must be of type array: \"null\"", path, path)
	}
	if len(msgs) == 1 {
		return &InvalidError{ref, paths[0], strings.TrimPrefix(msgs[0], paths[0]+": ")}
	}
	return &InvalidError{ref, "spec", "[" + strings.Join(msgs, ", ") + "]"}
}

// unknownFields lists, in key order, the fields of v that t (a types.go struct) does not
// have, matched case-sensitively as the API server's strict decoding does.
func unknownFields(v any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			fields[name] = f.Type
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, unknownFields(m[k], ft, path+"."+k)...)
		}
		return out
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return nil
		}
		var out []string
		for i, item := range items {
			out = append(out, unknownFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	return nil
}
