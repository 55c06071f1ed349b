package ivpol

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-verify/kubectl-verify/policyload/ivpol"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// fakeVerifier: reg/signed* verifies with the key "k1", reg/attested has a provenance
// statement, reg/dead is a registry fault.
type fakeVerifier struct {
	sigs    []verify.SignatureCheck
	atts    []verify.AttestationCheck
	bundles []verify.BundleCheck
	fetchs  []string
}

func (f *fakeVerifier) VerifySignature(_ context.Context, c verify.SignatureCheck) (verify.SignatureResult, error) {
	f.sigs = append(f.sigs, c)
	if strings.Contains(c.Image, "reg/signed") && c.PublicKey == "k1" {
		return verify.SignatureResult{Digest: d1}, nil
	}
	return verify.SignatureResult{}, &verify.FailedError{Err: errors.New("no signatures found")}
}

func (f *fakeVerifier) VerifyAttestations(_ context.Context, c verify.AttestationCheck) (verify.AttestationResult, error) {
	f.atts = append(f.atts, c)
	if strings.Contains(c.Image, "reg/attested") && c.PublicKey == "k1" {
		return verify.AttestationResult{Digest: d1, Statements: []map[string]any{
			{"_type": "https://in-toto.io/Statement/v0.1", "type": "https://slsa.dev/provenance/v0.2", "predicateType": "https://slsa.dev/provenance/v0.2",
				"predicate": map[string]any{"builder": map[string]any{"id": "https://example.com/builder"}}},
		}}, nil
	}
	return verify.AttestationResult{}, &verify.FailedError{Err: errors.New("no matching attestations")}
}

func (f *fakeVerifier) HasBundles(_ context.Context, image, _ string, _ verify.Auth) bool {
	return strings.Contains(image, "reg/bundle")
}

func (f *fakeVerifier) VerifyBundles(_ context.Context, c verify.BundleCheck) (verify.BundleResult, error) {
	f.bundles = append(f.bundles, c)
	if strings.Contains(c.Image, "reg/bundle") && c.PublicKey == "k1" {
		return verify.BundleResult{Digest: d1}, nil
	}
	return verify.BundleResult{}, &verify.FailedError{Err: errors.New("sigstore bundle verification failed: no matching signatures found")}
}

func (f *fakeVerifier) Digest(_ context.Context, image string, _ verify.Auth) (string, error) {
	f.fetchs = append(f.fetchs, image)
	if strings.HasPrefix(image, "reg/dead") || strings.HasPrefix(image, "docker.io/reg/dead") {
		return "", &verify.UnavailableError{Err: errors.New("dial tcp: connection refused")}
	}
	if strings.Contains(image, "other") {
		return d2, nil
	}
	return d1, nil
}

// base is a valid policy whose spec mod edits (YAML merged over it, key by key at the top).
const base = `
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: check}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchImageReferences: [{glob: "reg/*"}]
  validationConfigurations: {verifyDigest: false}
  attestors:
  - name: k1
    cosign: {key: {data: k1}, ctlog: {insecureIgnoreTlog: true}}
  validations:
  - expression: "images.containers.all(img, verifyImageSignatures(img, [attestors.k1]) > 0)"
    message: not signed
`

func parsePolicy(t testing.TB, mod string) *ivpol.Policy {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(base), &obj); err != nil {
		t.Fatal(err)
	}
	if mod != "" {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(mod), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			switch k {
			case "kind", "metadata":
				obj[k] = v
			default:
				obj["spec"].(map[string]any)[k] = v
			}
		}
	}
	raw, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ivpol.Parse(js, "test.yaml:1", "default")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pod(name string, labels map[string]any, containers, inits []string) map[string]any {
	list := func(images []string) []any {
		var out []any
		for i, img := range images {
			out = append(out, map[string]any{"name": name + string(rune('a'+i)), "image": img})
		}
		return out
	}
	spec := map[string]any{"containers": list(containers)}
	if len(inits) > 0 {
		spec["initContainers"] = list(inits)
	}
	meta := map[string]any{"name": name, "namespace": "default"}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
}

type got struct{ Rule, Result, Message string }

func checks(t *testing.T, e *Engine, obj map[string]any) []got {
	t.Helper()
	out, err := e.Checks(context.Background(), Request{Object: obj, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	var g []got
	for _, c := range out.Checks {
		g = append(g, got{c.Rule, c.Result, c.Message})
	}
	return g
}

// TestChecks: what `kyverno apply` reports per policy, one case per step of Kyverno's
// Evaluate (docs/ivpol-research.md §2).
func TestChecks(t *testing.T) {
	signed, unsigned := "reg/signed:1", "reg/unsigned:1"
	tests := []struct {
		name     string
		mod      string
		obj      map[string]any
		want     []got
		wantSigs int
	}{
		{"signed", "", pod("p", nil, []string{signed}, nil), []got{{"check", "pass", "success"}}, 1},
		{"unsigned: the validation's message, not cosign's", "", pod("p", nil, []string{unsigned}, nil), []got{{"check", "fail", "not signed"}}, 1},
		{"verifyDigest on: a tag fails before any registry access", `validationConfigurations: {}`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "fail", "image reg/signed:1 does not have a digest"}}, 0},
		{"verifyDigest on: tag@digest counts as a digest", `validationConfigurations: {}`, pod("p", nil, []string{"reg/signed:1@" + d1}, nil),
			[]got{{"check", "pass", "success"}}, 1},
		{"an image outside the references: success on empty lists, no registry access", "", pod("p", nil, []string{"other/app:1"}, nil),
			[]got{{"check", "pass", "success"}}, 0},
		{"raw strings: a docker.io glob does not select a short name", `matchImageReferences: [{glob: "docker.io/*"}]`, pod("p", nil, []string{"nginx:1"}, nil),
			[]got{{"check", "pass", "success"}}, 0},
		{"glob without separators: * crosses /", `matchImageReferences: [{glob: "reg*1"}]`, pod("p", nil, []string{unsigned}, nil),
			[]got{{"check", "fail", "not signed"}}, 1},
		{"ref expression", `matchImageReferences: [{expression: "ref.endsWith(':1')"}]`, pod("p", nil, []string{unsigned}, nil),
			[]got{{"check", "fail", "not signed"}}, 1},
		{"no message: the index", `validations: [{expression: "true"}, {expression: "false"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "fail", "CEL expression validation failed at index 1"}}, 0},
		{"messageExpression replaces message", `validations: [{expression: "false", message: m, messageExpression: "'in ' + object.metadata.name"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "fail", "in p"}}, 0},
		{"messageExpression error", `validations: [{expression: "false", messageExpression: "'in ' + object.metadata.nope"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "fail", "failed to evaluate message expression: no such key: nope"}}, 0},
		{"validation runtime error", `validations: [{expression: "object.metadata.nope == 'x'"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"evaluation", "error", "failed to evaluate policy: no such key: nope"}}, 0},
		{"matchCondition false: no response at all", `matchConditions: [{name: c, expression: "object.metadata.name == 'q'"}]`, pod("p", nil, []string{unsigned}, nil), nil, 0},
		{"matchCondition error under Fail", `matchConditions: [{name: c, expression: "object.metadata.labels.team == 'a'"}]`, pod("p", nil, []string{unsigned}, nil),
			[]got{{"evaluation", "error", "failed to evaluate policy: no such key: labels"}}, 0},
		{"matchCondition error under Ignore: no response", "failurePolicy: Ignore\nmatchConditions: [{name: c, expression: \"object.metadata.labels.team == 'a'\"}]", pod("p", nil, []string{unsigned}, nil), nil, 0},
		{"matchCondition false wins over an error", `matchConditions: [{name: c, expression: "object.metadata.labels.team == 'a'"}, {name: d, expression: "false"}]`, pod("p", nil, []string{unsigned}, nil), nil, 0},
		{"variables: an unused failing one is never evaluated", `variables: [{name: bad, expression: "object.nope"}, {name: imgs, expression: "images.containers"}]
validations: [{expression: "variables.imgs.all(i, verifyImageSignatures(i, [attestors.k1]) > 0)", message: m}]`, pod("p", nil, []string{signed}, nil), []got{{"check", "pass", "success"}}, 1},
		{"variables: a used failing one errs", `variables: [{name: bad, expression: "object.nope"}]
validations: [{expression: "variables.bad == 1"}]`, pod("p", nil, []string{signed}, nil), []got{{"evaluation", "error", "failed to evaluate policy: no such key: nope"}}, 0},
		{"required: an initContainer never checked", "", pod("p", nil, []string{signed}, []string{unsigned}),
			[]got{{"check", "fail", "image reg/unsigned:1 is not verified: no policy performed a signature or attestation check on it"}}, 1},
		{"required: checked and failed", `validations: [{expression: "images.initContainers.all(i, verifyImageSignatures(i, [attestors.k1]) >= 0)"}]`, pod("p", nil, nil, []string{unsigned}),
			[]got{{"check", "fail", "image reg/unsigned:1 failed signature or attestation verification"}}, 1},
		{"required off", `validationConfigurations: {verifyDigest: false, required: false}`, pod("p", nil, []string{signed}, []string{unsigned}),
			[]got{{"check", "pass", "success"}}, 1},
		{"a custom extractor replaces a built-in one", `images: [{name: containers, expression: "['reg/unsigned:1']"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "fail", "not signed"}}, 1},
		{"a registry fault is the policy's error, before any validation", "", pod("p", nil, []string{"reg/dead:1"}, nil),
			[]got{{"evaluation", "error", "failed to evaluate policy: dial tcp: connection refused"}}, 0},
		{"a kind without built-in extractors", `matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]}`,
			map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "default"}},
			[]got{{"evaluation", "error", "failed to evaluate policy: no such key: containers"}}, 0},
		{"matchConstraints miss: nothing", `matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [pods]}]}`, pod("p", nil, []string{unsigned}, nil), nil, 0},
		{"objectSelector", `matchConstraints: {objectSelector: {matchLabels: {team: a}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			pod("p", map[string]any{"team": "b"}, []string{unsigned}, nil), nil, 0},
		{"every attestor is tried: the count is how many verified", `attestors: [{name: k1, cosign: {key: {data: k1}, ctlog: {insecureIgnoreTlog: true}}}, {name: k2, cosign: {key: {data: k2}, ctlog: {insecureIgnoreTlog: true}}}]
validations: [{expression: "images.containers.all(i, verifyImageSignatures(i, [attestors.k2, attestors.k1]) == 2)", message: not both}]`,
			pod("p", nil, []string{signed}, nil), []got{{"check", "fail", "not both"}}, 2},
		{"Sigstore bundles: verified alone", "", pod("p", nil, []string{"reg/bundle:1"}, nil), []got{{"check", "pass", "success"}}, 0},
		{"Sigstore bundles by another key", `attestors: [{name: k1, cosign: {key: {data: k2}, ctlog: {insecureIgnoreTlog: true}}}]`, pod("p", nil, []string{"reg/bundle:1"}, nil),
			[]got{{"check", "fail", "not signed"}}, 0},
		{"a key from CEL", `attestors: [{name: k1, cosign: {key: {expression: "'k' + '1'"}, ctlog: {insecureIgnoreTlog: true}}}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "pass", "success"}}, 1},
		{"getImageData", `validations: [{expression: "images.containers.all(i, getImageData(i).digest == '` + d1 + `' && getImageData(i).tag == '1' && getImageData(i).repository == 'reg/signed')"}]
validationConfigurations: {verifyDigest: false, required: false}`, pod("p", nil, []string{signed}, nil), []got{{"check", "pass", "success"}}, 0},
		{"notary: not replayed, a load-time tool error", `attestors: [{name: k1, notary: {certs: {value: c}}}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "error", "kubectl-verify: policy check is not replayed: spec.attestors[0].notary: notary signatures are not verified by kubectl-verify"}}, 0},
		{"annotations: not replayed, a tool error", `attestors: [{name: k1, cosign: {key: {data: k1}, annotations: {a: b}, ctlog: {insecureIgnoreTlog: true}}}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "error", "kubectl-verify: policy check is not replayed: spec.attestors[0].cosign.annotations: signature annotations are not matched by kubectl-verify"}}, 0},
		{"a CEL library not replayed: a tool error", `validations: [{expression: "images.containers.all(i, image(i).registry() == 'reg')"}]`, pod("p", nil, []string{signed}, nil),
			[]got{{"check", "error", "kubectl-verify: policy check is not replayed: spec.validations[0].expression calls image, registry, of a CEL library kubectl-verify does not replay"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeVerifier{}
			e := &Engine{Policies: []*ivpol.Policy{parsePolicy(t, tt.mod)}, Verifier: f, Config: kpol.DefaultConfig()}
			if diff := cmp.Diff(tt.want, checks(t, e, tt.obj)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			if len(f.sigs) != tt.wantSigs {
				t.Errorf("signature checks = %d, want %d: %+v", len(f.sigs), tt.wantSigs, f.sigs)
			}
		})
	}
}

// TestAttestations: verifyAttestationSignatures passes only with the transparency log on (Kyverno
// demands cosign's bundle verified), and extractPayload reads what it verified.
func TestAttestations(t *testing.T) {
	const attestors = `attestors: [{name: k1, cosign: {key: {data: k1}, ctlog: {rekorPubKey: r}}}]
attestations: [{name: prov, intoto: {type: "https://slsa.dev/provenance/v0.2"}}, {name: ref, referrer: {type: sbom}}]
`
	tests := []struct {
		name, mod, image string
		want             []got
	}{
		{"verified, then read", attestors + `validations: [{expression: "images.containers.all(i, verifyAttestationSignatures(i, attestations.prov, [attestors.k1]) > 0 && extractPayload(i, attestations.prov).predicate.builder.id == 'https://example.com/builder' && !('type' in extractPayload(i, attestations.prov)))"}]`,
			"reg/attested:1", []got{{"check", "pass", "success"}}},
		{"insecureIgnoreTlog: never verified", strings.Replace(attestors, "ctlog: {rekorPubKey: r}", "ctlog: {insecureIgnoreTlog: true}", 1) + `validations: [{expression: "images.containers.all(i, verifyAttestationSignatures(i, attestations.prov, [attestors.k1]) > 0)", message: none}]`,
			"reg/attested:1", []got{{"check", "fail", "none"}}},
		{"read before verifying", attestors + `validations: [{expression: "images.containers.all(i, extractPayload(i, attestations.prov).predicate != null)"}]`,
			"reg/attested:1", []got{{"evaluation", "error", "failed to evaluate policy: failed to get payload: intoto attestation payload cannot be fetch before verifying intoto attestation"}}},
		{"an attestation the policy lacks", attestors + `validations: [{expression: "images.containers.all(i, verifyAttestationSignatures(i, 'nope', [attestors.k1]) > 0)"}]`,
			"reg/attested:1", []got{{"evaluation", "error", "failed to evaluate policy: attestation not found in policy: nope"}}},
		{"a referrer attestation: cosign counts none", attestors + `validations: [{expression: "images.containers.all(i, verifyAttestationSignatures(i, attestations.ref, [attestors.k1]) > 0)", message: none}]`,
			"reg/attested:1", []got{{"check", "fail", "none"}}},
		{"not attested", attestors + `validations: [{expression: "images.containers.all(i, verifyAttestationSignatures(i, attestations.prov, [attestors.k1]) > 0)", message: none}]`,
			"reg/signed:1", []got{{"check", "fail", "none"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: []*ivpol.Policy{parsePolicy(t, tt.mod)}, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
			if diff := cmp.Diff(tt.want, checks(t, e, pod("p", nil, []string{tt.image}, nil))); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvidenceAcrossPolicies: required reads evidence every policy of the call gave, even one
// evaluated later.
func TestEvidenceAcrossPolicies(t *testing.T) {
	digestOnly := parsePolicy(t, `metadata: {name: a-digest-only}
validations: [{expression: "true"}]`)
	verifier := parsePolicy(t, `metadata: {name: b-verifier}`)
	for _, tt := range []struct {
		name     string
		policies []*ivpol.Policy
		want     []got
	}{
		{"alone", []*ivpol.Policy{digestOnly}, []got{{"a-digest-only", "fail", "image reg/signed:1 is not verified: no policy performed a signature or attestation check on it"}}},
		{"with a later verifier", []*ivpol.Policy{digestOnly, verifier}, []got{{"a-digest-only", "pass", "success"}, {"b-verifier", "pass", "success"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: tt.policies, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
			if diff := cmp.Diff(tt.want, checks(t, e, pod("p", nil, []string{"reg/signed:1"}, nil))); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAutogen: a pods-only policy gets Kyverno's controller variants, its expressions
// rewritten to the pod template, under its own name.
func TestAutogen(t *testing.T) {
	deployment := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"team": "a"}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "reg/unsigned:1"}}}}}}
	cronjob := map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": map[string]any{"name": "nightly", "namespace": "default"},
		"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "reg/signed:1"}}}}}}}}
	rc := map[string]any{"apiVersion": "v1", "kind": "ReplicationController", "metadata": map[string]any{"name": "rc", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "reg/unsigned:1"}}}}}}
	withLabels := `validations: [{expression: "object.metadata.labels.team == 'a' && object.metadata.namespace == 'default'", message: m}]
validationConfigurations: {verifyDigest: false, required: false}`
	tests := []struct {
		name, mod string
		obj       map[string]any
		want      []got
	}{
		{"deployment", "", deployment, []got{{"check", "fail", "not signed"}}},
		{"cronjob", "", cronjob, []got{{"check", "pass", "success"}}},
		{"no ReplicationController variant", "", rc, nil},
		{"object.metadata becomes the template's, .namespace stays", withLabels, deployment, []got{{"check", "pass", "success"}}},
		{"controllers listed", `autogen: {podControllers: {controllers: [cronjobs]}}`, deployment, nil},
		{"no controllers", `autogen: {podControllers: {controllers: []}}`, cronjob, nil},
		{"an objectSelector: no autogen", `matchConstraints: {objectSelector: {matchLabels: {team: a}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`, deployment, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: []*ivpol.Policy{parsePolicy(t, tt.mod)}, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
			if diff := cmp.Diff(tt.want, checks(t, e, tt.obj)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	in := `object.spec.x oldObject.spec.y object.metadata.namespace object.metadata.namespaceFoo object.metadata.name "object.spec"`
	want := `object.spec.template.spec.x oldObject.spec.template.spec.y object.metadata.namespace object.spec.template.metadata.namespaceFoo object.spec.template.metadata.name "object.spec.template.spec"`
	out := rewrite(rewrite([]byte(in), "spec", "spec.template.spec"), "metadata", "spec.template.metadata")
	if string(out) != want {
		t.Errorf("rewrite =\n%s\nwant\n%s", out, want)
	}
}

type answer struct {
	Allowed  bool
	Message  string
	Warnings []string
	Patch    []report.PatchOp
}

// TestWebhooks: webhook names, what each validationAction does, the digest mutation, and
// --enforce.
func TestWebhooks(t *testing.T) {
	unsigned := pod("p", map[string]any{"team": "a"}, []string{"reg/unsigned:1"}, nil)
	pin := func(img, d string) []report.PatchOp {
		return []report.PatchOp{{Op: "replace", Path: "/spec/containers/0/image", Value: "docker.io/" + img + "@" + d}}
	}
	tests := []struct {
		name    string
		mods    []string
		obj     map[string]any
		enforce bool
		names   []string
		want    answer
	}{
		{"deny, pinned first", []string{""}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Message: `admission webhook "ivpol.validate.kyverno.svc-fail" denied the request: Policy check failed: not signed`, Patch: []report.PatchOp{}}},
		{"warn", []string{"validationActions: [Warn]\nmatchImageReferences: [{glob: '*reg/*'}]"}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Allowed: true, Warnings: []string{"Policy check failed: not signed"}, Patch: pin("reg/unsigned:1", d1)}},
		{"the mutation matches the normalised name: reg/* never pins", []string{"validationActions: [Warn]"}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Allowed: true, Warnings: []string{"Policy check failed: not signed"}, Patch: []report.PatchOp{}}},
		{"audit", []string{"validationActions: [Audit]\nfailurePolicy: Ignore\nmatchImageReferences: [{glob: '*reg/*'}]"}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-ignore", "ivpol.validate.kyverno.svc-ignore"},
			answer{Allowed: true, Patch: pin("reg/unsigned:1", d1)}},
		{"audit enforced", []string{"validationActions: [Audit]\nvalidationConfigurations: {verifyDigest: false, mutateDigest: false}"}, unsigned, true,
			[]string{"ivpol.validate.kyverno.svc-fail"},
			answer{Message: `admission webhook "ivpol.validate.kyverno.svc-fail" denied the request: Policy check failed: not signed`, Patch: []report.PatchOp{}}},
		{"fine-grained by matchConditions", []string{`matchConditions: [{name: c, expression: "true"}]`}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail-finegrained-check", "ivpol.validate.kyverno.svc-fail-finegrained-check"},
			answer{Message: `admission webhook "ivpol.validate.kyverno.svc-fail-finegrained-check" denied the request: Policy check failed: not signed`, Patch: []report.PatchOp{}}},
		{"namespaced, fine-grained", []string{"kind: NamespacedImageValidatingPolicy\nmetadata: {name: check, namespace: default}\nwebhookConfiguration: {timeoutSeconds: 5}"}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail-finegrained-default-check", "ivpol.validate.kyverno.svc-fail-finegrained-default-check"},
			answer{Message: `admission webhook "ivpol.validate.kyverno.svc-fail-finegrained-default-check" denied the request: Policy check failed: not signed`, Patch: []report.PatchOp{}}},
		{"namespaced, another namespace", []string{"kind: NamespacedImageValidatingPolicy\nmetadata: {name: check, namespace: team}"}, unsigned, false,
			nil, answer{Allowed: true, Patch: []report.PatchOp{}}},
		{"admission disabled", []string{"evaluation: {admission: {enabled: false}}"}, unsigned, false,
			nil, answer{Allowed: true, Patch: []report.PatchOp{}}},
		{"Kyverno's resourceFilters", []string{"metadata: {name: filtered}"}, unsigned, false,
			nil, answer{Allowed: true, Patch: []report.PatchOp{}}},
		{"two policies, one call: denials joined", []string{"metadata: {name: b}", "metadata: {name: a}\nvalidations: [{expression: 'false'}]"}, unsigned, false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Message: `admission webhook "ivpol.validate.kyverno.svc-fail" denied the request: Policy a failed: CEL expression validation failed at index 0; Policy b failed: not signed`, Patch: []report.PatchOp{}}},
		{"a registry fault denies in the digest mutation", []string{"matchImageReferences: [{glob: '*reg/*'}]"}, pod("p", nil, []string{"reg/dead:1"}, nil), false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Message: `admission webhook "ivpol.mutate.kyverno.svc-fail" denied the request: Policy check error: failed to update digest: failed to resolve digest for image docker.io/reg/dead:1: dial tcp: connection refused`, Patch: []report.PatchOp{}}},
		{"the mutation matches the normalised name, the validation the pinned one", []string{`matchImageReferences: [{glob: "docker.io/reg/*"}]`}, pod("p", nil, []string{"reg/signed:1"}, nil), false,
			[]string{"ivpol.mutate.kyverno.svc-fail", "ivpol.validate.kyverno.svc-fail"},
			answer{Allowed: true, Patch: pin("reg/signed:1", d1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var policies []*ivpol.Policy
			for _, m := range tt.mods {
				policies = append(policies, parsePolicy(t, m))
			}
			cfg := kpol.DefaultConfig()
			if policies[0].Name == "filtered" {
				cfg.ResourceFilters = []kpol.ConfigFilter{{Group: "*", Version: "*", Kind: "Pod", Subresource: "*", Namespace: "default", Name: "*"}}
			}
			e := &Engine{Policies: policies, Verifier: &fakeVerifier{}, Config: cfg}
			req := Request{Object: tt.obj, Operation: "CREATE", NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "default"}}
			hooks := e.Webhooks(req, tt.enforce)
			var names []string
			for _, h := range hooks {
				names = append(names, h.Name)
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("webhooks (-want +got):\n%s", diff)
			}
			out, err := admission.Run(context.Background(), tt.obj, hooks)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, answer{out.Allowed, out.Message, out.Warnings, out.Patch}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkChecks is one Pod of three images against one policy whose validation calls the
// verification function: the per-evaluation program the bound functions need is the cost
// to watch (10k pods must take seconds).
func BenchmarkChecks(b *testing.B) {
	e := &Engine{Policies: []*ivpol.Policy{parsePolicy(b, "")}, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
	obj := pod("p", nil, []string{"reg/signed:1", "reg/signed:2", "reg/signed:3"}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e.Verifier = &fakeVerifier{}
		if _, err := e.Checks(ctx, Request{Object: obj, Operation: "CREATE"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNotSelected: an image no policy selects, in a resource a policy evaluated, is
// image-not-selected; one a policy selects is covered by its check.
func TestNotSelected(t *testing.T) {
	e := &Engine{Policies: []*ivpol.Policy{parsePolicy(t, "")}, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
	out, err := e.Checks(context.Background(), Request{Object: pod("p", nil, []string{"reg/signed:1", "other/app:1"}, nil), Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.NotChecked{{Engine: "kyverno", Policy: "check", Rule: "check", Image: "other/app:1", Path: "/spec/containers/1/image", Reason: report.ReasonImageNotSelected}}
	if diff := cmp.Diff(want, out.NotChecked); diff != "" {
		t.Errorf("notChecked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"/spec/containers/0/image"}}, out.CheckPaths); diff != "" {
		t.Errorf("check paths (-want +got):\n%s", diff)
	}
}

// TestNamespaces: the namespaceSelector reads the namespace's labels (its name label always
// there), and expressions see namespaceObject and request.
func TestNamespaces(t *testing.T) {
	tests := []struct {
		name, mod string
		labels    map[string]string
		unknown   string
		want      []got
	}{
		{"labels unknown: a tool error, never a miss", `matchConstraints: {namespaceSelector: {matchLabels: {env: prod}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			nil, "forbidden", []got{{"check", "error", "kubectl-verify: whether policy check sees namespace default is unknown: its labels could not be read: forbidden"}}},
		{"labels unknown, the name enough", `matchConstraints: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			nil, "forbidden", nil},
		{"selected", `matchConstraints: {namespaceSelector: {matchLabels: {env: prod}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			map[string]string{"env": "prod"}, "", []got{{"check", "fail", "not signed"}}},
		{"not selected", `matchConstraints: {namespaceSelector: {matchLabels: {env: prod}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			map[string]string{"env": "dev"}, "", nil},
		{"by name label", `matchConstraints: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}, resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}`,
			nil, "", []got{{"check", "fail", "not signed"}}},
		{"namespaceObject and request", `matchConditions: [{name: c, expression: "namespaceObject.metadata.labels.env == 'prod' && request.operation == 'CREATE' && request.namespace == 'default' && oldObject == null"}]`,
			map[string]string{"env": "prod"}, "", []got{{"check", "fail", "not signed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: []*ivpol.Policy{parsePolicy(t, tt.mod)}, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
			out, err := e.Checks(context.Background(), Request{Object: pod("p", nil, []string{"reg/unsigned:1"}, nil), Operation: "CREATE", NamespaceLabels: tt.labels, NamespaceUnknown: tt.unknown})
			if err != nil {
				t.Fatal(err)
			}
			var g []got
			for _, c := range out.Checks {
				g = append(g, got{c.Rule, c.Result, c.Message})
			}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeadlock: Kyverno's image cache leaks a read lock on every hit, so a miss after a hit
// in one call never returns: the CLI's checks become tool errors, the webhook times out.
func TestDeadlock(t *testing.T) {
	a := parsePolicy(t, `metadata: {name: a}
matchImageReferences: [{glob: "reg/signed-a*"}]`)
	b := parsePolicy(t, `metadata: {name: b}
matchImageReferences: [{glob: "reg/signed-b*"}]`)
	obj := pod("p", nil, []string{"reg/signed-a:1", "reg/signed-b:1"}, nil)
	repeated := pod("p", nil, []string{"reg/signed-a:1", "reg/signed-a:1", "reg/signed-b:1"}, nil)
	never := "kubectl-verify: kyverno apply never answers for this resource: Kyverno 1.19.1's image cache deadlocks when an image it cached is followed by one it has not (docs/divergences.md)"
	tests := []struct {
		name     string
		policies []*ivpol.Policy
		obj      map[string]any
		want     []got
		answer   answer
	}{
		{"one policy, two images: every fetch before any hit", []*ivpol.Policy{parsePolicy(t, `matchImageReferences: [{glob: "reg/signed*"}]`)}, obj,
			[]got{{"check", "pass", "success"}}, answer{Allowed: true, Patch: []report.PatchOp{}}},
		{"one policy, an image repeated then another: the prefetch blocks; the mutation, in the order that answers, does not",
			[]*ivpol.Policy{parsePolicy(t, `matchImageReferences: [{glob: "*reg/signed*"}]`)}, repeated,
			[]got{{"check", "error", never}},
			answer{Message: `Internal error occurred: failed calling webhook "ivpol.validate.kyverno.svc-fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/ivpol/validate/check?timeout=10s": context deadline exceeded`, Patch: []report.PatchOp{}}},
		{"two policies, an image each: the second fetch follows a hit", []*ivpol.Policy{a, b}, obj,
			[]got{{"a", "error", never}, {"b", "error", never}},
			answer{Message: `Internal error occurred: failed calling webhook "ivpol.validate.kyverno.svc-fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/ivpol/validate/a/b?timeout=10s": context deadline exceeded`, Patch: []report.PatchOp{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: tt.policies, Verifier: &fakeVerifier{}, Config: kpol.DefaultConfig()}
			if diff := cmp.Diff(tt.want, checks(t, e, tt.obj)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			out, err := admission.Run(context.Background(), tt.obj, e.Webhooks(Request{Object: tt.obj, Operation: "CREATE"}, false))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.answer, answer{out.Allowed, out.Message, out.Warnings, out.Patch}); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImageContext: a failed fetch takes no lock, a hit leaks a read lock, and the first miss
// after one blocks for good.
func TestImageContext(t *testing.T) {
	ctx := context.Background()
	f := &fakeVerifier{}
	ic := newImageContext()
	for i, step := range []struct {
		image string
		want  string // "", "fault" or "deadlock"
	}{
		{"reg/a:1", ""}, {"reg/b:1", ""},
		{"reg/dead:1", "fault"},
		{"reg/a:1", ""}, // a hit: its read lock is never released
		{"reg/a:1", ""}, // read locks still come
		{"reg/c:1", "deadlock"},
		{"reg/a:1", "deadlock"},
	} {
		_, err := ic.get(ctx, f, step.image, verify.Auth{})
		got := ""
		switch {
		case errors.Is(err, errDeadlock):
			got = "deadlock"
		case err != nil:
			got = "fault"
		}
		if got != step.want {
			t.Errorf("step %d: get(%s) = %q (%v), want %q", i, step.image, got, err, step.want)
		}
	}
}
