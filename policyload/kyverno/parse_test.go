package kyverno

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	entry := func(extra string) string {
		return `{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]` + extra + `}`
	}
	tests := []struct {
		name, spec, wantPath, wantMsg string
	}{
		{"audit with mutateDigest", `{"rules":[{"name":"r","match":{},"verifyImages":[` + entry("") + `]}]}`,
			"spec.rules[0].verifyImages[0].mutateDigest", "mutateDigest must be set to false for ‘Audit’ failure action"},
		{"no image references", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"attestors":[]}]}]}`,
			"spec.rules[0].verifyImages[0]", "An image reference is required"},
		{"count over entries", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"count":2,"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}]}]}]}`,
			"spec.rules[0].verifyImages[0].attestors[0].count", "Count cannot exceed length of entries"},
		{"no entries", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[]}]}]}]}`,
			"spec.rules[0].verifyImages[0].attestors[0].entries", "An entry is required"},
		{"empty keys", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{}}]}]}]}]}`,
			"spec.rules[0].verifyImages[0].attestors[0].entries[0].keys", "A public key, kms key or secret is required"},
		{"invalid PEM", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"}}]}]}]}]}`,
			"spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys", "not a valid PEM public key"},
		{"nested set without entries", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[{"attestor":{"entries":[]}}]}]}]}]}`,
			"spec.rules[0].verifyImages[0].attestors[0].entries[0].attestor.entries", "An entry is required"},
		{"jmesPath extractor with digest pinning", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"imageExtractors":{"Task":[{"path":"/spec/x","jmesPath":"@"}]},"verifyImages":[` + entry("") + `]}]}`,
			"spec.rules[0]", "jmespath may not be used in an image extractor when mutating digests with verify images"},
		{"apiCall with both urlPath and service", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"context":[{"name":"c","apiCall":{"urlPath":"/api/v1/pods","service":{"url":"https://x"}}}],"verifyImages":[` + entry("") + `]}]}`,
			"spec.rules[0].context[0]", "a URLPath cannot be used for service API calls"},
		{"apiCall JMESPath that does not parse", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"context":[{"name":"c","apiCall":{"urlPath":"/api/v1/pods","jmesPath":"items[?"}}],"verifyImages":[` + entry("") + `]}]}`,
			"spec.rules[0].context[0]", "failed to parse JMESPath items[?"},
		{"unknown credential provider", `{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[` + entry(`,"imageRegistryCredentials":{"providers":["default","quay"]}`) + `]}]}`,
			"spec.rules[0].verifyImages[0].imageRegistryCredentials.providers[1]", `Unsupported value: "quay"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":` + tt.spec + `}`
			_, err := Parse([]byte(raw), "f.yaml:1", "default")
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse() error = %v, want *InvalidError", err)
			}
			if ie.Path != tt.wantPath || !strings.Contains(ie.Msg, tt.wantMsg) || ie.Policy != "ClusterPolicy/p" {
				t.Errorf("Parse() = %q at %q (policy %q), want %q at %q", ie.Msg, ie.Path, ie.Policy, tt.wantMsg, tt.wantPath)
			}
		})
	}
}

func TestParseDefaultsAndConvert(t *testing.T) {
	raw := `{"apiVersion":"kyverno.io/v1","kind":"Policy","metadata":{"name":"p"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},"verifyImages":[{"image":"ghcr.io/*","key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM\n5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==\n-----END PUBLIC KEY-----"}]}]}}`
	p, err := Parse([]byte(raw), "f.yaml:1", "team")
	if err != nil {
		t.Fatal(err)
	}
	iv := p.Spec.Rules[0].VerifyImages[0]
	if p.Key() != "team/p" || len(iv.ImageReferences) != 1 || iv.ImageReferences[0] != "ghcr.io/*" || len(iv.Attestors) != 1 || iv.Attestors[0].Entries[0].Keys == nil {
		t.Errorf("Parse() = key %q refs %v attestors %d, want team/p [ghcr.io/*] 1 (deprecated image/key folded in)", p.Key(), iv.ImageReferences, len(iv.Attestors))
	}
	if !iv.Mutate() || !iv.Digest() || !iv.IsRequired() {
		t.Error("mutateDigest/verifyDigest/required default to true")
	}
	// The key entry has no rekor/ctlog: Kyverno would fetch both logs' keys over TUF.
	if got := p.Spec.Rules[0].PublicTrust; len(got) != 2 || len(p.Spec.Rules[0].Unsupported) != 0 {
		t.Errorf("PublicTrust = %q, Unsupported = %q; want the rekor and ctlog keys noted, nothing unsupported", got, p.Spec.Rules[0].Unsupported)
	}
}

func TestParsePublicTrust(t *testing.T) {
	const roots = `"roots":"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"`
	tests := []struct {
		name  string
		entry string
		want  []string // suffixes of the PublicTrust entries
	}{
		{"logs ignored", `{"keys":{"publicKeys":"k8s://ns/key","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, nil},
		{"log keys given", `{"keys":{"publicKeys":"k8s://ns/key","rekor":{"url":"https://rekor.local","pubkey":"PEM"},"ctlog":{"pubkey":"PEM"}}}`, nil},
		{"tlog checked without its key", `{"keys":{"publicKeys":"k8s://ns/key","rekor":{"url":"https://rekor.local"},"ctlog":{"ignoreSCT":true}}}`, []string{".keys.rekor (Rekor public keys; or set rekor.pubkey, or rekor.ignoreTlog: true)"}},
		{"SCT checked without its key", `{"certificates":{"cert":"x","rekor":{"ignoreTlog":true}}}`, []string{".certificates.ctlog (CT-log public keys; or set ctlog.pubkey, or ctlog.ignoreSCT: true)"}},
		{"keyless with roots and extensions", `{"keyless":{` + roots + `,"subject":"s","additionalExtensions":{"githubWorkflowTrigger":"push"},"rekor":{"url":"u","ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, nil},
		{"keyless without roots", `{"keyless":{"subject":"s","rekor":{"url":"u","ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, []string{".keyless (Fulcio roots; or set roots)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"failureAction":"Enforce","attestors":[{"entries":[` + tt.entry + `]}]}]}]}}`
			p, err := Parse([]byte(raw), "f.yaml:1", "default")
			if err != nil {
				t.Fatal(err)
			}
			r := p.Spec.Rules[0]
			if len(r.Unsupported) != 0 {
				t.Errorf("Unsupported = %q, want none", r.Unsupported)
			}
			if len(r.PublicTrust) != len(tt.want) {
				t.Fatalf("PublicTrust = %q, want %d entries", r.PublicTrust, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasSuffix(r.PublicTrust[i], w) {
					t.Errorf("PublicTrust[%d] = %q, want suffix %q", i, r.PublicTrust[i], w)
				}
			}
		})
	}
}

func TestParseRegistryCredentials(t *testing.T) {
	raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"failureAction":"Enforce",` +
		`"imageRegistryCredentials":{"secrets":["regcred","team/other"],"providers":["default","amazon"],"allowInsecureRegistry":true},` +
		`"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`
	p, err := Parse([]byte(raw), "f.yaml:1", "default")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Rules[0]
	if c := r.VerifyImages[0].ImageRegistryCredentials; c == nil || strings.Join(c.Secrets, ",") != "regcred,team/other" {
		t.Errorf("credentials = %+v", c)
	}
	if len(r.Unsupported) != 0 {
		t.Errorf("Unsupported = %q, want none: the secrets are replayed", r.Unsupported)
	}
	joined := strings.Join(p.Warnings, "\n")
	for _, want := range []string{"providers[1]: amazon: the local docker config", "allowInsecureRegistry: registries are reached as --insecure-registry says"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q, want one containing %q", p.Warnings, want)
		}
	}
}

func TestParseSigstoreBundle(t *testing.T) {
	tests := []struct {
		name                     string
		entry                    string
		wantTrust, wantUnsupport int
	}{
		{"key, logs ignored", `{"keys":{"publicKeys":"k8s://ns/key","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, 0, 0},
		{"key, log checked even with its key given", `{"keys":{"publicKeys":"k8s://ns/key","rekor":{"url":"u","pubkey":"PEM"},"ctlog":{"ignoreSCT":true}}}`, 1, 0},
		{"keyless, roots ignored on this path", `{"keyless":{"subject":"s","issuer":"i","roots":"R","rekor":{"url":"u","ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, 1, 0},
		{"certificates", `{"certificates":{"cert":"C","rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}`, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r","match":{},"verifyImages":[{"imageReferences":["*"],"type":"SigstoreBundle","failureAction":"Enforce","attestors":[{"entries":[` + tt.entry + `]}]}]}]}}`
			p, err := Parse([]byte(raw), "f.yaml:1", "default")
			if err != nil {
				t.Fatal(err)
			}
			r := p.Spec.Rules[0]
			bundleTrust := 0
			for _, pt := range r.PublicTrust {
				if strings.Contains(pt, "SigstoreBundle") {
					bundleTrust++
				}
			}
			if bundleTrust != tt.wantTrust || len(r.Unsupported) != tt.wantUnsupport {
				t.Errorf("PublicTrust %q, Unsupported %q; want %d SigstoreBundle trust entries and %d unsupported", r.PublicTrust, r.Unsupported, tt.wantTrust, tt.wantUnsupport)
			}
		})
	}
}

func TestParseAPICallUnsupported(t *testing.T) {
	tests := []struct{ name, call, want string }{
		{"a service call", `{"service":{"url":"https://svc.ns:443/x"}}`, "apiCall.service"},
		{"a POST", `{"urlPath":"/apis/authorization.k8s.io/v1/subjectaccessreviews","method":"POST"}`, "apiCall.method: POST"},
		{"a GET", `{"urlPath":"/api/v1/namespaces/{{ request.namespace }}/configmaps"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"validationFailureAction":"Enforce","rules":[{"name":"r","match":{},` +
				`"context":[{"name":"c","apiCall":` + tt.call + `}],"verifyImages":[{"imageReferences":["*"],"attestors":[{"entries":[{"keys":{"publicKeys":"k8s://a/b"}}]}]}]}]}}`
			p, err := Parse([]byte(raw), "f.yaml:1", "default")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(p.Spec.Rules[0].Unsupported, "; ")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("Unsupported = %q, want one naming %q", got, tt.want)
			}
			if m := p.Spec.Rules[0].Context[0].APICall.Method; tt.want == "" && m != "GET" {
				t.Errorf("method = %q, want the CRD default GET", m)
			}
		})
	}
}
