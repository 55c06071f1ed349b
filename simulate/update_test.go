package simulate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// countingVerifier finds no signature on any image and resolves every tag to one digest; it
// counts the registry requests the engine would make.
type countingVerifier struct {
	mu               sync.Mutex
	signed           map[string]string // image -> digest its signature names
	verified, digest int
}

// ConfigFiles: no Sigstore policy in these tests.
func (v *countingVerifier) ConfigFiles(context.Context, string, verify.Auth) verify.ConfigFilesResult {
	return verify.ConfigFilesResult{Errs: []error{errors.New("no config files here")}}
}

// VerifyInToto: no Sigstore policy in these tests.
func (v *countingVerifier) VerifyInToto(context.Context, verify.SignatureCheck) (verify.InTotoResult, error) {
	return verify.InTotoResult{}, errors.New("no attestations here")
}

// VerifyKubewardenKeys: no Kubewarden policy in these tests.
func (v *countingVerifier) VerifyKubewardenKeys(context.Context, verify.KubewardenKeyCheck) (verify.KubewardenResult, error) {
	return verify.KubewardenResult{}, errors.New("no Kubewarden policy here")
}

// VerifyKubewardenKeyless: no Kubewarden policy in these tests.
func (v *countingVerifier) VerifyKubewardenKeyless(context.Context, verify.KubewardenKeylessCheck) (verify.KubewardenResult, error) {
	return verify.KubewardenResult{}, errors.New("no Kubewarden policy here")
}

// VerifyKubewardenCertificate: no Kubewarden policy in these tests.
func (v *countingVerifier) VerifyKubewardenCertificate(context.Context, verify.KubewardenCertificateCheck) (verify.KubewardenResult, error) {
	return verify.KubewardenResult{}, errors.New("no Kubewarden policy here")
}

func (v *countingVerifier) VerifySignature(_ context.Context, c verify.SignatureCheck) (verify.SignatureResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.verified++
	if d, ok := v.signed[c.Image]; ok {
		return verify.SignatureResult{Digest: d}, nil
	}
	return verify.SignatureResult{}, &verify.FailedError{Err: errors.New("no signatures found")}
}

func (v *countingVerifier) VerifyAttestations(context.Context, verify.AttestationCheck) (verify.AttestationResult, error) {
	return verify.AttestationResult{}, errors.New("not asked")
}

func (v *countingVerifier) VerifyBundles(context.Context, verify.BundleCheck) (verify.BundleResult, error) {
	return verify.BundleResult{}, errors.New("not asked")
}

func (v *countingVerifier) HasBundles(context.Context, string, string, verify.Auth) bool {
	return false
}

func (v *countingVerifier) Digest(context.Context, string, verify.Auth) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.digest++
	return digestD, nil
}

var (
	digestD = "sha256:" + strings.Repeat("d", 64)
	digestE = "sha256:" + strings.Repeat("e", 64)
	// pinned is the image as Kyverno leaves it after a CREATE; canonical is how Kyverno names
	// it (tag dropped) in messages and annotations.
	pinned    = "reg.example/app:v1@" + digestD
	canonical = "reg.example/app@" + digestD
)

// updatePolicy is a ClusterPolicy with one key-attested rule; entry adds fields to its entry
// and match replaces the resource filter.
func updatePolicy(t *testing.T, name, entry, match string) *kpol.Policy {
	t.Helper()
	if match == "" {
		match = `{"kinds":["Pod"]}`
	}
	raw := fmt.Sprintf(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":%q},"spec":{"rules":[{"name":"check-image",
	"match":{"any":[{"resources":%s}]},"verifyImages":[{"failureAction":"Enforce","imageReferences":["reg.example/*"]%s,
	"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://keys/cosign","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`, name, match, entry)
	p, err := kpol.Parse([]byte(raw), "test", "default")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scoped is a kyverno.io/verify-images-scoped value: policy key -> rule -> image -> status.
func scoped(t *testing.T, policies map[string]map[string]map[string]string) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Version  int                                     `json:"version"`
		Policies map[string]map[string]map[string]string `json:"policies"`
	}{1, policies})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func passFor(policy, rule, image, status string) map[string]map[string]map[string]string {
	return map[string]map[string]map[string]string{"/" + policy: {rule: {image: status}}}
}

// pod is a Pod manifest object with one container.
func pod(t *testing.T, image string, annotations map[string]string) manifest.Object {
	t.Helper()
	meta := map[string]any{"name": "web", "namespace": "default"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(b, "pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return objs[0]
}

type checkLine struct{ Policy, Result, Message string }

func checkLines(cs []report.Check) []checkLine {
	var out []checkLine
	for _, c := range cs {
		out = append(out, checkLine{c.Policy, c.Result, c.Message})
	}
	return out
}

// TestUpdate replays Kyverno's UPDATE handling of verifyImages (spec/kyverno.md §4.1 step 1,
// §4.2, §4.5). The verifier finds no signature anywhere, so a pass can only come from the
// old object's evidence.
func TestUpdate(t *testing.T) {
	key := simulate.ObjectKey("v1", "Pod", "default", "web")
	passEvidence := func(status string) map[string]string {
		return map[string]string{"kyverno.io/verify-images-scoped": scoped(t, passFor("check-image", "check-image", canonical, status))}
	}
	failedVerification := []checkLine{
		{"check-image", "fail", "failed to verify image " + canonical + ": .attestors[0].entries[0].keys: no signatures found"},
		{"check-image", "fail", "unverified image " + canonical},
	}
	tests := []struct {
		name        string
		policy      string // more fields of the policy's entry
		match       string
		op          string
		obj         manifest.Object
		old         *manifest.Object
		fromCluster bool
		signed      bool

		wantDecision   string
		wantChecks     []checkLine
		wantVerified   bool // a signature check reached the verifier
		wantDigest     bool // a tag was resolved
		wantPatch      []report.PatchOp
		wantNotChecked []string // reasons
	}{
		{
			name: "unchanged image with scoped pass: not verified again",
			op:   "UPDATE", obj: pod(t, pinned, passEvidence("pass")),
			wantDecision: report.Allow,
			wantChecks:   []checkLine{{"check-image", "pass", "image verified"}},
			wantPatch: []report.PatchOp{
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"` + canonical + `":"pass"}`},
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: scoped(t, passFor("check-image", "check-image", canonical, "pass"))},
			},
		},
		{
			name: "a skip recorded before comes back as pass",
			op:   "UPDATE", obj: pod(t, pinned, passEvidence("skip")),
			wantDecision: report.Allow,
			wantChecks:   []checkLine{{"check-image", "pass", "image verified"}},
			wantPatch: []report.PatchOp{
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"` + canonical + `":"pass"}`},
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: scoped(t, passFor("check-image", "check-image", canonical, "pass"))},
			},
		},
		{
			name: "CREATE of the same object from a file verifies",
			op:   "CREATE", obj: pod(t, pinned, passEvidence("pass")),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "image changed: verified again",
			op:   "UPDATE", obj: pod(t, pinned, nil),
			old:          ptr(pod(t, "reg.example/app:v1@"+digestE, passEvidence("pass"))),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "evidence of another policy",
			op:   "UPDATE", obj: pod(t, pinned, map[string]string{"kyverno.io/verify-images-scoped": scoped(t, passFor("other", "check-image", canonical, "pass"))}),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "evidence of another rule",
			op:   "UPDATE", obj: pod(t, pinned, map[string]string{"kyverno.io/verify-images-scoped": scoped(t, passFor("check-image", "other", canonical, "pass"))}),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "evidence of another image form",
			op:   "UPDATE", obj: pod(t, pinned, passEvidence("pass")),
			old:          ptr(pod(t, pinned, map[string]string{"kyverno.io/verify-images-scoped": scoped(t, passFor("check-image", "check-image", "reg.example/app:v1", "pass"))})),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "only the unscoped annotation (before v1.19): verified again",
			op:   "UPDATE", obj: pod(t, pinned, map[string]string{"kyverno.io/verify-images": `{"` + canonical + `":"pass"}`}),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "old records fail",
			op:   "UPDATE", obj: pod(t, pinned, passEvidence("fail")),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "the new object's evidence does not count, the old object's does",
			op:   "UPDATE", obj: pod(t, pinned, passEvidence("pass")),
			old:          ptr(pod(t, pinned, nil)),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
		{
			name: "unchanged tag: not verified, not pinned, so the digest check fails",
			op:   "UPDATE", obj: pod(t, "reg.example/app:v1", map[string]string{"kyverno.io/verify-images-scoped": scoped(t, passFor("check-image", "check-image", "reg.example/app:v1", "pass"))}),
			wantDecision: report.Deny,
			wantChecks:   []checkLine{{"check-image", "fail", "missing digest for reg.example/app:v1"}},
		},
		{
			name: "changed tag: verified and pinned",
			op:   "UPDATE", obj: pod(t, "reg.example/app:v1", nil), old: ptr(pod(t, "reg.example/app:v0", nil)),
			signed:       true,
			wantDecision: report.Allow,
			wantChecks: []checkLine{
				{"check-image", "pass", "image verified"},
				{"check-image", "pass", "verified image signatures for reg.example/app:v1"},
			},
			wantVerified: true,
			wantPatch: []report.PatchOp{
				{Op: "add", Path: "/metadata/annotations", Value: map[string]any{}},
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"` + canonical + `":"pass"}`},
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: scoped(t, passFor("check-image", "check-image", canonical, "pass"))},
				{Op: "replace", Path: "/spec/containers/0/image", Value: pinned},
			},
		},
		{
			name:   "no validating checks: the image is previously-verified, not checked",
			policy: `,"verifyDigest":false,"required":false`,
			op:     "UPDATE", obj: pod(t, pinned, passEvidence("pass")),
			wantDecision: report.Allow,
			wantPatch: []report.PatchOp{
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"` + canonical + `":"pass"}`},
				{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: scoped(t, passFor("check-image", "check-image", canonical, "pass"))},
			},
			wantNotChecked: []string{report.ReasonPreviouslyVerified},
		},
		{
			name:  "rule for CREATE only: an UPDATE does not match",
			match: `{"kinds":["Pod"],"operations":["CREATE"]}`,
			op:    "UPDATE", obj: pod(t, "reg.example/app:v1", nil), old: ptr(pod(t, "reg.example/app:v0", nil)),
			wantDecision: report.Allow, wantNotChecked: []string{report.ReasonNoMatchingPolicy},
		},
		{
			name:  "rule for UPDATE only: a CREATE does not match",
			match: `{"kinds":["Pod"],"operations":["UPDATE"]}`,
			op:    "CREATE", obj: pod(t, "reg.example/app:v1", nil),
			wantDecision: report.Allow, wantNotChecked: []string{report.ReasonNoMatchingPolicy},
		},
		{
			name:  "rule for UPDATE only: an UPDATE matches",
			match: `{"kinds":["Pod"],"operations":["UPDATE"]}`,
			op:    "UPDATE", obj: pod(t, pinned, nil), old: ptr(pod(t, pinned, nil)),
			wantDecision: report.Deny, wantChecks: failedVerification, wantVerified: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &countingVerifier{signed: map[string]string{}}
			if tc.signed {
				v.signed["reg.example/app:v1"] = digestD
			}
			cfg := simulate.Config{
				Kyverno: []*kpol.Policy{updatePolicy(t, "check-image", tc.policy, tc.match)}, KyvernoConfig: kyverno.DefaultConfig(),
				Resources: []manifest.Object{tc.obj}, Operation: tc.op, Verifier: v, FromCluster: tc.fromCluster,
			}
			if tc.op == "UPDATE" {
				old := tc.obj
				if tc.old != nil {
					old = *tc.old
				}
				cfg.OldObjects = map[string]map[string]any{key: old.Obj}
			}
			rep, _, err := simulate.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if r.Decision != tc.wantDecision {
				t.Errorf("decision = %s (%s), want %s", r.Decision, r.Message, tc.wantDecision)
			}
			if d := cmp.Diff(tc.wantChecks, checkLines(r.Checks)); d != "" {
				t.Errorf("checks (-want +got):\n%s", d)
			}
			if (v.verified > 0) != tc.wantVerified {
				t.Errorf("signature checks made: %d, want any: %t", v.verified, tc.wantVerified)
			}
			if (v.digest > 0) != tc.wantDigest {
				t.Errorf("tags resolved: %d, want any: %t", v.digest, tc.wantDigest)
			}
			if tc.wantPatch == nil {
				tc.wantPatch = []report.PatchOp{}
			}
			if r.Decision == report.Allow {
				if d := cmp.Diff(tc.wantPatch, r.Patch); d != "" {
					t.Errorf("patch (-want +got):\n%s", d)
				}
			}
			var reasons []string
			for _, nc := range r.NotChecked {
				reasons = append(reasons, nc.Reason)
			}
			if d := cmp.Diff(tc.wantNotChecked, reasons); d != "" {
				t.Errorf("notChecked reasons (-want +got):\n%s", d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestCreateReplayOfLiveObjects: a live object replayed as a CREATE loses Kyverno's verify
// annotations first (spec/kyverno.md §4.5), so it is judged as a fresh object would be: the
// same answer as the manifest without them, and evidence on it counts for nothing.
func TestCreateReplayOfLiveObjects(t *testing.T) {
	evidence := map[string]string{
		"kyverno.io/verify-images":        `{"` + canonical + `":"pass"}`,
		"kyverno.io/verify-images-scoped": scoped(t, passFor("check-image", "check-image", canonical, "pass")),
	}
	withOther := map[string]string{"team": "a"}
	for k, v := range evidence {
		withOther[k] = v
	}
	tests := []struct {
		name        string
		live        manifest.Object
		fresh       manifest.Object // the same object as a fresh manifest
		policyEntry string
		// annotationsMatter: the same object from a file (annotations kept) gets another answer.
		annotationsMatter bool
	}{
		// The patch adds the annotations map again.
		{name: "only Kyverno's annotations", live: pod(t, pinned, evidence), fresh: pod(t, pinned, nil), annotationsMatter: true},
		{name: "other annotations stay", live: pod(t, pinned, withOther), fresh: pod(t, pinned, map[string]string{"team": "a"})},
		// required with no attestors never writes evidence: kept annotations would pass it.
		{name: "required without attestors", live: pod(t, pinned, evidence), fresh: pod(t, pinned, nil), policyEntry: "no-attestors", annotationsMatter: true},
	}
	run := func(t *testing.T, policy *kpol.Policy, obj manifest.Object, fromCluster bool) report.Result {
		t.Helper()
		rep, _, err := simulate.Run(context.Background(), simulate.Config{
			Kyverno: []*kpol.Policy{policy}, KyvernoConfig: kyverno.DefaultConfig(), Resources: []manifest.Object{obj},
			Operation: "CREATE", Verifier: &countingVerifier{signed: map[string]string{canonical: digestD}}, FromCluster: fromCluster,
		})
		if err != nil {
			t.Fatal(err)
		}
		r := rep.Results[0]
		r.Resource.Source = ""
		return r
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy := updatePolicy(t, "check-image", "", "")
			if tc.policyEntry == "no-attestors" {
				raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"check-image"},"spec":{"rules":[{"name":"check-image",
				"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"verifyImages":[{"failureAction":"Enforce","imageReferences":["reg.example/*"]}]}]}}`
				var err error
				if policy, err = kpol.Parse([]byte(raw), "test", "default"); err != nil {
					t.Fatal(err)
				}
			}
			want := run(t, policy, tc.fresh, false)
			got := run(t, policy, tc.live, true)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("live object replayed as CREATE differs from the fresh manifest (-fresh +live):\n%s", d)
			}
			asFile := run(t, policy, tc.live, false)
			if cmp.Equal(asFile, got) == tc.annotationsMatter {
				t.Errorf("from a file, with the annotations kept: the same answer = %t, want %t: %+v", cmp.Equal(asFile, got), !tc.annotationsMatter, asFile)
			}
		})
	}
}

// TestUpdateTwoPoliciesLive: the next update of a live object both policies verified. In
// admission both policies see the live object as the old object, find their evidence and
// admit it without a check. `kyverno apply` (request.operation UPDATE) rebuilds the old object
// from the resource the previous policy patched, and each policy's annotation patch replaces
// the other's evidence: the second policy verifies again (and fails here), and the first one's
// validating phase finds no evidence (cmd/cli/kubectl-kyverno/processor/policy_processor.go).
func TestUpdateTwoPoliciesLive(t *testing.T) {
	both := map[string]map[string]map[string]string{
		"/policy-a": {"check-image": {canonical: "pass"}},
		"/policy-b": {"check-image": {canonical: "pass"}},
	}
	live := pod(t, pinned, map[string]string{"kyverno.io/verify-images-scoped": scoped(t, both)})
	v := &countingVerifier{signed: map[string]string{}}
	rep, _, err := simulate.Run(context.Background(), simulate.Config{
		Kyverno:       []*kpol.Policy{updatePolicy(t, "policy-a", "", ""), updatePolicy(t, "policy-b", "", "")},
		KyvernoConfig: kyverno.DefaultConfig(), Resources: []manifest.Object{live}, Operation: "UPDATE", Verifier: v,
		OldObjects: map[string]map[string]any{simulate.ObjectKey("v1", "Pod", "default", "web"): live.Obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Decision != report.Allow {
		t.Errorf("admission: decision %s (%s), want allow", r.Decision, r.Message)
	}
	wantPatch := []report.PatchOp{
		{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images", Value: `{"` + canonical + `":"pass"}`},
		{Op: "add", Path: "/metadata/annotations/kyverno.io~1verify-images-scoped", Value: scoped(t, both)},
	}
	if d := cmp.Diff(wantPatch, r.Patch); d != "" {
		t.Errorf("admission patch: merged evidence of both policies (-want +got):\n%s", d)
	}
	wantChecks := []checkLine{
		{"policy-a", "fail", "unverified image " + canonical},
		{"policy-b", "fail", "failed to verify image " + canonical + ": .attestors[0].entries[0].keys: no signatures found"},
		{"policy-b", "fail", "unverified image " + canonical},
	}
	if d := cmp.Diff(wantChecks, checkLines(r.Checks)); d != "" {
		t.Errorf("checks, as kyverno apply lists them (-want +got):\n%s", d)
	}
}

// TestUpdateNeedsOldObject: an UPDATE without its old object is the caller's error, named.
func TestUpdateNeedsOldObject(t *testing.T) {
	tests := []struct {
		name    string
		op      string
		old     map[string]map[string]any
		wantErr string
	}{
		{name: "no old objects", op: "UPDATE", wantErr: "Pod default/web: UPDATE needs the old object"},
		{name: "old object of another namespace", op: "UPDATE", old: map[string]map[string]any{simulate.ObjectKey("v1", "Pod", "other", "web"): {}}, wantErr: "Pod default/web: UPDATE needs the old object"},
		{name: "unknown operation", op: "DELETE", wantErr: `operation "DELETE" is not replayed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := simulate.Run(context.Background(), simulate.Config{
				Kyverno: []*kpol.Policy{updatePolicy(t, "check-image", "", "")}, KyvernoConfig: kyverno.DefaultConfig(),
				Resources: []manifest.Object{pod(t, pinned, nil)}, Operation: tc.op, OldObjects: tc.old, Verifier: &countingVerifier{},
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestProgressCounts: the progress counters end with every resource collected and every
// image verified.
func TestProgressCounts(t *testing.T) {
	counts := &simulate.Progress{}
	_, _, err := simulate.Run(context.Background(), simulate.Config{
		Kyverno: []*kpol.Policy{updatePolicy(t, "check-image", "", "")}, KyvernoConfig: kyverno.DefaultConfig(),
		Resources: []manifest.Object{pod(t, pinned, nil)}, Verifier: &countingVerifier{signed: map[string]string{}}, Progress: counts,
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Resources.Load() != 1 || counts.ImagesTotal.Load() != 1 || counts.ImagesDone.Load() != 1 {
		t.Errorf("progress %d resources, %d/%d images; want 1, 1/1", counts.Resources.Load(), counts.ImagesDone.Load(), counts.ImagesTotal.Load())
	}
}
