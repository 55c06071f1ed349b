package kyverno

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// fakeConfigMaps is a cluster's ConfigMaps by namespace/name; reads records what was asked.
type fakeConfigMaps struct {
	objects   map[string]map[string]any
	forbidden bool
	reads     []string
}

func (f *fakeConfigMaps) ConfigMap(_ context.Context, namespace, name string) (map[string]any, error) {
	f.reads = append(f.reads, namespace+"/"+name)
	if f.forbidden {
		return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, name, nil)
	}
	if o, ok := f.objects[namespace+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeConfigMaps) Forbidden(err error) bool { return apierrors.IsForbidden(err) }

func TestConfigMapContext(t *testing.T) {
	keysCM := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "keys", "namespace": "kyverno"}, "data": map[string]any{"key": "k8s://kyverno/cosign"}}
	const keyPath = "/verifyImages/0/attestors/0/entries/0/keys/publicKeys"
	tests := []struct {
		name       string
		namespace  string // the policy's (a namespaced Policy)
		ref        string // the context entry's configMap, as JSON
		publicKeys string
		cluster    *fakeConfigMaps // nil: the run reads no cluster
		wantKey    string
		wantMsg    string // the rule's error; a tool error is matched by prefix
		wantReads  []string
	}{
		{name: "key from the ConfigMap", ref: `{"name":"keys","namespace":"kyverno"}`, publicKeys: "{{ cm.data.key }}",
			cluster: &fakeConfigMaps{objects: map[string]map[string]any{"kyverno/keys": keysCM}}, wantKey: "k8s://kyverno/cosign", wantReads: []string{"kyverno/keys"}},
		{name: "name and namespace from variables, namespace defaulted for a ClusterPolicy", ref: `{"name":"{{ request.object.metadata.name }}"}`, publicKeys: "{{ cm.data.key }}",
			cluster: &fakeConfigMaps{}, wantReads: []string{"default/pod"},
			wantMsg: `failed to substitute variables: failed to resolve cm.data.key at path ` + keyPath + `: failed to retrieve config map for context entry cm: failed to get configmap default/pod : configmaps "pod" not found`},
		{name: "a namespaced Policy reads its own namespace by default", namespace: "team", ref: `{"name":"keys"}`, publicKeys: "{{ cm.data.key }}",
			cluster: &fakeConfigMaps{}, wantReads: []string{"team/keys"},
			wantMsg: `failed to substitute variables: failed to resolve cm.data.key at path ` + keyPath + `: failed to retrieve config map for context entry cm: failed to get configmap team/keys : configmaps "keys" not found`},
		{name: "a namespaced Policy may not read another namespace", namespace: "team", ref: `{"name":"keys","namespace":"kyverno"}`, publicKeys: "{{ cm.data.key }}",
			cluster: &fakeConfigMaps{},
			wantMsg: `failed to substitute variables: failed to resolve cm.data.key at path ` + keyPath + `: failed to retrieve config map for context entry cm: context entry cm: configMap namespace "kyverno" is different from policy namespace "team"`},
		{name: "no cluster read: a tool error", ref: `{"name":"keys","namespace":"kyverno"}`, publicKeys: "{{ cm.data.key }}",
			wantMsg: report.ToolErrorPrefix},
		{name: "no RBAC to read it: a tool error", ref: `{"name":"keys","namespace":"kyverno"}`, publicKeys: "{{ cm.data.key }}",
			cluster: &fakeConfigMaps{forbidden: true}, wantMsg: report.ToolErrorPrefix, wantReads: []string{"kyverno/keys"}},
		{name: "an entry nothing names is never read", ref: `{"name":"keys","namespace":"kyverno"}`, publicKeys: "k8s://kyverno/cosign",
			cluster: &fakeConfigMaps{}, wantKey: "k8s://kyverno/cosign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{}
			if tt.cluster != nil {
				e.ConfigMaps = tt.cluster
			}
			got, fail := resolveWith(t, e, tt.namespace, `{"name":"cm","configMap":`+tt.ref+`}`, tt.publicKeys, "pod")
			checkResolved(t, got, fail, tt.wantKey, tt.wantMsg)
			var reads []string
			if tt.cluster != nil {
				reads = tt.cluster.reads
			}
			if strings.Join(reads, ",") != strings.Join(tt.wantReads, ",") {
				t.Errorf("ConfigMaps read %q, want %q", reads, tt.wantReads)
			}
		})
	}
}

// resolveWith parses a policy whose one rule has the context entry (JSON) and a key attestor
// with publicKeys, and resolves the rule for a Pod of that name in namespace team.
func resolveWith(t *testing.T, e *Engine, policyNamespace, entry, publicKeys, podName string) (*kpol.Rule, *ruleResponse) {
	t.Helper()
	kind := "ClusterPolicy"
	if policyNamespace != "" {
		kind = "Policy"
	}
	raw := `{"apiVersion":"kyverno.io/v1","kind":"` + kind + `","metadata":{"name":"p","namespace":"` + policyNamespace + `"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},` +
		`"context":[` + entry + `],"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":` + quote(publicKeys) + `}}]}]}]}]}}`
	p, err := kpol.Parse([]byte(raw), "p.yaml:1", "default")
	if err != nil {
		t.Fatal(err)
	}
	rule := &p.Spec.Rules[0]
	if len(rule.Unsupported) > 0 {
		t.Fatalf("Unsupported = %q", rule.Unsupported)
	}
	obj := map[string]any{"kind": "Pod", "metadata": map[string]any{"name": podName, "namespace": "team"}}
	ctx := e.withRule(context.Background(), p, rule, Request{Operation: "CREATE"}, obj, nil)
	return resolveRule(ctx, p, rule, []imageInfo{{Pointer: "/spec/containers/0/image"}})
}

// checkResolved compares a resolution with the key wanted, or the rule error wanted (a
// tool-caused one by its prefix alone).
func checkResolved(t *testing.T, got *kpol.Rule, fail *ruleResponse, wantKey, wantMsg string) {
	t.Helper()
	switch {
	case wantMsg == "" && fail != nil:
		t.Fatalf("rule error %q", fail.message)
	case wantMsg != "" && fail == nil:
		t.Fatalf("no rule error, want %q", wantMsg)
	case wantMsg == report.ToolErrorPrefix && !strings.HasPrefix(fail.message, wantMsg):
		t.Fatalf("rule error %q, want a tool error", fail.message)
	case wantMsg != "" && wantMsg != report.ToolErrorPrefix && fail.message != wantMsg:
		t.Fatalf("rule error\n%q\nwant\n%q", fail.message, wantMsg)
	case fail != nil && fail.status != statusError:
		t.Fatalf("status %s, want error", fail.status)
	case fail == nil && got.VerifyImages[0].Attestors[0].Entries[0].Keys.PublicKeys != wantKey:
		t.Fatalf("key %q, want %q", got.VerifyImages[0].Attestors[0].Entries[0].Keys.PublicKeys, wantKey)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fakeAPI answers GETs from a map of URI -> JSON body.
type fakeAPI struct {
	bodies    map[string]string
	forbidden bool
	gets      []string
}

func (f *fakeAPI) Get(_ context.Context, uri string) ([]byte, error) {
	f.gets = append(f.gets, uri)
	if f.forbidden {
		return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", nil)
	}
	if b, ok := f.bodies[uri]; ok {
		return []byte(b), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "cosign")
}

func (f *fakeAPI) Forbidden(err error) bool { return apierrors.IsForbidden(err) }

func TestAPICallContext(t *testing.T) {
	const cmPath = "/api/v1/namespaces/keys/configmaps/cosign"
	const keyPath = "/verifyImages/0/attestors/0/entries/0/keys/publicKeys"
	cluster := func() *fakeAPI {
		return &fakeAPI{bodies: map[string]string{cmPath: `{"kind":"ConfigMap","data":{"main":"k8s://keys/cosign"}}`}}
	}
	tests := []struct {
		name      string
		namespace string
		call      string // the entry's apiCall, as JSON
		api       *fakeAPI
		wantKey   string
		wantMsg   string
		wantGets  []string
	}{
		{name: "a GET narrowed by its JMESPath", call: `{"urlPath":"` + cmPath + `","jmesPath":"data.main"}`, api: cluster(),
			wantKey: "k8s://keys/cosign", wantGets: []string{cmPath}},
		{name: "the path from a variable", call: `{"urlPath":"/api/v1/namespaces/keys/configmaps/{{ request.object.metadata.name }}","jmesPath":"data.main"}`, api: cluster(),
			wantKey: "k8s://keys/cosign", wantGets: []string{cmPath}},
		{name: "a failed GET falls back to the default", call: `{"urlPath":"/api/v1/namespaces/keys/configmaps/absent","jmesPath":"data.main","default":"k8s://keys/fallback"}`, api: cluster(),
			wantKey: "k8s://keys/fallback", wantGets: []string{"/api/v1/namespaces/keys/configmaps/absent"}},
		{name: "a failed GET without a default", call: `{"urlPath":"/api/v1/namespaces/keys/configmaps/absent","jmesPath":"data.main"}`, api: cluster(),
			wantGets: []string{"/api/v1/namespaces/keys/configmaps/absent"},
			wantMsg:  `failed to substitute variables: failed to resolve key.x at path ` + keyPath + `: failed to fetch data for APICall: failed to GET resource with raw url: /api/v1/namespaces/keys/configmaps/absent: configmaps "cosign" not found`},
		{name: "a namespaced Policy may not call into another namespace", namespace: "team", call: `{"urlPath":"` + cmPath + `","jmesPath":"data.main"}`, api: cluster(),
			wantMsg: `failed to substitute variables: failed to resolve key.x at path ` + keyPath + `: failed to fetch data for APICall: path ` + cmPath + ` refers to namespace keys, which is different from the policy namespace team`},
		{name: "no cluster read: a tool error, whatever the default", call: `{"urlPath":"` + cmPath + `","default":"x"}`, wantMsg: report.ToolErrorPrefix},
		{name: "no RBAC: a tool error", call: `{"urlPath":"` + cmPath + `"}`, api: &fakeAPI{forbidden: true}, wantMsg: report.ToolErrorPrefix, wantGets: []string{cmPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The key is the whole response when there is no JMESPath: key.x reads a field of it.
			publicKeys := "{{ key }}"
			if !strings.Contains(tt.call, "jmesPath") || strings.Contains(tt.wantMsg, "key.x") {
				publicKeys = "{{ key.x }}"
			}
			e := &Engine{}
			if tt.api != nil {
				e.API = tt.api
			}
			got, fail := resolveWith(t, e, tt.namespace, `{"name":"key","apiCall":`+tt.call+`}`, publicKeys, "cosign")
			checkResolved(t, got, fail, tt.wantKey, tt.wantMsg)
			var gets []string
			if tt.api != nil {
				gets = tt.api.gets
			}
			if strings.Join(gets, ",") != strings.Join(tt.wantGets, ",") {
				t.Errorf("GETs %q, want %q", gets, tt.wantGets)
			}
		})
	}
}

// TestContextFaults: a fault of this run (the API server failing, the network) is a
// tool-caused error, never Kyverno's answer nor the entry's default.
func TestContextFaults(t *testing.T) {
	fault := apierrors.NewInternalError(errors.New("etcd is down"))
	for _, tc := range []struct {
		name, entry string
		e           *Engine
	}{
		{"configMap", `{"name":"cm","configMap":{"name":"keys","namespace":"kyverno"}}`, &Engine{ConfigMaps: &faultyReader{err: fault}}},
		{"apiCall with a default", `{"name":"cm","apiCall":{"urlPath":"/api/v1/namespaces/kyverno/configmaps/keys","default":{"data":{"main":"k8s://a/b"}}}}`, &Engine{API: &faultyReader{err: fault}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fail := resolveWith(t, tc.e, "", tc.entry, "{{ cm.data.main }}", "pod")
			if fail == nil || !strings.HasPrefix(fail.message, report.ToolErrorPrefix) {
				t.Fatalf("got %+v, want a tool-caused error", fail)
			}
		})
	}
}

// faultyReader fails every read with err.
type faultyReader struct{ err error }

func (f *faultyReader) ConfigMap(context.Context, string, string) (map[string]any, error) {
	return nil, f.err
}
func (f *faultyReader) Get(context.Context, string) ([]byte, error) { return nil, f.err }
func (f *faultyReader) Forbidden(err error) bool                    { return apierrors.IsForbidden(err) }
