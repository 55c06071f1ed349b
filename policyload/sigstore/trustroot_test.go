package sigstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestInlineKeySecrets(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	tests := []struct {
		name    string
		data    map[string][]byte
		readErr error
		wantErr string
	}{
		{"one key", map[string][]byte{"cosign.pub": []byte(pemKey)}, nil, ""},
		{"no data", map[string][]byte{}, nil, `secret "k" contains no data`},
		{"two entries", map[string][]byte{"a": []byte(pemKey), "b": []byte(pemKey)}, nil, `secret "k" contains multiple data entries, only one is supported`},
		{"not a key", map[string][]byte{"a": []byte("hello")}, nil, `secret "k" contains an invalid public key: PEM decoding failed`},
		{"a certificate", map[string][]byte{"a": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil,
			`secret "k" contains an invalid public key: unknown Public key PEM file type: CERTIFICATE. Are you passing the correct public key?`},
		{"cannot read", nil, errors.New(`secrets "k" not found`), `secrets "k" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{Spec: Spec{Authorities: []Authority{{Name: "a", Key: &KeyRef{SecretRef: &SecretRef{Name: "k"}}}}}}
			err := InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
				if name != "k" {
					t.Fatalf("read %q, want k", name)
				}
				return tt.data, tt.readErr
			})
			if tt.wantErr == "" {
				if err != nil || p.Spec.Authorities[0].Key.Data != pemKey {
					t.Fatalf("err %v, data %q; want the key inlined", err, p.Spec.Authorities[0].Key.Data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestInlineCACertSecret: the reconciler treats a keyless ca-cert Secret as a key Secret:
// one entry that must parse as a public key, so a CA certificate fails the reconcile (and
// the controller drops the policy).
func TestInlineCACertSecret(t *testing.T) {
	p := &Policy{Spec: Spec{Authorities: []Authority{{Name: "a", Keyless: &KeylessRef{CACert: &KeyRef{SecretRef: &SecretRef{Name: "ca"}}}}}}}
	err := InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
		if name != "ca" {
			t.Fatalf("read %q, want ca", name)
		}
		return map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")}, nil
	})
	want := `secret "ca" contains an invalid public key: unknown Public key PEM file type: CERTIFICATE. Are you passing the correct public key?`
	if err == nil || err.Error() != want {
		t.Fatalf("err %v, want %q", err, want)
	}
}

// TestInlineKeySecretsUnread: a Secret this run cannot read leaves the authority alone and the
// later ones are still inlined or refused.
func TestInlineKeySecretsUnread(t *testing.T) {
	p := &Policy{Spec: Spec{Authorities: []Authority{
		{Name: "a", Key: &KeyRef{SecretRef: &SecretRef{Name: "unreadable"}}},
		{Name: "b", Key: &KeyRef{SecretRef: &SecretRef{Name: "missing"}}},
	}}}
	err := InlineKeySecrets(p, func(name string) (map[string][]byte, error) {
		if name == "unreadable" {
			return nil, ErrUnread
		}
		return nil, errors.New(`secrets "missing" not found`)
	})
	if err == nil || !strings.Contains(err.Error(), `secrets "missing" not found`) {
		t.Fatalf("err %v, want the later authority's reconcile failure", err)
	}
	if a := p.Spec.Authorities[0].Key; a.SecretRef == nil || a.Data != "" {
		t.Errorf("unreadable authority changed: %+v", a)
	}
}

// TestApplyCompiled: what policy-controller's reconcile inlined (a KMS key, a ConfigMap policy)
// is replayed from its config-image-policies entry.
func TestApplyCompiled(t *testing.T) {
	kms := &Policy{Name: "p", Spec: Spec{
		Authorities: []Authority{{Name: "a", Key: &KeyRef{KMS: "awskms:///alias/x"},
			Attestations: []Attestation{{Name: "review", PredicateType: "custom", Policy: &PolicyRef{Type: "cue", ConfigMapRef: &ConfigMapRef{Name: "cm", Key: "k"}}}}}},
	}}
	kms.markUnsupported()
	for _, u := range kms.Unsupported {
		kms.Warnings = append(kms.Warnings, u+unsupportedWarning)
	}
	if len(kms.Unsupported) != 2 {
		t.Fatalf("Unsupported = %q, want the KMS key and the ConfigMap policy", kms.Unsupported)
	}
	entry := `{"uid":"u","resourceVersion":"1","images":[{"glob":"**"}],"authorities":[{"name":"a","key":{"data":"PEM","hashAlgorithm":"sha256"},` +
		`"attestations":[{"name":"review","predicateType":"custom","type":"cue","data":"predicate: x: 1"}]}]}`
	if err := ApplyCompiled(kms, []byte(entry)); err != nil {
		t.Fatal(err)
	}
	a := kms.Spec.Authorities[0]
	if a.Key.Data != "PEM" || a.Key.KMS != "" || a.Attestations[0].Policy.Data != "predicate: x: 1" || a.Attestations[0].Policy.ConfigMapRef != nil {
		t.Errorf("not inlined: key %+v, policy %+v", a.Key, a.Attestations[0].Policy)
	}
	if len(kms.Unsupported) != 0 || len(kms.Warnings) != 0 {
		t.Errorf("Unsupported %q, Warnings %q: want none left", kms.Unsupported, kms.Warnings)
	}
	if err := ApplyCompiled(kms, []byte(`{"authorities":[]}`)); err == nil || !strings.Contains(err.Error(), "out of date") {
		t.Errorf("an entry of another shape: %v, want out of date", err)
	}
}

// TestInlinePolicyConfigMaps: a policy read from a ConfigMap in the controller's namespace,
// and the reconcile failures that drop the ClusterImagePolicy.
func TestInlinePolicyConfigMaps(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		readErr error
		wantErr string
	}{
		{"inlined", map[string]string{"p.cue": "x: 1"}, nil, ""},
		{"no data", map[string]string{}, nil, `configmap "pol" contains no data`},
		{"no such key", map[string]string{"other": "x: 1"}, nil, `configmap "pol" does not contain key p.cue`},
		{"not found", nil, errors.New(`configmaps "pol" not found`), `configmaps "pol" not found`},
		{"unread", nil, ErrUnread, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{Name: "c", Spec: Spec{Policy: &PolicyRef{Type: "cue", ConfigMapRef: &ConfigMapRef{Name: "pol", Namespace: "ignored", Key: "p.cue"}}}}
			p.markUnsupported()
			err := InlinePolicyConfigMaps(p, func(name string) (map[string]string, error) {
				if name != "pol" {
					t.Fatalf("read %q", name)
				}
				return tt.data, tt.readErr
			})
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tt.name == "inlined" && (p.Spec.Policy.Data != "x: 1" || len(p.Unsupported) != 0):
				t.Fatalf("data %q, Unsupported %q: want inlined", p.Spec.Policy.Data, p.Unsupported)
			case tt.name == "unread" && (p.Spec.Policy.ConfigMapRef == nil || len(p.Unsupported) != 1):
				t.Fatalf("an unread ConfigMap must leave the reference (unsupported): %+v %q", p.Spec.Policy, p.Unsupported)
			}
		})
	}
}
