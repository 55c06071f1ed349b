// Package kyverno replays Kyverno 1.19 verifyImages admission (spec/kyverno.md): the
// mutating (verify and patch) phase, the validating (digest and required) phase, failure
// action resolution, block messages, warnings and the JSON patch. It runs two pipelines over
// the same verification results: the CLI's (`kyverno apply`: policies chained, the source of
// `checks`) and admission's (webhooks by failurePolicy, the source of the decision).
package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// EngineName is the `engine` of every check this package makes.
const EngineName = "kyverno"

// Config is the Kyverno configuration that shapes the replay (the `kyverno` ConfigMap).
type Config = kpol.Config

// DefaultConfig is what `kyverno apply` uses (NewDefaultConfiguration).
func DefaultConfig() Config { return kpol.DefaultConfig() }

// Verifier is what the engine needs from the verify package.
type Verifier interface {
	VerifySignature(ctx context.Context, c verify.SignatureCheck) (verify.SignatureResult, error)
	VerifyAttestations(ctx context.Context, c verify.AttestationCheck) (verify.AttestationResult, error)
	VerifyBundles(ctx context.Context, c verify.BundleCheck) (verify.BundleResult, error)
	Digest(ctx context.Context, image string, auth verify.Auth) (string, error)
}

// Engine replays a set of Kyverno policies.
type Engine struct {
	Policies []*kpol.Policy
	Verifier Verifier
	Config   Config
	// ConfigMaps reads configMap context entries, API apiCall ones; nil when the run reads
	// no cluster.
	ConfigMaps ConfigMapReader
	API        APIReader

	// rules remembers each policy's autogen rules per kind, parsed each image string: every
	// resource asks again.
	rules  sync.Map // rulesKey -> []kpol.Rule
	parsed sync.Map // image -> parsedImage
}

type parsedImage struct {
	info imageInfo
	err  error
}

// parseImage is parseImage under the engine's Config, once per image string.
func (e *Engine) parseImage(image string) (imageInfo, error) {
	if v, ok := e.parsed.Load(image); ok {
		p := v.(parsedImage)
		return p.info, p.err
	}
	info, err := parseImage(image, e.Config)
	e.parsed.Store(image, parsedImage{info, err})
	return info, err
}

type rulesKey struct {
	p    *kpol.Policy
	kind string
}

// rulesFor is computeRules, computed once per policy and kind. The rules are shared: callers
// read them and never change them.
func (e *Engine) rulesFor(p *kpol.Policy, kind string) []kpol.Rule {
	k := rulesKey{p, kind}
	if v, ok := e.rules.Load(k); ok {
		return v.([]kpol.Rule)
	}
	v, _ := e.rules.LoadOrStore(k, computeRules(p, kind))
	return v.([]kpol.Rule)
}

// Rule statuses, as Kyverno names them.
const (
	statusPass  = "pass"
	statusFail  = "fail"
	statusError = "error"
	statusSkip  = "skip"
)

type ruleResponse struct {
	policy      *kpol.Policy
	rule        string
	status      string
	message     string
	emitWarning bool
	// image is the image the response is about (verify phase) or the first image the rule
	// selected (validate phase); paths are every image pointer the response covers.
	image  imageInfo
	paths  []string
	digest string
}

// Request is one admission request.
type Request struct {
	Object    map[string]any
	Operation string
	// OldObject is the object before an UPDATE (nil on CREATE); see update.go.
	OldObject       map[string]any
	NamespaceLabels map[string]string
	// NamespaceUnknown, when set, says why the namespace's labels could not be read: rules
	// that depend on them give tool-caused errors instead of a guess.
	NamespaceUnknown string
}

func toResource(obj map[string]any, op string, nsLabels map[string]string) resource {
	group, version, kind := extract.GroupVersionKind(obj)
	meta, _ := obj["metadata"].(map[string]any)
	str := func(k string) string { s, _ := meta[k].(string); return s }
	return resource{
		Group: group, Version: version, Kind: kind,
		Namespace: str("namespace"), Name: str("name"), GenerateName: str("generateName"),
		Labels: extract.StringMap(meta["labels"]), Annotations: extract.StringMap(meta["annotations"]),
		NamespaceLabels: nsLabels, Operation: op,
	}
}

// images is the resource's image map in a fixed order (Kyverno iterates a Go map). One
// unparsable image empties the whole map, as deferred context loading does (§2.1).
func (e *Engine) images(obj map[string]any) ([]imageInfo, []string) {
	kind, _ := obj["kind"].(string)
	var out []imageInfo
	var warnings []string
	byKey := map[string]int{}
	for _, c := range extract.Images(kind, obj) {
		if strings.TrimSpace(c.Image) == "" {
			continue
		}
		info, err := e.parseImage(c.Image)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: image %q does not parse: %v (Kyverno then sees no images in this resource)", c.Pointer, c.Image, err))
			return nil, warnings
		}
		info.Pointer = c.Pointer
		// Containers of one type are keyed by name: a duplicate name replaces the first.
		key := c.Type + "\x00" + c.Name
		if i, dup := byKey[key]; dup {
			out[i] = info
			continue
		}
		byKey[key] = len(out)
		out = append(out, info)
	}
	return out, warnings
}

// matchingImages is GetMatchingImages: an image is listed once per entry whose
// imageReferences it matches.
func matchingImages(images []imageInfo, r *kpol.Rule) []imageInfo {
	var out []imageInfo
	for _, img := range images {
		s := img.String()
		for _, iv := range r.VerifyImages {
			if matchAny(iv.ImageReferences, s) {
				out = append(out, img)
			}
		}
	}
	return out
}

// metadata is ImageVerificationMetadata: the unscoped and the v1.19 scoped annotation.
type metadata struct {
	data     map[string]string
	policies map[string]map[string]map[string]string
	// unchanged are the images the UPDATE short-circuit let through without a rule response.
	unchanged []report.NotChecked
}

func (m *metadata) add(p *kpol.Policy, rule, image, status string, scoped bool) {
	if m.data == nil {
		m.data = map[string]string{}
	}
	m.data[image] = status
	if !scoped {
		return
	}
	if m.policies == nil {
		m.policies = map[string]map[string]map[string]string{}
	}
	key := p.Namespace + "/" + p.Name
	if m.policies[key] == nil {
		m.policies[key] = map[string]map[string]string{}
	}
	if m.policies[key][rule] == nil {
		m.policies[key][rule] = map[string]string{}
	}
	m.policies[key][rule][image] = status
}

func (m *metadata) merge(o *metadata) {
	for k, v := range o.data {
		if m.data == nil {
			m.data = map[string]string{}
		}
		m.data[k] = v
	}
	for p, rules := range o.policies {
		for r, imgs := range rules {
			for img, s := range imgs {
				if m.policies == nil {
					m.policies = map[string]map[string]map[string]string{}
				}
				if m.policies[p] == nil {
					m.policies[p] = map[string]map[string]string{}
				}
				if m.policies[p][r] == nil {
					m.policies[p][r] = map[string]string{}
				}
				m.policies[p][r][img] = s
			}
		}
	}
}

func (m *metadata) empty() bool { return len(m.data) == 0 && len(m.policies) == 0 }

const (
	annotationVerify = "kyverno.io/verify-images"
	annotationScoped = "kyverno.io/verify-images-scoped"
)

// patches is ImageVerificationMetadata.Patches.
func (m *metadata) patches(hasAnnotations bool) []report.PatchOp {
	var ops []report.PatchOp
	if !hasAnnotations {
		ops = append(ops, report.PatchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]any{}})
	}
	data, _ := json.Marshal(m.data)
	ops = append(ops, report.PatchOp{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: string(data)})
	if m.policies != nil {
		scoped, _ := json.Marshal(struct {
			Version  int                                     `json:"version"`
			Policies map[string]map[string]map[string]string `json:"policies"`
		}{1, m.policies})
		ops = append(ops, report.PatchOp{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: string(scoped)})
	}
	return ops
}

// verifyPolicy is VerifyAndPatchImages for one policy on obj: rule responses, the image
// patches (one per pointer, as the engine's JSON diff gives them) and the metadata.
func (e *Engine) verifyPolicy(ctx context.Context, p *kpol.Policy, req Request, obj map[string]any) ([]ruleResponse, []report.PatchOp, *metadata) {
	md := &metadata{}
	res := toResource(obj, req.Operation, req.NamespaceLabels)
	if !policyApplies(p, res) {
		return nil, nil, md
	}
	images, _ := e.images(obj)
	// Kyverno's registry client adds the pod's imagePullSecrets, in its namespace
	// (registryClientFactory.GetClient).
	auth := verify.PullSecretAuth(res.Namespace, extract.PullSecrets(res.Kind, obj))
	var resps []ruleResponse
	patched := map[string]string{}
	for _, rule := range e.rulesFor(p, "") {
		rule := rule
		if len(rule.VerifyImages) == 0 {
			continue
		}
		unknownNS := req.NamespaceUnknown != "" && usesNamespaceLabels(p, &rule)
		if unknownNS && !matchResources(withoutNamespaceSelectors(rule.MatchResources), res, false) {
			continue // does not apply whatever the labels are
		}
		if !unknownNS && !ruleMatches(&rule, res) {
			continue
		}
		ruleImgs, err := e.ruleImages(obj, images, &rule)
		if err != nil {
			// The handler factory fails before any image is looked at.
			resps = append(resps, ruleResponse{policy: p, rule: rule.Name, status: statusError, emitWarning: true,
				message: "failed to instantiate handler: failed to extract images: " + err.Error()})
			continue
		}
		selected := matchingImages(ruleImgs, &rule)
		if len(selected) == 0 {
			continue
		}
		before := len(resps)
		if unknownNS {
			for _, img := range dedupe(selected) {
				resps = append(resps, ruleResponse{policy: p, rule: rule.Name, status: statusError, emitWarning: true, image: img, paths: []string{img.Pointer},
					message: report.ToolErrorPrefix + "the rule depends on namespace labels, which could not be read: " + req.NamespaceUnknown})
			}
		} else if len(rule.Unsupported) > 0 {
			for _, img := range dedupe(selected) {
				resps = append(resps, ruleResponse{policy: p, rule: rule.Name, status: statusError, emitWarning: true, image: img, paths: []string{img.Pointer},
					message: report.ToolErrorPrefix + "rule uses what is not replayed yet: " + strings.Join(rule.Unsupported, "; ")})
			}
		} else {
			ctx := e.withRule(ctx, p, &rule, req, obj, patched)
			if pre := preconditionsFail(ctx, p, &rule, selected); pre != nil {
				resps = append(resps, *pre)
			} else if resolved, fail := resolveRule(ctx, p, &rule, selected); fail != nil {
				resps = append(resps, *fail)
			} else {
				for _, iv := range resolved.VerifyImages {
					iv := iv
					for _, img := range selected {
						if e.previouslyVerified(req, obj, patched, p, &rule, img, md) {
							continue
						}
						r, patch := e.verifyImage(ctx, p, resolved, &iv, img, md, e.credentials(&iv, auth))
						if patch != nil {
							patched[patch.Path] = patch.Value.(string)
						}
						resps = append(resps, r...)
					}
				}
			}
		}
		if p.Spec.ApplyRules == "One" && applied(resps[before:]) {
			break
		}
	}
	var ops []report.PatchOp
	for path, v := range patched {
		ops = append(ops, report.PatchOp{Op: "replace", Path: path, Value: v})
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return resps, ops, md
}

// credentials is the registry client GetClient builds for an entry: the pod's pull secrets,
// plus imageRegistryCredentials.secrets (a bare name is in Kyverno's namespace).
func (e *Engine) credentials(iv *kpol.ImageVerification, pull verify.Auth) verify.Auth {
	if iv.ImageRegistryCredentials == nil {
		return pull
	}
	return pull.Plus(e.Config.Namespace, iv.ImageRegistryCredentials.Secrets)
}

// preconditionsFail is the rule's preconditions step, after its images matched: nil when they
// hold (or there are none), else the rule's single response (§3 step 2.4).
func preconditionsFail(ctx context.Context, p *kpol.Policy, rule *kpol.Rule, selected []imageInfo) *ruleResponse {
	if rule.Conds == nil {
		return nil
	}
	ok, msg, err := stateOf(ctx).context().Evaluate(rule.Conds)
	var paths []string
	for _, s := range dedupe(selected) {
		paths = append(paths, s.Pointer)
	}
	r := &ruleResponse{policy: p, rule: rule.Name, image: selected[0], paths: paths}
	switch {
	case err != nil:
		r.status, r.emitWarning, r.message = statusError, true, ruleError("failed to evaluate preconditions: ", err)
	case !ok:
		r.status, r.message = statusSkip, "preconditions not met"
		if msg != "" {
			r.message += "; " + msg
		}
	default:
		return nil
	}
	return r
}

// resolveRule is the image handler's substituteVariables: a templated rule has its variables
// replaced (context entries load as they are named) and is read again; the rule's checks
// then use what came out. A failure is the rule's single response.
func resolveRule(ctx context.Context, p *kpol.Policy, rule *kpol.Rule, selected []imageInfo) (*kpol.Rule, *ruleResponse) {
	if !rule.Templated {
		return rule, nil
	}
	fail := func(msg string) *ruleResponse {
		var paths []string
		for _, s := range dedupe(selected) {
			paths = append(paths, s.Pointer)
		}
		return &ruleResponse{policy: p, rule: rule.Name, image: selected[0], paths: paths, status: statusError, emitWarning: true, message: msg}
	}
	state := stateOf(ctx)
	doc, err := kpol.SubstitutionDocument(rule)
	if m, ok := doc.(map[string]any); ok && err == nil && rule.Autogen != "" {
		// Kyverno's autogen rewrote request.object paths across the whole rule text; the
		// context and preconditions were rewritten with the rule already.
		m["verifyImages"], err = shiftDocument(m["verifyImages"], rule.Autogen == "CronJob")
	}
	if err == nil {
		doc, err = state.context().Substitute(doc)
	}
	if err != nil {
		return nil, fail(ruleError("failed to substitute variables: ", err))
	}
	out, err := kpol.ResolveRule(p, rule, doc)
	if err != nil {
		return nil, fail(report.ToolErrorPrefix + "the rule's values after substitution are not replayed: " + err.Error())
	}
	if len(out.Unsupported) > 0 {
		return nil, fail(report.ToolErrorPrefix + "rule uses what is not replayed yet: " + strings.Join(out.Unsupported, "; "))
	}
	state.rule = out
	return out, nil
}

// applied is RulesAppliedCount() > 0: only a pass or a fail counts as applied, so with
// applyRules: One a rule that skipped or errored lets the next one run.
func applied(resps []ruleResponse) bool {
	for _, r := range resps {
		if r.status == statusPass || r.status == statusFail {
			return true
		}
	}
	return false
}

// usesNamespaceLabels reports whether matching the rule, or resolving its failure action,
// needs the namespace's labels.
func usesNamespaceLabels(p *kpol.Policy, r *kpol.Rule) bool {
	ms := []kpol.MatchResources{r.MatchResources}
	if r.ExcludeResources != nil {
		ms = append(ms, *r.ExcludeResources)
	}
	for _, m := range ms {
		for _, d := range describes(m) {
			if d.NamespaceSelector != nil {
				return true
			}
		}
	}
	for _, o := range p.Spec.ValidationFailureActionOverrides {
		if o.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// withoutNamespaceSelectors is m with every namespaceSelector dropped: what still has to
// match when the labels are unknown.
func withoutNamespaceSelectors(m kpol.MatchResources) kpol.MatchResources {
	strip := func(fs []kpol.ResourceFilter) []kpol.ResourceFilter {
		out := make([]kpol.ResourceFilter, len(fs))
		copy(out, fs)
		for i := range out {
			out[i].Resources.NamespaceSelector = nil
		}
		return out
	}
	m.Any, m.All = strip(m.Any), strip(m.All)
	m.Resources.NamespaceSelector = nil
	return m
}

func dedupe(imgs []imageInfo) []imageInfo {
	seen := map[string]bool{}
	var out []imageInfo
	for _, i := range imgs {
		if !seen[i.Pointer] {
			seen[i.Pointer] = true
			out = append(out, i)
		}
	}
	return out
}

// policyApplies is the policy-level gate: a namespaced Policy sees only its namespace.
func policyApplies(p *kpol.Policy, res resource) bool {
	if p.Namespace == "" {
		return true
	}
	ns := res.Namespace
	if ns == "" {
		ns = "default"
	}
	return ns == p.Namespace
}

// verifyImage is imageVerifier.Verify's loop body for one (entry, image) (§4.1 steps 3-9).
func (e *Engine) verifyImage(ctx context.Context, p *kpol.Policy, rule *kpol.Rule, iv *kpol.ImageVerification, img imageInfo, md *metadata, auth verify.Auth) ([]ruleResponse, *report.PatchOp) {
	image := img.String()
	var out []ruleResponse
	var resp *ruleResponse
	digest := ""
	mk := func(status, msg string, warn bool) *ruleResponse {
		return &ruleResponse{policy: p, rule: rule.Name, status: status, message: msg, emitWarning: warn || status == statusFail || status == statusError, image: img, paths: []string{img.Pointer}, digest: img.Digest}
	}
	if iv.HasChecks() {
		switch {
		case !matchAny(iv.ImageReferences, image):
			resp = mk(statusSkip, fmt.Sprintf("skipping image reference image %s, policy %s ruleName %s", image, p.Name, rule.Name), false)
		case matchAny(iv.SkipImageReferences, image):
			md.add(p, rule.Name, image, statusSkip, false)
			resp = mk(statusSkip, fmt.Sprintf("skipping image reference image %s, policy %s ruleName %s", image, p.Name, rule.Name), true)
		default:
			resp, digest = e.verifyChecks(ctx, iv, img, mk, auth)
		}
	}
	var patch *report.PatchOp
	if iv.Mutate() && img.Digest == "" {
		d := digest
		var err error
		if d == "" {
			d, err = e.Verifier.Digest(ctx, image, auth)
		}
		var tool *verify.ToolError
		switch {
		case errors.As(err, &tool):
			out = append(out, *mk(statusError, report.ToolErrorPrefix+tool.Error(), true))
		case err != nil:
			out = append(out, *mk(statusError, fmt.Sprintf("failed to update digest: failed to fetch image reference: %s, error: %s", image, err), true))
		default:
			if resp == nil {
				resp = mk(statusPass, "mutated image digest", false)
			}
			patch = &report.PatchOp{Op: "replace", Path: img.Pointer, Value: image + "@" + d}
			img.Digest = d
			image = img.String()
			if resp.digest == "" {
				resp.digest = d
			}
		}
	}
	if resp != nil {
		if iv.HasChecks() {
			md.add(p, rule.Name, image, imageStatus(resp.status), true)
		}
		out = append(out, *resp)
	}
	return out, patch
}

// imageStatus is ruleStatusToImageVerificationStatus: pass→pass, skip/warn→skip, anything
// else (fail, error)→fail.
func imageStatus(ruleStatus string) string {
	switch ruleStatus {
	case statusPass, statusSkip:
		return ruleStatus
	case "warn":
		return statusSkip
	}
	return statusFail
}

// verifyAttestors checks every attestor set; the first failing set decides the response.
func (e *Engine) verifyAttestors(ctx context.Context, iv *kpol.ImageVerification, img imageInfo, mk func(string, string, bool) *ruleResponse, auth verify.Auth) (*ruleResponse, string) {
	image := img.String()
	var digest string
	for i, set := range iv.Attestors {
		d, err := e.verifyAttestorSet(ctx, iv, set, image, fmt.Sprintf(".attestors[%d]", i), auth)
		var tool *verify.ToolError
		if errors.As(err, &tool) {
			// The image is in the check itself; the message names the missing right only, so
			// that one right missing reads as one warning.
			return mk(statusError, report.ToolErrorPrefix+tool.Error(), true), ""
		}
		if err != nil {
			msg := fmt.Sprintf("failed to verify image %s: %s", image, err)
			if verify.IsConnectionError(err) {
				return mk(statusError, msg, true), ""
			}
			return mk(statusFail, msg, true), ""
		}
		digest = d
	}
	r := mk(statusPass, fmt.Sprintf("verified image signatures for %s", image), false)
	r.digest = digest
	return r, digest
}

type joinedError struct{ errs []error }

func (j joinedError) Error() string {
	parts := make([]string, len(j.errs))
	for i, e := range j.errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (j joinedError) Unwrap() []error { return j.errs }

type pathError struct {
	path string
	err  error
}

func (p pathError) Error() string { return p.path + ": " + p.err.Error() }
func (p pathError) Unwrap() error { return p.err }

// verifyAttestorSet tries entries in order until count is reached (keys split per PEM
// block first); errors are joined with "; " as multierr does.
func (e *Engine) verifyAttestorSet(ctx context.Context, iv *kpol.ImageVerification, set kpol.AttestorSet, image, path string, auth verify.Auth) (string, error) {
	var entries []kpol.Attestor
	for _, en := range set.Entries {
		if en.Keys != nil {
			if keys := kpol.SplitPEMKeys(en.Keys.PublicKeys); len(keys) > 1 {
				for _, k := range keys {
					c := en
					kc := *en.Keys
					kc.PublicKeys = k
					c.Keys = &kc
					entries = append(entries, c)
				}
				continue
			}
		}
		entries = append(entries, en)
	}
	required := kpol.AttestorSet{Count: set.Count, Entries: entries}.RequiredCount()
	verified := 0
	var errs []error
	for i, en := range entries {
		if en.Nested != nil {
			// A nested set counts as one entry; its errors carry their own paths.
			d, err := e.verifyAttestorSet(ctx, iv, *en.Nested, image, fmt.Sprintf("%s.entries[%d].attestor", path, i), auth)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			verified++
			if verified >= required {
				return d, nil
			}
			continue
		}
		check, sub := entryCheck(iv, en, image, auth)
		digest, err := e.signatureDigest(ctx, iv, check)
		if err != nil {
			errs = append(errs, pathError{fmt.Sprintf("%s.entries[%d]%s", path, i, sub), err})
			continue
		}
		verified++
		if verified >= required {
			return digest, nil
		}
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("attestors verification failed")
	}
	if len(errs) == 1 {
		return "", errs[0]
	}
	return "", joinedError{errs}
}

// signatureDigest runs the entry's signature check, on the Sigstore-bundle path when the
// entry's type says so (Kyverno's cosign verifier takes it before anything else), and
// returns the verified digest.
func (e *Engine) signatureDigest(ctx context.Context, iv *kpol.ImageVerification, check verify.SignatureCheck) (string, error) {
	if iv.Type == "SigstoreBundle" {
		res, err := e.Verifier.VerifyBundles(ctx, bundleCheck(check))
		return res.Digest, err
	}
	res, err := e.Verifier.VerifySignature(ctx, check)
	return res.Digest, err
}

// bundleCheck is the part of a signature check Kyverno's Sigstore-bundle path reads.
func bundleCheck(c verify.SignatureCheck) verify.BundleCheck {
	return verify.BundleCheck{Image: c.Image, PublicKey: c.PublicKey, HashAlgorithm: c.HashAlgorithm,
		Subject: c.Subject, SubjectRegExp: c.SubjectRegExp, Issuer: c.Issuer, IssuerRegExp: c.IssuerRegExp,
		Tlog: c.Tlog, SCT: c.SCT, Auth: c.Auth}
}

// transparency is buildCosignVerifier's log settings: without a rekor object the public
// Rekor is checked, without a ctlog object SCTs are.
func transparency(check *verify.SignatureCheck, rekor *kpol.Rekor, ctlog *kpol.CTLog) {
	check.Tlog, check.RekorURL = true, "https://rekor.sigstore.dev"
	if rekor != nil {
		check.Tlog, check.RekorURL, check.RekorPubKey = !rekor.IgnoreTlog, rekor.URL, rekor.PubKey
	}
	check.SCT = true
	if ctlog != nil {
		check.SCT, check.CTLogPubKey, check.TSACertChain = !ctlog.IgnoreSCT, ctlog.PubKey, ctlog.TSACertChain
	}
}

// validatePolicy is the validating phase for one policy on the (mutated) object (§4.2).
func (e *Engine) validatePolicy(ctx context.Context, p *kpol.Policy, req Request, obj map[string]any) []ruleResponse {
	res := toResource(obj, req.Operation, req.NamespaceLabels)
	if !policyApplies(p, res) {
		return nil
	}
	images, _ := e.images(obj)
	annotations := res.Annotations
	var resps []ruleResponse
	for _, rule := range e.rulesFor(p, res.Kind) {
		rule := rule
		if !hasVerifyImageChecks(&rule) || len(rule.Unsupported) > 0 || !ruleMatches(&rule, res) {
			continue
		}
		ruleImgs, err := e.ruleImages(obj, images, &rule)
		if err != nil {
			resps = append(resps, ruleResponse{policy: p, rule: rule.Name, status: statusError, emitWarning: true,
				message: "failed to instantiate handler: failed to extract images: " + err.Error()})
			continue
		}
		selected := matchingImages(ruleImgs, &rule)
		if len(selected) == 0 {
			continue
		}
		// The validating phase evaluates the rule's preconditions on the mutated object too.
		if pre := preconditionsFail(e.withRule(ctx, p, &rule, req, obj, nil), p, &rule, selected); pre != nil {
			resps = append(resps, *pre)
			continue
		}
		resps = append(resps, validateRule(p, &rule, ruleImgs, selected, annotations))
		if p.Spec.ApplyRules == "One" && applied(resps[len(resps)-1:]) {
			break
		}
	}
	return resps
}

func hasVerifyImageChecks(r *kpol.Rule) bool {
	for i := range r.VerifyImages {
		if r.VerifyImages[i].Digest() || r.VerifyImages[i].IsRequired() {
			return true
		}
	}
	return false
}

func validateRule(p *kpol.Policy, rule *kpol.Rule, images, selected []imageInfo, annotations map[string]string) ruleResponse {
	var paths []string
	for _, s := range dedupe(selected) {
		paths = append(paths, s.Pointer)
	}
	mk := func(status, msg string, img imageInfo) ruleResponse {
		return ruleResponse{policy: p, rule: rule.Name, status: status, message: msg, emitWarning: status == statusFail, image: img, paths: paths, digest: img.Digest}
	}
	var skipped, passed []string
	for _, iv := range rule.VerifyImages {
		for _, img := range images {
			image := img.String()
			if !matchAny(iv.ImageReferences, image) {
				continue
			}
			if iv.Digest() && img.Digest == "" {
				r := mk(statusFail, fmt.Sprintf("missing digest for %s", image), img)
				r.paths = []string{img.Pointer}
				return r
			}
			if iv.IsRequired() {
				status := scopedStatus(annotations, p, rule.Name, image)
				switch status {
				case statusFail:
					r := mk(statusFail, fmt.Sprintf("unverified image %s", image), img)
					r.paths = []string{img.Pointer}
					return r
				case statusSkip:
					skipped = append(skipped, image)
				case statusPass:
					passed = append(passed, image)
				}
			}
		}
	}
	first := selected[0]
	if len(passed) > 0 || len(passed)+len(skipped) == 0 {
		if len(skipped) > 0 {
			return mk(statusPass, strings.Join(append([]string{"image verified, skipped images:"}, skipped...), " "), first)
		}
		return mk(statusPass, "image verified", first)
	}
	return mk(statusSkip, strings.Join(append([]string{"image skipped, skipped images:"}, skipped...), " "), first)
}

// scopedStatus reads kyverno.io/verify-images-scoped; anything missing is fail.
func scopedStatus(annotations map[string]string, p *kpol.Policy, rule, image string) string {
	raw, ok := annotations[annotationScoped]
	if !ok {
		return statusFail
	}
	var scoped struct {
		Version  int                                     `json:"version"`
		Policies map[string]map[string]map[string]string `json:"policies"`
	}
	if err := json.Unmarshal([]byte(raw), &scoped); err != nil || scoped.Version != 1 {
		return statusFail
	}
	if s, ok := scoped.Policies[p.Namespace+"/"+p.Name][rule][image]; ok {
		return s
	}
	return statusFail
}
