package sigstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	spol "github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

const (
	digA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// fakeVerifier answers signature checks by (image, key or "keyless"), attestations by image
// (their DSSE payloads), and tags by image.
type fakeVerifier struct {
	sigs    map[string]error // absent: "no signatures found"
	atts    map[string][][]byte
	configs map[string]*v1.ConfigFile
	tags    map[string]string
	seen    []verify.SignatureCheck
}

func (f *fakeVerifier) ConfigFiles(_ context.Context, image string, _ verify.Auth) verify.ConfigFilesResult {
	if cf, ok := f.configs[image]; ok {
		return verify.ConfigFilesResult{Files: map[string]*v1.ConfigFile{"linux/amd64": cf}}
	}
	return verify.ConfigFilesResult{Errs: []error{fmt.Errorf("failed to get ref %s : MANIFEST_UNKNOWN", image)}}
}

func (f *fakeVerifier) VerifyInToto(_ context.Context, c verify.SignatureCheck) (verify.InTotoResult, error) {
	p, ok := f.atts[c.Image]
	if !ok {
		return verify.InTotoResult{}, &verify.FailedError{Err: errors.New("no matching attestations: ")}
	}
	return verify.InTotoResult{Payloads: p}, nil
}

func (f *fakeVerifier) VerifySignature(_ context.Context, c verify.SignatureCheck) (verify.SignatureResult, error) {
	f.seen = append(f.seen, c)
	who := c.PublicKey
	if c.Keyless {
		who = "keyless"
	}
	err, ok := f.sigs[c.Image+" "+who]
	if !ok {
		err = &verify.FailedError{Err: errors.New("no signatures found")}
	}
	if err != nil {
		return verify.SignatureResult{}, err
	}
	return verify.SignatureResult{Signatures: []verify.PolicySignature{{ID: "sig-of-" + who}}}, nil
}

func (f *fakeVerifier) Digest(_ context.Context, image string, _ verify.Auth) (string, error) {
	if d, ok := f.tags[image]; ok {
		return d, nil
	}
	return "", errors.New("MANIFEST_UNKNOWN")
}

// cip is a valid-by-default ClusterImagePolicy: one glob, one key authority "k1".
func cip(name string, edit ...func(*spol.Policy)) *spol.Policy {
	p := &spol.Policy{Name: name, Spec: spol.Spec{
		Images:      []spol.ImagePattern{{Glob: "reg.example/**"}},
		Authorities: []spol.Authority{{Name: "authority-0", Key: &spol.KeyRef{Data: "k1"}}},
		Mode:        "enforce",
	}}
	for _, e := range edit {
		e(p)
	}
	return p
}

func pod(images ...string) map[string]any {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": string(rune('a' + i)), "image": img})
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "team"},
		"spec": map[string]any{"containers": cs}}
}

var includedNS = map[string]string{IncludeLabel: "true", "kubernetes.io/metadata.name": "team"}

func TestAdmission(t *testing.T) {
	signed := "reg.example/app@" + digA
	unsigned := "reg.example/app@" + digB
	sigs := map[string]error{signed + " k1": nil, signed + " keyless": nil}
	noSigs := "signature key validation failed for authority authority-0 for reg.example/app@" + digB + ": no signatures found"
	tests := []struct {
		name     string
		policies []*spol.Policy
		config   spol.Config
		obj      map[string]any
		ns       map[string]string
		enforce  bool
		allowed  bool
		message  string
		warnings []string
	}{
		{name: "signed by the key", policies: []*spol.Policy{cip("c")}, obj: pod(signed), allowed: true},
		{name: "unsigned", policies: []*spol.Policy{cip("c")}, obj: pod(unsigned),
			message: "validation failed: failed policy: c: spec.containers[0].image\n" + unsigned + " " + noSigs},
		{name: "same image twice: paths merged", policies: []*spol.Policy{cip("c")},
			obj: func() map[string]any {
				o := pod(unsigned)
				o["spec"].(map[string]any)["initContainers"] = []any{map[string]any{"name": "init", "image": unsigned}}
				return o
			}(),
			message: "validation failed: failed policy: c: spec.containers[0].image, spec.initContainers[0].image\n" + unsigned + " " + noSigs},
		// The webhook's warning has a line break, and the API server drops warnings with control
		// characters: nothing reaches the client.
		{name: "warn mode", policies: []*spol.Policy{cip("c", func(p *spol.Policy) { p.Spec.Mode = "warn" })}, obj: pod(unsigned), allowed: true},
		{name: "warn mode, enforced", policies: []*spol.Policy{cip("c", func(p *spol.Policy) { p.Spec.Mode = "warn" })}, obj: pod(unsigned), enforce: true,
			message: "validation failed: failed policy: c: spec.containers[0].image\n" + unsigned + " " + noSigs},
		{name: "a tag is not a digest", policies: []*spol.Policy{cip("c")}, obj: pod("reg.example/app:v1"),
			message: "validation failed: invalid value: reg.example/app:v1 must be an image digest: spec.containers[0].image"},
		{name: "a reference that does not parse", policies: []*spol.Policy{cip("c")}, obj: pod("in@valid"),
			message: "validation failed: could not parse reference: in@valid: spec.containers[0].image"},
		{name: "no policy matches: deny by default", config: spol.DefaultConfig(), obj: pod(signed),
			message: "validation failed: no matching policies: spec.containers[0].image\n" + signed},
		{name: "no policy matches: warn", config: spol.Config{NoMatchPolicy: "warn"}, obj: pod(signed), allowed: true},
		{name: "no policy matches: warn, enforced", config: spol.Config{NoMatchPolicy: "warn"}, obj: pod(signed), enforce: true,
			message: "validation failed: no matching policies: spec.containers[0].image\n" + signed},
		{name: "no policy matches: allow", config: spol.Config{NoMatchPolicy: "allow"}, obj: pod(signed), allowed: true},
		{name: "a glob ending in a tag never matches", policies: []*spol.Policy{cip("c", func(p *spol.Policy) { p.Spec.Images[0].Glob = "reg.example/app:*" })},
			config: spol.DefaultConfig(), obj: pod("reg.example/app:v1@" + digA),
			message: "validation failed: no matching policies: spec.containers[0].image\nreg.example/app:v1@" + digA},
		{name: "static pass", policies: []*spol.Policy{cip("c", func(p *spol.Policy) {
			p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Static: &spol.StaticRef{Action: "pass"}}}
		})}, obj: pod(unsigned), allowed: true},
		{name: "static fail without a message", policies: []*spol.Policy{cip("c", func(p *spol.Policy) {
			p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Static: &spol.StaticRef{Action: "fail"}}}
		})}, obj: pod(signed), message: "validation failed: failed policy: c: spec.containers[0].image\n" + signed + " disallowed by static policy: "},
		{name: "every matching policy must pass", policies: []*spol.Policy{cip("a"), cip("b", func(p *spol.Policy) {
			p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Static: &spol.StaticRef{Action: "fail", Message: "no"}}}
		})}, obj: pod(signed), message: "validation failed: failed policy: b: spec.containers[0].image\n" + signed + " disallowed by static policy: no"},
		{name: "one authority is enough", policies: []*spol.Policy{cip("c", func(p *spol.Policy) {
			p.Spec.Authorities = append([]spol.Authority{{Name: "other", Key: &spol.KeyRef{Data: "k2"}}}, p.Spec.Authorities...)
		})}, obj: pod(signed), allowed: true},
		{name: "keyless with a CA certificate only", policies: []*spol.Policy{cip("c", func(p *spol.Policy) {
			p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Keyless: &spol.KeylessRef{CACert: &spol.KeyRef{Data: "x"}}}}
		})}, obj: pod(signed), message: "validation failed: failed policy: c: spec.containers[0].image\n" + signed + " no Keyless URL specified"},
		{name: "key authority with the bundle format", policies: []*spol.Policy{cip("c", func(p *spol.Policy) { p.Spec.Authorities[0].SignatureFormat = "bundle" })},
			obj: pod(signed), message: "validation failed: failed policy: c: spec.containers[0].image\n" + signed + " constructing checkOpts for authority-0: when using the new bundle format, the authority must be keyless"},
		{name: "a key that was never inlined", policies: []*spol.Policy{cip("c", func(p *spol.Policy) { p.Spec.Authorities[0].Key.Data = "" })},
			obj: pod(signed), message: "validation failed: failed policy: c: spec.containers[0].image\n" + signed + " there are no public keys for authority authority-0"},
		{name: "namespace not opted in", policies: []*spol.Policy{cip("c")}, obj: pod(unsigned), ns: map[string]string{}, allowed: true},
		{name: "namespace excluded by knative's label", policies: []*spol.Policy{cip("c")}, obj: pod(unsigned),
			ns: map[string]string{IncludeLabel: "true", excludeLabel: "x"}, allowed: true},
		{name: "match selects by resource and label", policies: []*spol.Policy{cip("c", func(p *spol.Policy) {
			p.Spec.Match = []spol.MatchResource{{Version: "v1", Resource: "pods", Selector: &spol.LabelSelector{MatchLabels: map[string]string{"test": "test"}}}}
		})}, config: spol.Config{NoMatchPolicy: "allow"}, obj: pod(unsigned), allowed: true},
		// errorsToFieldErrors's quirks (spec §6.3): w's warning entry downgrades a's error to a
		// warning, and the leaked hasErrors adds an error entry for w whose details are the
		// image alone; that is what denies.
		{name: "a warn failure and an enforce failure: denied", policies: []*spol.Policy{cip("a"), cip("w", func(p *spol.Policy) { p.Spec.Mode = "warn" })},
			obj: pod(unsigned), message: "validation failed: failed policy: w: spec.containers[0].image\n" + unsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config
			if cfg.NoMatchPolicy == "" {
				cfg = spol.DefaultConfig()
			}
			ns := tt.ns
			if ns == nil {
				ns = includedNS
			}
			e := &Engine{Policies: tt.policies, Config: cfg, Verifier: &fakeVerifier{sigs: sigs}, Active: true}
			out, err := admission.Run(context.Background(), tt.obj, e.Webhooks(Request{Object: tt.obj, Operation: "CREATE", NamespaceLabels: ns}, tt.enforce))
			if err != nil {
				t.Fatal(err)
			}
			if out.Allowed != tt.allowed {
				t.Errorf("allowed = %v (%q), want %v", out.Allowed, out.Message, tt.allowed)
			}
			if tt.message != "" && out.Message != `admission webhook "policy.sigstore.dev" denied the request: `+tt.message {
				t.Errorf("message =\n%q\nwant\n%q", out.Message, tt.message)
			}
			if d := cmp.Diff(tt.warnings, out.Warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestResolve: the mutating webhook pins tags as `<full name>:<tag>@<digest>` and leaves
// digests alone; a tag that does not resolve is left for validation to refuse.
func TestResolve(t *testing.T) {
	v := &fakeVerifier{tags: map[string]string{"index.docker.io/library/nginx:latest": digA, "reg.example/app:v1": digB}}
	e := &Engine{Config: spol.Config{NoMatchPolicy: "allow"}, Verifier: v, Active: true}
	run := func(obj map[string]any) admission.Outcome {
		out, err := admission.Run(context.Background(), obj, e.Webhooks(Request{Object: obj, Operation: "CREATE", NamespaceLabels: includedNS}, false))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := run(pod("nginx", "reg.example/app:v1", "reg.example/app@"+digA))
	var got []string
	for _, p := range out.Patch {
		got = append(got, p.Path+"="+p.Value.(string))
	}
	want := []string{"/spec/containers/0/image=index.docker.io/library/nginx:latest@" + digA, "/spec/containers/1/image=reg.example/app:v1@" + digB}
	if d := cmp.Diff(want, got); d != "" || !out.Allowed {
		t.Errorf("allowed %v (%s), patch (-want +got):\n%s", out.Allowed, out.Message, d)
	}
	out = run(pod("reg.example/gone:v1"))
	if msg := `admission webhook "policy.sigstore.dev" denied the request: validation failed: invalid value: reg.example/gone:v1 must be an image digest: spec.containers[0].image`; out.Message != msg {
		t.Errorf("message = %q, want %q", out.Message, msg)
	}
}

func TestScaleDown(t *testing.T) {
	deploy := func(replicas float64) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d", "namespace": "team"},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "reg.example/app@" + digB}}}}}}
	}
	e := &Engine{Policies: []*spol.Policy{cip("c")}, Config: spol.DefaultConfig(), Verifier: &fakeVerifier{}, Active: true}
	for _, tc := range []struct {
		name     string
		old, new float64
		allowed  bool
	}{{"scale down is not validated", 5, 1, true}, {"scale up is", 1, 5, false}} {
		t.Run(tc.name, func(t *testing.T) {
			obj := deploy(tc.new)
			out, err := admission.Run(context.Background(), obj, e.Webhooks(Request{Object: obj, OldObject: deploy(tc.old), Operation: "UPDATE", NamespaceLabels: includedNS}, false))
			if err != nil {
				t.Fatal(err)
			}
			if out.Allowed != tc.allowed {
				t.Errorf("allowed = %v (%s), want %v", out.Allowed, out.Message, tc.allowed)
			}
		})
	}
}

// envelope is a DSSE envelope as cosign stores an attestation: the statement base64-encoded.
func envelope(t *testing.T, predicateType string, predicate map[string]any) []byte {
	t.Helper()
	st, err := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicateType,
		"subject": []any{map[string]any{"name": "reg.example/app", "digest": map[string]any{"sha256": strings.TrimPrefix(digA, "sha256:")}}}, "predicate": predicate})
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{"payloadType": "application/vnd.in-toto+json", "payload": base64.StdEncoding.EncodeToString(st), "signatures": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestAttestations is spec §8.1 rows 23-26: attestations of a predicate type, with CUE and
// Rego policies, through the webhook's texts.
func TestAttestations(t *testing.T) {
	img := "reg.example/app@" + digA
	custom := envelope(t, "https://cosign.sigstore.dev/attestation/v1", map[string]any{"Data": "X", "Timestamp": ""})
	vuln := envelope(t, "https://cosign.sigstore.dev/attestation/vuln/v1", map[string]any{"scanner": map[string]any{"uri": "x"}})
	withAtt := func(att spol.Attestation) *spol.Policy {
		return cip("c", func(p *spol.Policy) { p.Spec.Authorities[0].Attestations = []spol.Attestation{att} })
	}
	cue := &spol.PolicyRef{Type: "cue", Data: `predicate: Data: "X"`}
	rego := &spol.PolicyRef{Type: "rego", Data: "package sigstore\nisCompliant { input.predicate.Data == \"Y\" }"}
	tests := []struct {
		name   string
		policy *spol.Policy
		atts   map[string][][]byte
		fail   string // the authority's error; "" passes
	}{
		{"no attestation at all", withAtt(spol.Attestation{Name: "a", PredicateType: "custom", Policy: cue}), nil,
			"attestation key validation failed for authority authority-0 for " + img + ": no matching attestations: "},
		{"custom attestation meeting its CUE policy", withAtt(spol.Attestation{Name: "a", PredicateType: "custom", Policy: cue}),
			map[string][][]byte{img: {custom}}, ""},
		{"only another type", withAtt(spol.Attestation{Name: "a", PredicateType: "custom"}), map[string][][]byte{img: {vuln}},
			`no matching attestations with type custom, checked the following predicateTypes: "https://cosign.sigstore.dev/attestation/vuln/v1"`},
		{"a Rego policy not met", withAtt(spol.Attestation{Name: "custom-match-predicate", PredicateType: "custom", Policy: rego}), map[string][][]byte{img: {custom}},
			"failed evaluating rego policy for type custom-match-predicate: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'"},
		{"one of several attestations meets it", withAtt(spol.Attestation{Name: "a", PredicateType: "custom", Policy: cue}),
			map[string][][]byte{img: {envelope(t, "https://cosign.sigstore.dev/attestation/v1", map[string]any{"Data": "Z"}), custom}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{Policies: []*spol.Policy{tt.policy}, Config: spol.DefaultConfig(), Verifier: &fakeVerifier{atts: tt.atts}, Active: true}
			obj := pod(img)
			out, err := admission.Run(context.Background(), obj, e.Webhooks(Request{Object: obj, Operation: "CREATE", NamespaceLabels: includedNS}, false))
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail == "" {
				if !out.Allowed {
					t.Errorf("denied: %s", out.Message)
				}
				return
			}
			want := `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: c: spec.containers[0].image` + "\n" + img + " " + tt.fail
			if out.Message != want {
				t.Errorf("message =\n%q\nwant\n%q", out.Message, want)
			}
		})
	}
}

// TestPolicyLevel is spec §8.1 rows 7 and 27-29: the ClusterImagePolicy's own policy over the
// passing authorities' matches and what it includes of the object.
func TestPolicyLevel(t *testing.T) {
	img := "reg.example/app@" + digA
	yes := true
	withPolicy := func(pol spol.PolicyRef, static bool) *spol.Policy {
		return cip("c", func(p *spol.Policy) {
			if static {
				p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Static: &spol.StaticRef{Action: "pass"}}}
			}
			p.Spec.Policy = &pol
		})
	}
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "j", "namespace": "team"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": img}}}}}}
	withLabel := pod(img)
	withLabel["metadata"].(map[string]any)["labels"] = map[string]any{"foo": "bar"}
	tests := []struct {
		name   string
		policy *spol.Policy
		obj    map[string]any
		path   string
		fail   string
	}{
		{"a policy that does not compile", withPolicy(spol.PolicyRef{Type: "cue", Data: `{"wontgo`}, false), pod(img), "spec.containers[0].image",
			"failed evaluating cue policy for ClusterImagePolicy: failed to compile the cue policy with error: string literal not terminated"},
		{"typemeta: a Pod has none", withPolicy(spol.PolicyRef{Type: "cue", Data: `typemeta: kind: "Pod"`, IncludeTypeMeta: &yes}, true), pod(img), "", ""},
		{"typemeta: a Job", withPolicy(spol.PolicyRef{Type: "cue", Data: `typemeta: kind: "Pod"`, IncludeTypeMeta: &yes}, true), job, "spec.template.spec.containers[0].image",
			`failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: typemeta.kind: conflicting values "Job" and "Pod"`},
		{"object metadata", withPolicy(spol.PolicyRef{Type: "cue", Data: `metadata: labels: foo: "non-bar"`, IncludeObjectMeta: &yes}, true), withLabel, "spec.containers[0].image",
			`failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: metadata.labels.foo: conflicting values "bar" and "non-bar"`},
		{"the image's config file", withPolicy(spol.PolicyRef{Type: "cue", Data: `config: "linux/amd64": config: User: "55554"`, FetchConfigFile: &yes}, true), pod(img), "spec.containers[0].image",
			`failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: config."linux/amd64".config.User: conflicting values "root" and "55554"`},
		{"the matches: one signature by the key", withPolicy(spol.PolicyRef{Type: "rego", Data: "package sigstore\nisCompliant { count(input.authorityMatches[\"authority-0\"].signatures) == 1 }"}, false), pod(img), "", ""},
		{"the matches: two signatures wanted", withPolicy(spol.PolicyRef{Type: "rego", Data: "package sigstore\nisCompliant { count(input.authorityMatches[\"authority-0\"].signatures) == 2 }"}, false), pod(img), "spec.containers[0].image",
			"failed evaluating rego policy for type ClusterImagePolicy: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{sigs: map[string]error{img + " k1": nil}, configs: map[string]*v1.ConfigFile{img: {OS: "linux", Architecture: "amd64", Config: v1.Config{User: "root"}}}}
			e := &Engine{Policies: []*spol.Policy{tt.policy}, Config: spol.DefaultConfig(), Verifier: v, Active: true}
			out, err := admission.Run(context.Background(), tt.obj, e.Webhooks(Request{Object: tt.obj, Operation: "CREATE", NamespaceLabels: includedNS}, false))
			if err != nil {
				t.Fatal(err)
			}
			if tt.fail == "" {
				if !out.Allowed {
					t.Errorf("denied: %s", out.Message)
				}
				return
			}
			want := `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: c: ` + tt.path + "\n" + img + " " + tt.fail
			if out.Message != want {
				t.Errorf("message =\n%q\nwant\n%q", out.Message, want)
			}
		})
	}
}

// TestUnknownNamespace: when the namespace's labels could not be read, whether policy-controller
// looks at the object is unknown: a tool-caused error, failing closed as the webhook would.
func TestUnknownNamespace(t *testing.T) {
	e := &Engine{Policies: []*spol.Policy{cip("c")}, Config: spol.DefaultConfig(), Verifier: &fakeVerifier{}, Active: true}
	obj := pod("reg.example/app@" + digA)
	req := Request{Object: obj, Operation: "CREATE", NamespaceLabels: map[string]string{}, NamespaceUnknown: "namespaces is forbidden"}
	out, err := e.Checks(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Checks) != 1 || out.Checks[0].Result != "error" || !strings.HasPrefix(out.Checks[0].Message, "kubectl-verify: ") || len(out.NotChecked) != 0 {
		t.Fatalf("checks %+v, not checked %+v: want one tool-caused error", out.Checks, out.NotChecked)
	}
	res, err := admission.Run(context.Background(), obj, e.Webhooks(req, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Allowed {
		t.Error("allowed: an unknown namespace must fail closed")
	}
}

// TestTrustRootRefs: a trustRootRef the webhook's compiled keys lack, worded as the webhook
// words it, whether it has no keys at all or not that name.
func TestTrustRootRefs(t *testing.T) {
	img := "reg.example/app@" + digA
	keyless := cip("c", func(p *spol.Policy) {
		p.Spec.Authorities = []spol.Authority{{Name: "authority-0", Keyless: &spol.KeylessRef{URL: "https://fulcio.example", TrustRootRef: "mine",
			Identities: []spol.Identity{{Issuer: "i", Subject: "s"}}}}}
	})
	for _, tc := range []struct {
		name  string
		roots map[string]*spol.TrustRoot
		want  string
	}{
		{"no TrustRoot at all", nil, "constructing checkOpts for authority-0: getting Fulcio certs: authority-0: getting SigstoreKeys: trustRootRef mine not found, SigstoreKeys missing"},
		{"another TrustRoot", map[string]*spol.TrustRoot{"other": {Name: "other"}}, "constructing checkOpts for authority-0: getting Fulcio certs: authority-0: trustRootRef mine not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{Policies: []*spol.Policy{keyless}, Config: spol.DefaultConfig(), TrustRoots: tc.roots, Verifier: &fakeVerifier{}, Active: true}
			obj := pod(img)
			out, err := admission.Run(context.Background(), obj, e.Webhooks(Request{Object: obj, Operation: "CREATE", NamespaceLabels: includedNS}, false))
			if err != nil {
				t.Fatal(err)
			}
			if want := "failed policy: c: spec.containers[0].image\n" + img + " " + tc.want; !strings.HasSuffix(out.Message, want) {
				t.Errorf("message =\n%q\nwant it to end in\n%q", out.Message, want)
			}
		})
	}
}
