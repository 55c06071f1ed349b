package kyverno

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	gojmespath "github.com/kyverno/go-jmespath"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
)

// Group is the API group of ClusterPolicy and Policy.
const Group = "kyverno.io"

// IsKyvernoPolicy reports whether apiVersion/kind name a policy this package parses.
func IsKyvernoPolicy(apiVersion, kind string) bool {
	group, version, _ := strings.Cut(apiVersion, "/")
	return group == Group && (version == "v1" || version == "v2beta1") && (kind == "ClusterPolicy" || kind == "Policy")
}

// InvalidError is a policy Kyverno would refuse at creation. Path is the JSON field path.
type InvalidError struct {
	Policy string
	Path   string
	Msg    string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Policy, e.Path, e.Msg)
}

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

// Parse decodes one policy object (JSON), applies CRD defaults, folds deprecated v1 fields in
// (Kyverno's Convert()), records unsupported fields, and validates as Kyverno does at creation.
// defaultNamespace is where a Policy without metadata.namespace lands.
func Parse(raw []byte, source, defaultNamespace string) (*Policy, error) {
	var obj object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decoding policy: %w", err)
	}
	p := &Policy{Kind: obj.Kind, Name: obj.Metadata.Name, Annotations: obj.Metadata.Annotations, Source: source}
	if obj.Kind == "Policy" {
		p.Namespace = obj.Metadata.Namespace
		if p.Namespace == "" {
			p.Namespace = defaultNamespace
		}
	}
	ref := obj.Kind + "/" + p.Key()
	if p.Name == "" {
		return nil, &InvalidError{Policy: obj.Kind, Path: "metadata.name", Msg: "name is required"}
	}
	if len(obj.Spec) > 0 {
		dec := json.NewDecoder(bytes.NewReader(obj.Spec))
		if err := dec.Decode(&p.Spec); err != nil {
			return nil, &InvalidError{Policy: ref, Path: "spec", Msg: err.Error()}
		}
	}
	if p.Spec.ValidationFailureAction == "" {
		p.Spec.ValidationFailureAction = "Audit" // CRD default
	}
	if err := p.normalise(ref); err != nil {
		return nil, err
	}
	return p, nil
}

func enforce(action string) bool { return action == "Enforce" || action == "enforce" }

func validAction(action string) bool {
	switch action {
	case "Enforce", "enforce", "Audit", "audit":
		return true
	}
	return false
}

func (p *Policy) normalise(ref string) error {
	s := &p.Spec
	if !validAction(s.ValidationFailureAction) {
		return &InvalidError{ref, "spec.validationFailureAction", fmt.Sprintf("Unsupported value: %q: supported values: \"audit\", \"enforce\", \"Audit\", \"Enforce\"", s.ValidationFailureAction)}
	}
	if p.Namespace != "" && len(s.ValidationFailureActionOverrides) > 0 {
		return &InvalidError{ref, "spec.validationFailureActionOverrides", "Policy is namespaced, validationFailureActionOverrides is not allowed"}
	}
	if s.FailurePolicy != "" && s.WebhookConfiguration != nil && s.WebhookConfiguration.FailurePolicy != "" {
		return &InvalidError{ref, "spec", "either spec.failurePolicy or spec.webhookConfiguration.failurePolicy can be set, not both"}
	}
	if s.WebhookConfiguration != nil && len(s.WebhookConfiguration.MatchConditions) > 0 && string(s.WebhookConfiguration.MatchConditions) != "null" {
		p.Warnings = append(p.Warnings, "spec.webhookConfiguration.matchConditions is not replayed: every request is treated as matching")
	}
	if s.ApplyRules != "" && s.ApplyRules != "All" && s.ApplyRules != "One" {
		return &InvalidError{ref, "spec.applyRules", fmt.Sprintf("Unsupported value: %q", s.ApplyRules)}
	}
	if len(s.Rules) == 0 {
		return &InvalidError{ref, "spec.rules", "a policy must have at least one rule"}
	}
	seen := map[string]bool{}
	for i := range s.Rules {
		r := &s.Rules[i]
		path := fmt.Sprintf("spec.rules[%d]", i)
		if r.Name == "" {
			return &InvalidError{ref, path + ".name", "rule name is required"}
		}
		if seen[r.Name] {
			return &InvalidError{ref, path + ".name", fmt.Sprintf("duplicate rule name: %q", r.Name)}
		}
		seen[r.Name] = true
		if len(r.VerifyImages) == 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s (%s): only verifyImages rules are replayed; this rule is ignored", path, r.Name))
			continue
		}
		if err := extractorsWithDigest(ref, path, r); err != nil {
			return err
		}
		for _, kind := range slices.Sorted(maps.Keys(r.ImageExtractors)) {
			for i, x := range r.ImageExtractors[kind] {
				for _, u := range kyvernocond.UnreplayedFunctions(x.JMESPath) {
					r.Unsupported = append(r.Unsupported, fmt.Sprintf("%s.imageExtractors.%s[%d].jmesPath: %s", path, kind, i, u))
				}
			}
		}
		for i, c := range r.Context {
			cpath := fmt.Sprintf("%s.context[%d]", path, i)
			switch {
			case c.ConfigMap != nil:
				if c.ConfigMap.Name == "" {
					return &InvalidError{ref, cpath + ".configMap.name", "name is required"}
				}
				for _, u := range kyvernocond.Unsupported([]any{c.ConfigMap.Name, c.ConfigMap.Namespace}) {
					r.Unsupported = append(r.Unsupported, cpath+".configMap: "+u)
				}
			case c.APICall != nil:
				a := c.APICall
				if a.Method == "" {
					a.Method = "GET" // CRD default
				}
				if a.URLPath != "" && present(a.Service) {
					return &InvalidError{ref, cpath, "a URLPath cannot be used for service API calls"}
				}
				if a.JMESPath != "" && !strings.Contains(a.JMESPath, "{{") {
					if _, err := gojmespath.NewParser().Parse(a.JMESPath); err != nil {
						return &InvalidError{ref, cpath, fmt.Sprintf("failed to parse JMESPath %s: %v", a.JMESPath, err)}
					}
				}
				switch {
				case present(a.Service):
					r.Unsupported = append(r.Unsupported, cpath+".apiCall.service (a call to a service in the cluster, which this replay does not make)")
				case a.Method != "GET":
					r.Unsupported = append(r.Unsupported, cpath+".apiCall.method: "+a.Method+" (a read-only replay sends no request that could write)")
				}
				doc := []any{a.URLPath}
				if a.JMESPath != "" {
					doc = append(doc, "{{"+a.JMESPath+"}}")
				}
				for _, u := range kyvernocond.Unsupported(doc) {
					r.Unsupported = append(r.Unsupported, cpath+".apiCall: "+u)
				}
			case present(c.ImageRegistry):
				r.Unsupported = append(r.Unsupported, cpath+".imageRegistry")
			case present(c.GlobalReference):
				r.Unsupported = append(r.Unsupported, cpath+".globalReference")
			case c.Variable != nil:
				doc := []any{c.Variable.Value, c.Variable.Default}
				if c.Variable.JMESPath != "" {
					doc = append(doc, "{{"+c.Variable.JMESPath+"}}")
				}
				for _, u := range kyvernocond.Unsupported(doc) {
					r.Unsupported = append(r.Unsupported, cpath+".variable: "+u)
				}
			}
		}
		if present(r.CELPreconditions) {
			r.Unsupported = append(r.Unsupported, path+".celPreconditions")
		}
		if present(r.Preconditions) {
			conds := &kyvernocond.Conditions{}
			if err := json.Unmarshal(r.Preconditions, conds); err != nil {
				r.Unsupported = append(r.Unsupported, path+".preconditions (not any/all conditions)")
			} else {
				r.Conds = conds
				for _, u := range kyvernocond.Unsupported(kyvernocond.DenyDocument(conds)) {
					r.Unsupported = append(r.Unsupported, path+".preconditions: "+u)
				}
			}
		}
		for _, m := range append([]MatchResources{r.MatchResources}, deref(r.ExcludeResources)...) {
			if userInfoSet(m) {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s (%s): match/exclude on roles, clusterRoles or subjects is not replayed: the requester is unknown offline, so match treats it as matching and exclude as not excluding", path, r.Name))
				break
			}
		}
		for j := range r.VerifyImages {
			if err := p.normaliseEntry(ref, r, fmt.Sprintf("%s.verifyImages[%d]", path, j), &r.VerifyImages[j]); err != nil {
				return err
			}
		}
		markTemplated(r, path)
	}
	for _, r := range s.Rules {
		for _, u := range r.Unsupported {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is not supported yet: images rule %q selects get an error check", u, r.Name))
		}
	}
	return nil
}

func deref(m *MatchResources) []MatchResources {
	if m == nil {
		return nil
	}
	return []MatchResources{*m}
}

func userInfoSet(m MatchResources) bool {
	if !m.UserInfo.IsEmpty() {
		return true
	}
	for _, f := range append(append([]ResourceFilter{}, m.Any...), m.All...) {
		if !f.UserInfo.IsEmpty() {
			return true
		}
	}
	return false
}

func present(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "[]" && s != "{}"
}

// normaliseEntry is Kyverno's ImageVerification.Convert() plus its Validate() and the
// policy-admission checks of pkg/validation/policy (spec/kyverno.md §1.1, §1.2).
func (p *Policy) normaliseEntry(ref string, r *Rule, path string, iv *ImageVerification) error {
	if iv.Image != "" {
		iv.ImageReferences = append(iv.ImageReferences, iv.Image)
		iv.Image = ""
	}
	if iv.Key != "" || iv.Roots != "" || iv.Subject != "" || iv.Issuer != "" {
		if iv.Key != "" && len(iv.Attestations) > 0 {
			// Kyverno's Convert() then drops the key (it ends up in neither attestors nor attestations).
			r.Unsupported = append(r.Unsupported, path+".key with attestations")
		} else if iv.Key != "" {
			iv.Attestors = append(iv.Attestors, AttestorSet{Entries: []Attestor{{Keys: &KeysAttestor{PublicKeys: iv.Key}}}})
		} else {
			r.Unsupported = append(r.Unsupported, path+".roots/subject/issuer (keyless)")
		}
		iv.Key = ""
	}
	if iv.FailureAction != nil && !validAction(*iv.FailureAction) {
		return &InvalidError{ref, path + ".failureAction", fmt.Sprintf("Unsupported value: %q: supported values: \"Audit\", \"Enforce\"", *iv.FailureAction)}
	}
	if len(iv.ImageReferences) == 0 {
		return &InvalidError{ref, path, "An image reference is required"}
	}
	switch iv.Type {
	case "", "Cosign", "SigstoreBundle":
	case "Notary":
		r.Unsupported = append(r.Unsupported, path+".type: "+iv.Type)
	default:
		return &InvalidError{ref, path + ".type", fmt.Sprintf("Unsupported value: %q: supported values: \"Cosign\", \"SigstoreBundle\", \"Notary\"", iv.Type)}
	}
	action := p.Spec.ValidationFailureAction
	if iv.FailureAction != nil {
		action = *iv.FailureAction
	}
	if !enforce(action) && iv.Mutate() {
		return &InvalidError{ref, path + ".mutateDigest", "mutateDigest must be set to false for ‘Audit’ failure action"}
	}
	if err := p.normaliseAttestations(ref, r, path, iv); err != nil {
		return err
	}
	if c := iv.ImageRegistryCredentials; c != nil {
		for i, pr := range c.Providers {
			switch pr {
			case "default":
			case "amazon", "azure", "google", "github":
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s.imageRegistryCredentials.providers[%d]: %s: the local docker config (and its credential helpers) stands in for Kyverno's cloud keychain", path, i, pr))
			default:
				return &InvalidError{ref, fmt.Sprintf("%s.imageRegistryCredentials.providers[%d]", path, i), fmt.Sprintf("Unsupported value: %q: supported values: \"default\", \"amazon\", \"azure\", \"google\", \"github\"", pr)}
			}
		}
		if c.AllowInsecureRegistry {
			p.Warnings = append(p.Warnings, path+".imageRegistryCredentials.allowInsecureRegistry: registries are reached as --insecure-registry says, not insecurely for this rule alone")
		}
	}
	if err := p.normaliseValidation(ref, r, path, iv); err != nil {
		return err
	}
	if present(iv.Annotations) || present(iv.AdditionalExtensions) {
		r.Unsupported = append(r.Unsupported, path+".annotations")
	}
	for k := range iv.Attestors {
		if err := p.normaliseSet(ref, r, fmt.Sprintf("%s.attestors[%d]", path, k), &iv.Attestors[k]); err != nil {
			return err
		}
	}
	if iv.Type == "SigstoreBundle" {
		sigstoreBundle(r, path, iv)
	}
	return nil
}

// logsIgnored: both the transparency log and SCTs are switched off.
func logsIgnored(rekor *Rekor, ctlog *CTLog) bool {
	return rekor != nil && rekor.IgnoreTlog && ctlog != nil && ctlog.IgnoreSCT
}

// sigstoreBundle notes what Kyverno's Sigstore-bundle path needs: it ignores roots and log
// keys the policy gives, and takes the whole trusted root from TUF for keyless entries and
// for keys whose log or SCT is checked.
func sigstoreBundle(r *Rule, path string, iv *ImageVerification) {
	if len(iv.Attestations) > 0 {
		r.Unsupported = append(r.Unsupported, path+".attestations with type SigstoreBundle")
	}
	for k, set := range iv.Attestors {
		for i, e := range set.Entries {
			epath := fmt.Sprintf("%s.attestors[%d].entries[%d]", path, k, i)
			switch {
			case e.Certificates != nil:
				r.Unsupported = append(r.Unsupported, epath+".certificates with type SigstoreBundle")
			case e.Keyless != nil:
				r.PublicTrust = append(r.PublicTrust, epath+".keyless (the Sigstore trusted root, for type SigstoreBundle)")
			case e.Keys != nil && !logsIgnored(e.Keys.Rekor, e.Keys.CTLog):
				r.PublicTrust = append(r.PublicTrust, epath+".keys (the Sigstore trusted root, for type SigstoreBundle with rekor or ctlog checked)")
			}
		}
	}
}

func (p *Policy) normaliseSet(ref string, r *Rule, path string, set *AttestorSet) error {
	if len(set.Entries) == 0 {
		return &InvalidError{ref, path + ".entries", "An entry is required"}
	}
	if set.Count != nil && *set.Count > len(set.Entries) {
		return &InvalidError{ref, path + ".count", "Count cannot exceed length of entries"}
	}
	if set.Count != nil && *set.Count < 0 {
		return &InvalidError{ref, path + ".count", "count must be at least 1"}
	}
	for i := range set.Entries {
		e := &set.Entries[i]
		epath := fmt.Sprintf("%s.entries[%d]", path, i)
		n := 0
		for _, has := range []bool{e.Keys != nil, e.Certificates != nil, e.Keyless != nil, present(e.Attestor)} {
			if has {
				n++
			}
		}
		if n != 1 {
			return &InvalidError{ref, epath, "keys, certificates, keyless, or a nested attestor is required"}
		}
		if len(e.Annotations) > 0 {
			r.Unsupported = append(r.Unsupported, epath+".annotations")
		}
		switch {
		case e.Certificates != nil:
			c := e.Certificates
			if c.Certificate == "" && c.CertificateChain == "" {
				return &InvalidError{ref, epath + ".certificates", "cert or certChain required"}
			}
			offline(r, epath+".certificates", c.Rekor, c.CTLog)
		case e.Keyless != nil:
			k := e.Keyless
			if k.Rekor == nil && k.Roots == "" {
				return &InvalidError{ref, epath + ".keyless", "Either Rekor URL or roots are required"}
			}
			if k.Rekor != nil && k.Rekor.URL == "" {
				return &InvalidError{ref, epath + ".keyless.rekor.url", "An URL is required"}
			}
			if k.Roots == "" {
				r.PublicTrust = append(r.PublicTrust, epath+".keyless (Fulcio roots; or set roots)")
			}
			for _, re := range []string{k.SubjectRegExp, k.IssuerRegExp} {
				if re == "" {
					continue
				}
				if _, err := regexp.Compile(re); err != nil {
					return &InvalidError{ref, epath + ".keyless", fmt.Sprintf("invalid regular expression %q: %v", re, err)}
				}
			}
			offline(r, epath+".keyless", k.Rekor, k.CTLog)
		case present(e.Attestor):
			nested := &AttestorSet{}
			if err := json.Unmarshal(e.Attestor, nested); err != nil {
				return &InvalidError{ref, epath + ".attestor", fmt.Sprintf("failed to unmarshal attestor set: %v", err)}
			}
			if err := p.normaliseSet(ref, r, epath+".attestor", nested); err != nil {
				return err
			}
			e.Nested = nested
		case e.Keys != nil:
			if err := normaliseKeys(ref, r, epath+".keys", e.Keys); err != nil {
				return err
			}
		}
	}
	return nil
}

func normaliseKeys(ref string, r *Rule, path string, k *KeysAttestor) error {
	if k.PublicKeys == "" && k.KMS == "" && k.Secret == nil {
		return &InvalidError{ref, path, "A public key, kms key or secret is required"}
	}
	switch k.SignatureAlgorithm {
	case "", "sha224", "sha256", "sha384", "sha512":
	default:
		return &InvalidError{ref, path + ".signatureAlgorithm", fmt.Sprintf("Unsupported value: %q: supported values: \"sha224\", \"sha256\", \"sha384\", \"sha512\"", k.SignatureAlgorithm)}
	}
	switch {
	case k.KMS != "" && k.PublicKeys == "":
		r.Unsupported = append(r.Unsupported, path+".kms")
	case k.Secret != nil && k.PublicKeys == "":
		// Read from the cluster at verification time (cosign's k8s:// key reference).
	case strings.HasPrefix(strings.TrimSpace(k.PublicKeys), "-----BEGIN"):
		for i, key := range SplitPEMKeys(k.PublicKeys) {
			if err := checkPEMKey(key); err != nil {
				return &InvalidError{ref, path + ".publicKeys", fmt.Sprintf("key %d is not a valid PEM public key: %v", i, err)}
			}
		}
	case strings.HasPrefix(strings.TrimSpace(k.PublicKeys), "k8s://"):
		// As above.
	case strings.Contains(k.PublicKeys, "{{"):
		// Substituted with the rule, then read again (ResolveRule).
	default:
		r.Unsupported = append(r.Unsupported, path+".publicKeys ("+strings.SplitN(strings.TrimSpace(k.PublicKeys), ":", 2)[0]+" reference)")
	}
	offline(r, path, k.Rekor, k.CTLog)
	return nil
}

// extractorsWithDigest is Kyverno's creation-time refusal of a jmesPath extractor in a rule
// that pins digests (the pin would replace the rewritten value).
func extractorsWithDigest(ref, path string, r *Rule) error {
	mutate, jmes := false, false
	for i := range r.VerifyImages {
		mutate = mutate || r.VerifyImages[i].Mutate()
	}
	for _, xs := range r.ImageExtractors {
		for _, x := range xs {
			jmes = jmes || x.JMESPath != ""
		}
	}
	if mutate && jmes {
		return &InvalidError{ref, path, "jmespath may not be used in an image extractor when mutating digests with verify images"}
	}
	return nil
}

// offline notes what Kyverno would fetch from the public Sigstore TUF repository for an
// entry: Rekor keys when the transparency log is checked without rekor.pubkey, CT-log keys
// when SCTs are checked without ctlog.pubkey. A trust root given to the run stands in for it.
func offline(r *Rule, path string, rekor *Rekor, ctlog *CTLog) {
	if (rekor == nil || !rekor.IgnoreTlog) && (rekor == nil || rekor.PubKey == "") {
		r.PublicTrust = append(r.PublicTrust, path+".rekor (Rekor public keys; or set rekor.pubkey, or rekor.ignoreTlog: true)")
	}
	if (ctlog == nil || !ctlog.IgnoreSCT) && (ctlog == nil || ctlog.PubKey == "") {
		r.PublicTrust = append(r.PublicTrust, path+".ctlog (CT-log public keys; or set ctlog.pubkey, or ctlog.ignoreSCT: true)")
	}
}

const pemEnd = "-----END PUBLIC KEY-----"

// SplitPEMKeys is Kyverno's ExpandStaticKeys split: on the PEM end marker, each key becoming
// its own attestor entry before count is computed (spec/kyverno.md §1.2).
func SplitPEMKeys(keys string) []string {
	var out []string
	for _, part := range strings.Split(keys, pemEnd) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		out = append(out, part+"\n"+pemEnd+"\n")
	}
	if len(out) == 0 {
		if blk, _ := pem.Decode([]byte(keys)); blk != nil {
			out = append(out, keys)
		}
	}
	return out
}

func checkPEMKey(key string) error {
	blk, _ := pem.Decode([]byte(key))
	if blk == nil {
		return fmt.Errorf("no PEM block found")
	}
	_, err := x509.ParsePKIXPublicKey(blk.Bytes)
	return err
}
