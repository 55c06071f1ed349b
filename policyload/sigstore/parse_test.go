package sigstore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func ecdsaPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

// indent makes a PEM block fit under `data: |` at the given depth.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad)
}

// cipJSON turns a YAML ClusterImagePolicy (the spec, as a block under `spec:`) into the JSON
// Parse receives from the loader.
func cipJSON(t *testing.T, version, spec string) []byte {
	t.Helper()
	doc := "apiVersion: policy.sigstore.dev/" + version + "\nkind: ClusterImagePolicy\nmetadata:\n  name: p\n"
	if spec != "" {
		doc += "spec:\n" + spec
	}
	objs, err := manifest.Parse([]byte(doc), "t.yaml")
	if err != nil || len(objs) != 1 {
		t.Fatalf("test policy does not parse: %v\n%s", err, doc)
	}
	raw, err := json.Marshal(objs[0].Obj)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestIsClusterImagePolicy(t *testing.T) {
	tests := []struct {
		name, apiVersion, kind string
		want                   bool
	}{
		{"v1alpha1", "policy.sigstore.dev/v1alpha1", "ClusterImagePolicy", true},
		{"v1beta1", "policy.sigstore.dev/v1beta1", "ClusterImagePolicy", true},
		{"unknown version", "policy.sigstore.dev/v1", "ClusterImagePolicy", false},
		{"TrustRoot", "policy.sigstore.dev/v1alpha1", "TrustRoot", false},
		{"other group", "kyverno.io/v1", "ClusterImagePolicy", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsClusterImagePolicy(tt.apiVersion, tt.kind); got != tt.want {
				t.Errorf("IsClusterImagePolicy(%q, %q) = %v, want %v", tt.apiVersion, tt.kind, got, tt.want)
			}
		})
	}
}

// TestParseRefuses covers every refusal of spec §2.2, the invalid CIPs of
// test/testdata/policy-controller/invalid (spec §8.1), and what the API server refuses
// before the webhook sees the object. Messages are whole: knative merges and sorts entries.
func TestParseRefuses(t *testing.T) {
	key := ecdsaPEM(t)
	keyData := "      data: |\n" + indent(key, 8) + "\n"
	keyAuth := "  authorities:\n  - key:\n" + keyData
	images := "  images:\n  - glob: image*\n"
	ident := "      identities:\n      - issuer: i\n        subject: s\n"
	const a0 = "spec.authorities[0]"
	tests := []struct {
		name, version, spec string
		cfg                 *Config
		wantPath, wantMsg   string
	}{
		// images
		{name: "empty images", spec: "  images: []\n" + keyAuth,
			wantPath: "spec.images", wantMsg: "missing field(s): spec.images"},
		{name: "images omitted (null after the defaulting round trip)", spec: keyAuth,
			wantPath: "spec.images", wantMsg: `Invalid value: "null": spec.images in body must be of type array: "null"`},
		{name: "no spec at all", spec: "",
			wantPath: "spec.images", wantMsg: `Invalid value: "null": spec.images in body must be of type array: "null"`},
		{name: "empty glob", spec: "  images:\n  - glob: \"\"\n" + keyAuth,
			wantPath: "spec.images[0].glob", wantMsg: "missing field(s): spec.images[0].glob"},
		{name: "invalid-glob [", spec: "  images:\n  - glob: \"[\"\n" + keyAuth,
			wantPath: "spec.images[0].glob", wantMsg: "invalid value: [: spec.images[0].glob\nglob is invalid: syntax error in pattern"},
		{name: "v1beta1-invalid-glob [", version: "v1beta1", spec: "  images:\n  - glob: \"[\"\n" + keyAuth,
			wantPath: "spec.images[0].glob", wantMsg: "invalid value: [: spec.images[0].glob\nglob is invalid: syntax error in pattern"},
		{name: "glob with ?", spec: "  images:\n  - glob: ghcr.io/app?\n" + keyAuth,
			wantPath: "spec.images[0].glob", wantMsg: "invalid value: ghcr.io/app?: spec.images[0].glob\nglob is invalid: invalid glob \"ghcr.io/app?\""},
		{name: "glob with a space", spec: "  images:\n  - glob: \"ghcr.io/a b\"\n" + keyAuth,
			wantPath: "spec.images[0].glob", wantMsg: "invalid value: ghcr.io/a b: spec.images[0].glob\nglob is invalid: invalid glob \"ghcr.io/a b\""},
		// authorities
		{name: "keylessref-with-empty-authorities", spec: images + "  authorities: []\n",
			wantPath: "spec.authorities", wantMsg: "missing field(s): spec.authorities"},
		{name: "authorities omitted", spec: images,
			wantPath: "spec.authorities", wantMsg: "missing field(s): spec.authorities"},
		{name: "invalid-authority (rfc3161timestamp only)", version: "v1beta1", spec: images + "  authorities:\n  - rfc3161timestamp:\n      trustRootRef: my-sigstore-keys\n",
			wantPath: a0 + ".key", wantMsg: "expected exactly one, got neither: spec.authorities[0].key, spec.authorities[0].keyless, spec.authorities[0].static"},
		{name: "valid-keyref-and-keylessref", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - issuer: issue-details\n    key:\n      kms: hashivault://url\n",
			wantPath: a0 + ".key", wantMsg: "expected exactly one, got both: spec.authorities[0].key, spec.authorities[0].keyless, spec.authorities[0].static"},
		{name: "static with ctlog", spec: images + "  authorities:\n  - static:\n      action: pass\n    ctlog:\n      url: https://rekor.sigstore.dev\n",
			wantPath: a0 + ".ctlog", wantMsg: "expected exactly one, got both: spec.authorities[0].ctlog, spec.authorities[0].static"},
		{name: "static with attestations, source, ctlog and rfc3161timestamp", spec: images + "  authorities:\n  - static:\n      action: pass\n    attestations:\n    - name: a\n      predicateType: https://example.com/p\n    source:\n    - oci: ghcr.io/sigs\n    ctlog:\n      url: https://rekor.sigstore.dev\n    rfc3161timestamp:\n      trustRootRef: tr\n",
			wantPath: a0 + ".attestations", wantMsg: "expected exactly one, got both: spec.authorities[0].attestations, spec.authorities[0].ctlog, spec.authorities[0].rfc3161timestamp, spec.authorities[0].source, spec.authorities[0].static"},
		{name: "static action unknown", spec: images + "  authorities:\n  - static:\n      action: maybe\n",
			wantPath: a0 + ".static.action", wantMsg: "invalid value: maybe: spec.authorities[0].static.action\nunsupported action"},
		{name: "static action missing", spec: images + "  authorities:\n  - static: {}\n",
			wantPath: a0 + ".static.action", wantMsg: "missing field(s): spec.authorities[0].static.action"},
		// key
		{name: "empty-keyref", spec: images + "  authorities:\n  - key: {}\n",
			wantPath: a0 + ".key.data", wantMsg: "expected exactly one, got neither: spec.authorities[0].key.data, spec.authorities[0].key.kms, spec.authorities[0].key.secretref"},
		{name: "v1beta1-empty-keyref-and-keylessref (keyless null)", version: "v1beta1", spec: images + "  authorities:\n  - key: {}\n    keyless:\n",
			wantPath: a0 + ".key.data", wantMsg: "expected exactly one, got neither: spec.authorities[0].key.data, spec.authorities[0].key.kms, spec.authorities[0].key.secretref"},
		{name: "keyref-with-multiple-properties", spec: images + "  authorities:\n  - key:\n" + keyData + "      kms: hashivault://url\n",
			wantPath: a0 + ".key.data", wantMsg: "expected exactly one, got both: spec.authorities[0].key.data, spec.authorities[0].key.kms, spec.authorities[0].key.secretref"},
		{name: "kms and secretRef", spec: images + "  authorities:\n  - key:\n      kms: hashivault://url\n      secretRef:\n        name: s\n",
			wantPath: a0 + ".key.data", wantMsg: "expected exactly one, got both: spec.authorities[0].key.data, spec.authorities[0].key.kms, spec.authorities[0].key.secretref"},
		{name: "invalid-pubkey", spec: images + "  authorities:\n  - key:\n      data: \"---somedata---\"\n",
			wantPath: a0 + ".key.data", wantMsg: "invalid value: ---somedata---: spec.authorities[0].key.data"},
		{name: "v1beta1-invalid-pubkey", version: "v1beta1", spec: images + "  authorities:\n  - key:\n      data: \"---somedata---\"\n",
			wantPath: a0 + ".key.data", wantMsg: "invalid value: ---somedata---: spec.authorities[0].key.data"},
		{name: "PEM that is a certificate, not a key", spec: images + "  authorities:\n  - key:\n      data: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
			wantPath: a0 + ".key.data", wantMsg: "invalid value: -----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n: spec.authorities[0].key.data"},
		{name: "v1beta1-invalid-hash-algo", version: "v1beta1", spec: images + "  authorities:\n  - key:\n      hashAlgorithm: shaINVALID\n" + keyData + "  - key:\n      kms: hashivault://key/path\n  - key:\n      secretRef:\n        name: secret-name\n        namespace: cosign-system\n",
			wantPath: a0 + ".key.hashAlgorithm", wantMsg: "invalid value: shaINVALID: spec.authorities[0].key.hashAlgorithm"},
		{name: "kms with an unknown scheme", spec: images + "  authorities:\n  - key:\n      kms: vault://k\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: vault://k: spec.authorities[0].key.kms\nmalformed KMS format, should be prefixed by any of the supported providers: [awskms:// azurekms:// hashivault:// gcpkms://]"},
		{name: "invalid-keyref-awskms key id", spec: images + "  authorities:\n  - key:\n      kms: awskms:///1234abcd-12ab-34cd-56ef-1234567890ab\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms:///1234abcd-12ab-34cd-56ef-1234567890ab: spec.authorities[0].key.kms\nfailed to parse either key or alias arn: arn: invalid prefix"},
		{name: "invalid-keyref-awskms alias with endpoint", spec: images + "  authorities:\n  - key:\n      kms: awskms://localhost:4566/alias/ExampleAlias\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms://localhost:4566/alias/ExampleAlias: spec.authorities[0].key.kms\nfailed to parse either key or alias arn: arn: invalid prefix"},
		{name: "awskms too short", spec: images + "  authorities:\n  - key:\n      kms: awskms://k\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms://k: spec.authorities[0].key.kms\nmalformed AWS KMS format 'awskms://$ENDPOINT/$KEYID', should be conformant with KMS standard documented here: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id"},
		{name: "awskms no known form", spec: images + "  authorities:\n  - key:\n      kms: awskms:///notakey\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms:///notakey: spec.authorities[0].key.kms\nkms key should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)"},
		{name: "awskms ARN in the endpoint place", spec: images + "  authorities:\n  - key:\n      kms: awskms://arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms://arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab: spec.authorities[0].key.kms\nkms key should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)"},
		{name: "awskms endpoint without port", spec: images + "  authorities:\n  - key:\n      kms: awskms://localhost/1234abcd-12ab-34cd-56ef-1234567890ab\n",
			wantPath: a0 + ".key.kms", wantMsg: "invalid value: awskms://localhost/1234abcd-12ab-34cd-56ef-1234567890ab: spec.authorities[0].key.kms\nmalformed endpoint: address localhost: missing port in address"},
		{name: "secretRef in another namespace", spec: images + "  authorities:\n  - key:\n      secretRef:\n        name: s\n        namespace: other\n",
			wantPath: a0 + ".key.secretref.namespace", wantMsg: "invalid value: other: spec.authorities[0].key.secretref.namespace\nsecretref.namespace is invalid. If set, it should use the same namespace where the policy-controller was deployed"},
		{name: "secretRef in cosign-system when the controller runs elsewhere", cfg: &Config{FailOnEmptyAuthorities: true, Namespace: "sigstore"},
			spec:     images + "  authorities:\n  - key:\n      secretRef:\n        name: s\n        namespace: cosign-system\n",
			wantPath: a0 + ".key.secretref.namespace", wantMsg: "invalid value: cosign-system: spec.authorities[0].key.secretref.namespace\nsecretref.namespace is invalid. If set, it should use the same namespace where the policy-controller was deployed"},
		// keyless
		{name: "keylessref-with-multiple-properties", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - issuerRegExp: .*kubernetes.default.*\n        subjectRegExp: .*kubernetes.io/namespaces/default/serviceaccounts/default\n      ca-cert:\n        secretRef:\n          name: ca-cert-secret\n      url: http://example.com\n",
			wantPath: a0 + ".keyless.ca-cert", wantMsg: "expected exactly one, got both: spec.authorities[0].keyless.ca-cert, spec.authorities[0].keyless.url"},
		{name: "explicit empty url beside ca-cert counts as set", spec: images + "  authorities:\n  - keyless:\n      url: \"\"\n      ca-cert:\n        data: |\n" + indent(key, 10) + "\n" + ident,
			wantPath: a0 + ".keyless.ca-cert", wantMsg: "expected exactly one, got both: spec.authorities[0].keyless.ca-cert, spec.authorities[0].keyless.url"},
		{name: "ca-cert validated as a key", spec: images + "  authorities:\n  - keyless:\n      ca-cert: {}\n" + ident,
			wantPath: a0 + ".keyless.ca-cert.data", wantMsg: "expected exactly one, got neither: spec.authorities[0].keyless.ca-cert.data, spec.authorities[0].keyless.ca-cert.kms, spec.authorities[0].keyless.ca-cert.secretref"},
		{name: "missing-identity (null after the defaulting round trip)", spec: "  mode: warn\n  images:\n  - glob: \"**\"\n  authorities:\n  - keyless:\n      url: https://fulcio.sigstore.dev\n",
			wantPath: a0 + ".keyless.identities", wantMsg: `Invalid value: "null": spec.authorities[0].keyless.identities in body must be of type array: "null"`},
		{name: "v1beta1-missing-identity", version: "v1beta1", spec: "  mode: warn\n  images:\n  - glob: \"**\"\n  authorities:\n  - keyless:\n      url: https://fulcio.sigstore.dev\n",
			wantPath: a0 + ".keyless.identities", wantMsg: `Invalid value: "null": spec.authorities[0].keyless.identities in body must be of type array: "null"`},
		{name: "empty-keyref-and-keylessref (the schema speaks first)", spec: images + "  authorities:\n  - keyless: {}\n    key: {}\n",
			wantPath: a0 + ".keyless.identities", wantMsg: `Invalid value: "null": spec.authorities[0].keyless.identities in body must be of type array: "null"`},
		{name: "images and identities both null", spec: "  authorities:\n  - keyless: {}\n",
			wantPath: "spec", wantMsg: `[spec.images: Invalid value: "null": spec.images in body must be of type array: "null", spec.authorities[0].keyless.identities: Invalid value: "null": spec.authorities[0].keyless.identities in body must be of type array: "null"]`},
		{name: "empty identities", spec: images + "  authorities:\n  - keyless:\n      identities: []\n",
			wantPath: a0 + ".keyless.identities", wantMsg: "missing field(s): spec.authorities[0].keyless.identities"},
		{name: "missing-issuer", spec: "  mode: warn\n  images:\n  - glob: \"**\"\n  authorities:\n  - keyless:\n      url: https://fulcio.sigstore.dev\n      identities:\n      - subject: testsubject\n",
			wantPath: a0 + ".keyless.identities[0].issuer", wantMsg: "missing field(s): spec.authorities[0].keyless.identities[0].issuer, spec.authorities[0].keyless.identities[0].issuerRegExp"},
		{name: "v1beta1-missing-subject", version: "v1beta1", spec: "  mode: warn\n  images:\n  - glob: \"**\"\n  authorities:\n  - keyless:\n      url: https://fulcio.sigstore.dev\n      identities:\n      - issuer: testissuer\n",
			wantPath: a0 + ".keyless.identities[0].subject", wantMsg: "missing field(s): spec.authorities[0].keyless.identities[0].subject, spec.authorities[0].keyless.identities[0].subjectRegExp"},
		{name: "identity with neither", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - {}\n",
			wantPath: a0 + ".keyless.identities[0].issuer", wantMsg: "missing field(s): spec.authorities[0].keyless.identities[0].issuer, spec.authorities[0].keyless.identities[0].issuerRegExp, spec.authorities[0].keyless.identities[0].subject, spec.authorities[0].keyless.identities[0].subjectRegExp"},
		{name: "issuer exact and regexp", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - issuer: i\n        issuerRegExp: i.*\n        subject: s\n",
			wantPath: a0 + ".keyless.identities[0].issuer", wantMsg: "expected exactly one, got both: spec.authorities[0].keyless.identities[0].issuer, spec.authorities[0].keyless.identities[0].issuerRegExp"},
		{name: "keylessref-with-malformed-issuer", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - issuerRegExp: \"****\"\n",
			wantPath: a0 + ".keyless.identities[0].issuerRegExp",
			wantMsg:  "invalid value: ****: spec.authorities[0].keyless.identities[0].issuerRegExp\nregex is invalid: error parsing regexp: missing argument to repetition operator: `*`\nmissing field(s): spec.authorities[0].keyless.identities[0].subject, spec.authorities[0].keyless.identities[0].subjectRegExp"},
		{name: "v1beta1-keylessref-with-malformed-subject", version: "v1beta1", spec: images + "  authorities:\n  - keyless:\n      identities:\n      - subjectRegExp: \"****\"\n",
			wantPath: a0 + ".keyless.identities[0].subjectRegExp",
			wantMsg:  "invalid value: ****: spec.authorities[0].keyless.identities[0].subjectRegExp\nregex is invalid: error parsing regexp: missing argument to repetition operator: `*`\nmissing field(s): spec.authorities[0].keyless.identities[0].issuer, spec.authorities[0].keyless.identities[0].issuerRegExp"},
		// source
		{name: "two sources", spec: images + "  authorities:\n  - key:\n" + keyData + "    source:\n    - oci: ghcr.io/a\n    - oci: ghcr.io/b\n",
			wantPath: a0 + ".source", wantMsg: "invalid value: source: spec.authorities[0].source\nonly single source is supported"},
		{name: "source oci not a repository", spec: images + "  authorities:\n  - key:\n" + keyData + "    source:\n    - oci: ghcr.io/Org\n",
			wantPath: a0 + ".source[0].oci", wantMsg: "invalid value: ghcr.io/Org: spec.authorities[0].source[0].oci\nrepository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Org"},
		{name: "nameless signature pull secret", spec: images + "  authorities:\n  - key:\n" + keyData + "    source:\n    - signaturePullSecrets:\n      - name: \"\"\n",
			wantPath: a0 + ".source[0].signaturePullSecrets[0].name", wantMsg: "missing field(s): spec.authorities[0].source[0].signaturePullSecrets[0].name"},
		{name: "nameless pull secret re-prefixes the oci error", spec: images + "  authorities:\n  - key:\n" + keyData + "    source:\n    - oci: ghcr.io/Org\n      signaturePullSecrets:\n      - name: \"\"\n",
			wantPath: a0 + ".source[0].signaturePullSecrets[0].oci",
			wantMsg:  "invalid value: ghcr.io/Org: spec.authorities[0].source[0].signaturePullSecrets[0].oci\nrepository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Org\nmissing field(s): spec.authorities[0].source[0].signaturePullSecrets[0].name"},
		// attestations and policies
		{name: "attestation without name and predicateType", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - {}\n",
			wantPath: a0 + ".attestations.name", wantMsg: "missing field(s): spec.authorities[0].attestations.name, spec.authorities[0].attestations.predicateType"},
		{name: "attestation policy type", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: yaml\n        data: x\n",
			wantPath: a0 + ".attestations.policy.type", wantMsg: "invalid value: yaml: spec.authorities[0].attestations.policy.type\nonly [cue,rego] are supported at the moment"},
		{name: "attestation policy without a source", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n",
			wantPath: a0 + ".attestations.policy.configMapRef", wantMsg: "missing field(s): spec.authorities[0].attestations.policy.configMapRef, spec.authorities[0].attestations.policy.data, spec.authorities[0].attestations.policy.remote"},
		{name: "attestation policy with data and remote", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n        data: x\n        remote:\n          url: https://example.com/p.cue\n          sha256sum: abc\n",
			wantPath: a0 + ".attestations.policy.configMapRef", wantMsg: "expected exactly one, got both: spec.authorities[0].attestations.policy.configMapRef, spec.authorities[0].attestations.policy.data, spec.authorities[0].attestations.policy.remote"},
		{name: "remote over http without sha256sum", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n        remote:\n          url: http://example.com/p.cue\n",
			wantPath: a0 + ".attestations.policy.remote.url",
			wantMsg:  "invalid value: http://example.com/p.cue: spec.authorities[0].attestations.policy.remote.url\nurl valid is invalid. host and https scheme are expected\nmissing field(s): spec.authorities[0].attestations.policy.remote.sha256sum"},
		{name: "configMapRef without name and key", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n        configMapRef: {}\n",
			wantPath: a0 + ".attestations.policy.configMapRef.key", wantMsg: "missing field(s): spec.authorities[0].attestations.policy.configMapRef.key, spec.authorities[0].attestations.policy.configMapRef.name"},
		{name: "include switches in an attestation policy", spec: images + "  authorities:\n  - key:\n" + keyData + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n        data: x\n        fetchConfigFile: false\n        includeSpec: true\n        includeObjectMeta: true\n        includeTypeMeta: true\n",
			wantPath: a0 + ".attestations.policy.fetchConfigFile", wantMsg: "must not set the field(s): spec.authorities[0].attestations.policy.fetchConfigFile, spec.authorities[0].attestations.policy.includeObjectMeta, spec.authorities[0].attestations.policy.includeSpec, spec.authorities[0].attestations.policy.includeTypeMeta"},
		{name: "CIP-level policy type (paths without policy.)", spec: images + keyAuth + "  policy:\n    type: yaml\n    data: x\n",
			wantPath: "spec.type", wantMsg: "invalid value: yaml: spec.type\nonly [cue,rego] are supported at the moment"},
		// match and mode
		{name: "v1beta1-invalid-match-resource", version: "v1beta1", spec: images + "  match:\n  - resource: apple\n    version: v1\n    group: apps\n" + keyAuth,
			wantPath: "spec.match[0].resource", wantMsg: "invalid value: apple: spec.match[0].resource\nunsupported resource name"},
		{name: "selector without group, version or resource", spec: images + "  match:\n  - selector:\n      matchLabels:\n        a: b\n" + keyAuth,
			wantPath: "spec.match[0].selector", wantMsg: "invalid value: : spec.match[0].selector\nselector requires a resource type to match the labels"},
		{name: "invalid-mode", spec: "  mode: garbage\n" + images + keyAuth,
			wantPath: "spec.mode", wantMsg: "invalid value: garbage: spec.mode\nunsupported mode"},
		{name: "several refusals, sorted by message", spec: "  mode: garbage\n  images: []\n" + keyAuth,
			wantPath: "spec.mode", wantMsg: "invalid value: garbage: spec.mode\nunsupported mode\nmissing field(s): spec.images"},
		// before the webhook
		{name: "unknown field", spec: images + "  authorities:\n  - key:\n" + keyData + "      foo: bar\n",
			wantPath: a0 + ".key.foo", wantMsg: `strict decoding error: unknown field "spec.authorities[0].key.foo"`},
		{name: "field names are case-sensitive", spec: "  Mode: warn\n  imagez: []\n" + images + keyAuth,
			wantPath: "spec.Mode", wantMsg: `strict decoding error: unknown field "spec.Mode", unknown field "spec.imagez"`},
		{name: "wrong type", spec: "  mode: 5\n" + images + keyAuth,
			wantPath: "spec", wantMsg: "json: cannot unmarshal number into Go struct field Spec.mode of type string"},
		{name: "keyless url that does not parse", spec: images + "  authorities:\n  - keyless:\n      url: \"http://[::1\"\n" + ident,
			wantPath: a0 + ".keyless.url", wantMsg: `parse "http://[::1": missing ']' in host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version := tt.version
			if version == "" {
				version = "v1alpha1"
			}
			cfg := DefaultConfig()
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			p, err := Parse(cipJSON(t, version, tt.spec), "t.yaml:1", cfg)
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse() = %+v, %v; want *InvalidError", p, err)
			}
			if ie.Policy != "ClusterImagePolicy/p" || ie.Path != tt.wantPath || ie.Msg != tt.wantMsg {
				t.Errorf("Parse() refused %q at %q:\n%s\nwant at %q:\n%s", ie.Policy, ie.Path, ie.Msg, tt.wantPath, tt.wantMsg)
			}
			if want := "ClusterImagePolicy/p: " + tt.wantPath + ": " + tt.wantMsg; ie.Error() != want {
				t.Errorf("Error() = %q, want %q", ie.Error(), want)
			}
		})
	}
}

func TestParseRefusesNameless(t *testing.T) {
	raw := []byte(`{"apiVersion":"policy.sigstore.dev/v1alpha1","kind":"ClusterImagePolicy","metadata":{},"spec":{"images":[{"glob":"**"}],"authorities":[{"static":{"action":"pass"}}]}}`)
	_, err := Parse(raw, "t.yaml:1", DefaultConfig())
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Path != "metadata.name" {
		t.Fatalf("Parse() error = %v, want an InvalidError at metadata.name", err)
	}
	if _, err := Parse([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`), "t.yaml:1", DefaultConfig()); err == nil || errors.As(err, &ie) {
		t.Errorf("Parse(ConfigMap) error = %v, want a plain error", err)
	}
}

func TestParseAccepts(t *testing.T) {
	key := ecdsaPEM(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	keyAuth := func(pemText string) string {
		return "  authorities:\n  - key:\n      data: |\n" + indent(pemText, 8) + "\n"
	}
	images := "  images:\n  - glob: \"**\"\n"
	tests := []struct {
		name, spec string
		cfg        Config
	}{
		{"ECDSA PKIX key", images + keyAuth(key), DefaultConfig()},
		{"RSA PKIX key", images + keyAuth(pemOf(t, "PUBLIC KEY", rsaDER)), DefaultConfig()},
		{"RSA PKCS#1 key", images + keyAuth(pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))), DefaultConfig()},
		{"Ed25519 key", images + keyAuth(pemOf(t, "PUBLIC KEY", edDER)), DefaultConfig()},
		{"empty authorities with fail-on-empty-authorities=false", images + "  authorities: []\n", Config{NoMatchPolicy: "deny", Namespace: "cosign-system"}},
		{"secretRef in the controller namespace", images + "  authorities:\n  - key:\n      secretRef:\n        name: s\n        namespace: cosign-system\n", DefaultConfig()},
		{"secretRef in a custom controller namespace", images + "  authorities:\n  - key:\n      secretRef:\n        name: s\n        namespace: sigstore\n", Config{FailOnEmptyAuthorities: true, Namespace: "sigstore"}},
		{"valid awskms key ARN", images + "  authorities:\n  - key:\n      kms: awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n", DefaultConfig()},
		{"valid awskms alias ARN with endpoint", images + "  authorities:\n  - key:\n      kms: awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias\n", DefaultConfig()},
		{"other KMS schemes", images + "  authorities:\n  - key:\n      kms: gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k\n  - key:\n      kms: azurekms://v.vault.azure.net/k\n", DefaultConfig()},
		{"globs of §3.1", "  images:\n  - glob: \"*\"\n  - glob: \"*/*\"\n  - glob: ghcr.io/org/**\n  - glob: ghcr.io/foo@sha256:0123\n  - glob: registry.local:5000/demo*\n" + keyAuth(key), DefaultConfig()},
		{"CIP-level policy with every switch", images + keyAuth(key) + "  policy:\n    type: rego\n    data: x\n    fetchConfigFile: true\n    includeSpec: true\n    includeObjectMeta: true\n    includeTypeMeta: true\n", DefaultConfig()},
		{"match with selector and every handled resource", images + keyAuth(key) + "  match:\n  - resource: pods\n    version: v1\n    selector:\n      matchLabels:\n        a: b\n  - {group: apps, version: v1, resource: deployments}\n  - {group: apps, version: v1, resource: replicasets}\n  - {group: apps, version: v1, resource: statefulsets}\n  - {group: apps, version: v1, resource: daemonsets}\n  - {group: batch, version: v1, resource: jobs}\n  - {group: batch, version: \"*\", resource: cronjobs}\n", DefaultConfig()},
		{"source with registry only and pull secrets", images + keyAuth(key) + "    source:\n    - oci: registry.local:5000\n      signaturePullSecrets:\n      - name: pull\n      tagPrefix: sig-\n", DefaultConfig()},
		{"static fail with message", images + "  authorities:\n  - static:\n      action: fail\n      message: no\n", DefaultConfig()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(cipJSON(t, "v1alpha1", tt.spec), "t.yaml:1", tt.cfg); err != nil {
				t.Errorf("Parse() error = %v", err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	key := ecdsaPEM(t)
	data := "      data: |\n" + indent(key, 8) + "\n"
	ident := "      identities:\n      - issuer: i\n        subject: s\n"
	p, err := Parse(cipJSON(t, "v1alpha1", "  images:\n  - glob: \"**\"\n  authorities:\n"+
		"  - key:\n"+data+
		"  - name: mine\n    key:\n"+data+"      hashAlgorithm: \" SHA384 \"\n"+
		"  - keyless:\n"+ident+
		"  - keyless:\n      url: https://fulcio.example\n"+ident+
		"  - keyless:\n      ca-cert:\n  "+strings.ReplaceAll(data, "\n        ", "\n          ")+ident+
		"  - keyless:\n      url: \"\"\n"+ident+
		"  - static:\n      action: pass\n"), "t.yaml:1", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := p.Spec.Authorities
	checks := []struct {
		name      string
		got, want any
	}{
		{"mode defaults to enforce", p.Spec.Mode, "enforce"},
		{"authority-0 named", a[0].Name, "authority-0"},
		{"given name kept", a[1].Name, "mine"},
		{"authority-6 named by index", a[6].Name, "authority-6"},
		{"hashAlgorithm defaults to sha256", a[0].Key.HashAlgorithm, "sha256"},
		{"hashAlgorithm trimmed and lower-cased", a[1].Key.HashAlgorithm, "sha384"},
		{"keyless url defaults to fulcio", a[2].Keyless.URL, "https://fulcio.sigstore.dev"},
		{"keyless url kept", a[3].Keyless.URL, "https://fulcio.example"},
		{"ca-cert keyless gets no url", a[4].Keyless.HasURL(), false},
		{"ca-cert hashAlgorithm defaults too", a[4].Keyless.CACert.HashAlgorithm, "sha256"},
		{"explicit empty url is not defaulted", a[5].Keyless.URL, ""},
		{"explicit empty url counts as set", a[5].Keyless.HasURL(), true},
		{"static untouched", *a[6].Static, StaticRef{Action: "pass"}},
		{"no warnings", len(p.Warnings), 0},
		{"nothing unsupported", len(p.Unsupported), 0},
		{"source kept", p.Source, "t.yaml:1"},
		{"apiVersion kept", p.APIVersion, "policy.sigstore.dev/v1alpha1"},
		{"name", p.Name, "p"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	warn, err := Parse(cipJSON(t, "v1alpha1", "  mode: warn\n  images:\n  - glob: \"**\"\n  authorities:\n  - static:\n      action: pass\n"), "t.yaml:1", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if warn.Spec.Mode != "warn" || !warn.Spec.Warn() {
		t.Errorf("mode warn: got %q", warn.Spec.Mode)
	}
}

func TestParseWarnings(t *testing.T) {
	key := ecdsaPEM(t)
	base := "  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      data: |\n" + indent(key, 8) + "\n    attestations:\n"
	att := func(name, pt string) string {
		return "    - name: " + name + "\n      predicateType: " + pt + "\n"
	}
	const detail = "\ndeprecated value, please use RFC 3986 conformant values"
	tests := []struct {
		name, atts string
		want       []string
	}{
		{"URI predicate type", att("a", "https://cosign.sigstore.dev/attestation/v1"), nil},
		{"short name", att("a", "custom"), []string{"invalid value: custom: spec.authorities[0].attestations.predicateType" + detail}},
		{"other non-URI", att("a", "openvex"), []string{"invalid value: openvex: spec.authorities[0].attestations.predicateType" + detail}},
		{"same short name twice merges", att("a", "vuln") + att("b", "vuln"), []string{"invalid value: vuln: spec.authorities[0].attestations.predicateType" + detail}},
		{"two short names sort", att("a", "vuln") + att("b", "cyclonedx"), []string{
			"invalid value: cyclonedx: spec.authorities[0].attestations.predicateType" + detail,
			"invalid value: vuln: spec.authorities[0].attestations.predicateType" + detail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(cipJSON(t, "v1alpha1", base+tt.atts), "t.yaml:1", DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Warnings, tt.want) {
				t.Errorf("Warnings = %q, want %q", p.Warnings, tt.want)
			}
		})
	}
}

// TestParseConversion covers spec §2.3: what v1beta1's storage conversion drops.
func TestParseConversion(t *testing.T) {
	key := ecdsaPEM(t)
	base := "  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      data: |\n" + indent(key, 8) + "\n"
	tests := []struct {
		name, version, extra string
		wantCTLog            *TLog
		wantRFC              *RFC3161
	}{
		{"v1beta1 ctlog without url dropped", "v1beta1", "    ctlog:\n      trustRootRef: tr\n", nil, nil},
		{"v1alpha1 ctlog without url kept", "v1alpha1", "    ctlog:\n      trustRootRef: tr\n", &TLog{TrustRootRef: "tr"}, nil},
		{"v1beta1 ctlog with url kept", "v1beta1", "    ctlog:\n      url: https://rekor.example\n", &TLog{URL: "https://rekor.example"}, nil},
		{"v1beta1 ctlog with explicit empty url kept", "v1beta1", "    ctlog:\n      url: \"\"\n", &TLog{urlSet: true}, nil},
		{"v1beta1 rfc3161timestamp without trustRootRef dropped", "v1beta1", "    rfc3161timestamp: {}\n", nil, nil},
		{"v1alpha1 rfc3161timestamp without trustRootRef kept", "v1alpha1", "    rfc3161timestamp: {}\n", nil, &RFC3161{}},
		{"v1beta1 rfc3161timestamp with trustRootRef kept", "v1beta1", "    rfc3161timestamp:\n      trustRootRef: tsa\n", nil, &RFC3161{TrustRootRef: "tsa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(cipJSON(t, tt.version, base+tt.extra), "t.yaml:1", DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			a := p.Spec.Authorities[0]
			if !reflect.DeepEqual(a.CTLog, tt.wantCTLog) || !reflect.DeepEqual(a.RFC3161, tt.wantRFC) {
				t.Errorf("ctlog = %+v, rfc3161timestamp = %+v; want %+v, %+v", a.CTLog, a.RFC3161, tt.wantCTLog, tt.wantRFC)
			}
		})
	}
}

func TestParseUnsupported(t *testing.T) {
	key := ecdsaPEM(t)
	data := "      data: |\n" + indent(key, 8) + "\n"
	ident := "      identities:\n      - issuer: i\n        subject: s\n"
	images := "  images:\n  - glob: \"**\"\n"
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"secretRef key is replayed", images + "  authorities:\n  - key:\n      secretRef:\n        name: s\n", nil},
		{"ca-cert keyless is replayed", images + "  authorities:\n  - keyless:\n      ca-cert:\n        secretRef:\n          name: s\n" + ident, nil},
		{"bundle with a key is replayed", images + "  authorities:\n  - signatureFormat: bundle\n    key:\n" + data, nil},
		{"legacy keyless is replayed", images + "  authorities:\n  - signatureFormat: legacy\n    keyless:\n" + ident, nil},
		{"fetchConfigFile false is replayed", images + "  authorities:\n  - key:\n" + data + "  policy:\n    type: cue\n    data: x\n    fetchConfigFile: false\n", nil},
		{"kms", images + "  authorities:\n  - key:\n      kms: hashivault://k\n",
			[]string{"spec.authorities[0].key.kms (the controller fetches the public key from the KMS; not fetched yet)"}},
		// Keyless, ctlog and timestamp trust roots are replayed (the engine reads the TrustRoot named).
		{"trust roots", images + "  authorities:\n  - keyless:\n      trustRootRef: tr\n" + ident + "    ctlog:\n      url: https://rekor.example\n      trustRootRef: tr\n    rfc3161timestamp:\n      trustRootRef: tr\n",
			nil},
		{"bundle keyless", images + "  authorities:\n  - signatureFormat: bundle\n    keyless:\n" + ident,
			[]string{"spec.authorities[0].signatureFormat: bundle (bundle-format keyless verification is not replayed yet)"}},
		{"remote, configMapRef and fetchConfigFile", images + "  authorities:\n  - key:\n" + data + "    attestations:\n    - name: a\n      predicateType: https://example.com/p\n    - name: b\n      predicateType: https://example.com/p\n      policy:\n        type: cue\n        configMapRef:\n          name: cm\n          key: k\n" +
			"  policy:\n    type: cue\n    remote:\n      url: https://example.com/p.cue\n      sha256sum: abc\n    fetchConfigFile: true\n",
			[]string{
				"spec.authorities[0].attestations[1].policy.configMapRef (the controller inlines the ConfigMap's policy; not read yet)",
				"spec.policy.remote (the controller fetches remote policies; not fetched yet)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(cipJSON(t, "v1beta1", tt.spec), "t.yaml:1", DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Unsupported, tt.want) {
				t.Errorf("Unsupported = %q, want %q", p.Unsupported, tt.want)
			}
			if len(p.Warnings) != len(tt.want) {
				t.Fatalf("Warnings = %q, want one per unsupported field", p.Warnings)
			}
			for i, u := range tt.want {
				if want := u + " is not supported yet: images this policy selects get an error check"; p.Warnings[i] != want {
					t.Errorf("Warnings[%d] = %q, want %q", i, p.Warnings[i], want)
				}
			}
		})
	}
}

// TestParseVersionsAgree: v1alpha1 and v1beta1 are field for field the same.
func TestParseVersionsAgree(t *testing.T) {
	key := ecdsaPEM(t)
	spec := "  mode: warn\n  images:\n  - glob: ghcr.io/org/**\n  match:\n  - {group: apps, version: v1, resource: deployments, selector: {matchLabels: {team: a}}}\n" +
		"  authorities:\n  - name: signed\n    key:\n      hashAlgorithm: SHA512\n      data: |\n" + indent(key, 8) + "\n    source:\n    - oci: ghcr.io/org/sigs\n      signaturePullSecrets:\n      - name: pull\n    ctlog:\n      url: https://rekor.sigstore.dev\n" +
		"    attestations:\n    - name: sbom\n      predicateType: spdxjson\n      policy:\n        type: cue\n        data: 'predicateType: \"https://spdx.dev/Document\"'\n" +
		"  - keyless:\n      identities:\n      - issuerRegExp: .*\n        subject: me@example.com\n      insecureIgnoreSCT: true\n" +
		"  - static:\n      action: fail\n      message: nope\n" +
		"  policy:\n    type: rego\n    data: 'package sigstore'\n    includeSpec: true\n"
	alpha, err := Parse(cipJSON(t, "v1alpha1", spec), "t.yaml:1", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	beta, err := Parse(cipJSON(t, "v1beta1", spec), "t.yaml:1", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if alpha.APIVersion == beta.APIVersion {
		t.Fatalf("both read as %s", alpha.APIVersion)
	}
	beta.APIVersion = alpha.APIVersion
	if !reflect.DeepEqual(alpha, beta) {
		a, _ := json.MarshalIndent(alpha, "", " ")
		b, _ := json.MarshalIndent(beta, "", " ")
		t.Errorf("v1alpha1 and v1beta1 differ:\n%s\n%s", a, b)
	}
	if len(alpha.Spec.Authorities) != 3 || alpha.Spec.Authorities[1].Keyless.URL != fulcioURL || len(alpha.Warnings) != 1 {
		t.Errorf("unexpected policy: %+v", alpha)
	}
}
