package kubewarden

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/kwcert"
)

// ParseSettings reads verify-image-signatures' settings as its serde types do: unknown keys
// ignored, modifyImagesWithDigest true by default, each signatures[] entry the first shape of
// the untagged enum it fits (pubKeys, keyless, githubActions, keylessPrefix, certificates, in
// that order, so an entry with pubKeys and keyless is a pubKeys one); then the policy's own
// validation. The error is the reason policy-server gives after "Policy settings are invalid: ".
func ParseSettings(raw json.RawMessage) (*Settings, error) {
	if isNull(raw) {
		// The settings struct defaults every field: no settings are empty signatures.
		return nil, errors.New("Signatures must not be empty") //nolint:staticcheck // the policy's text
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, errors.New("invalid type: expected struct Settings")
	}
	s := &Settings{ModifyImagesWithDigest: true}
	if m, ok := top["modifyImagesWithDigest"]; ok {
		if isNull(m) || json.Unmarshal(m, &s.ModifyImagesWithDigest) != nil {
			return nil, fmt.Errorf("invalid type: %s, expected a boolean", strings.TrimSpace(string(m)))
		}
	}
	// signatures defaults to empty (the struct's serde default), which validation refuses.
	var entries []json.RawMessage
	if sigs, ok := top["signatures"]; ok {
		if isNull(sigs) || json.Unmarshal(sigs, &entries) != nil {
			return nil, fmt.Errorf("invalid type: %s, expected a sequence", strings.TrimSpace(string(sigs)))
		}
	}
	for _, e := range entries {
		sig, ok := parseSignature(e)
		if !ok {
			return nil, errors.New("data did not match any variant of untagged enum Signature")
		}
		s.Signatures = append(s.Signatures, sig)
	}
	if len(s.Signatures) == 0 {
		return nil, errors.New("Signatures must not be empty") //nolint:staticcheck // the policy's text
	}
	var problems []string
	for _, sig := range s.Signatures {
		if err := sig.validate(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q", sig.display(), err.Error()))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return s, nil
}

// parseSignature tries the variants in serde's order; a variant fits when its required
// fields are present with the right types (extra keys are ignored).
func parseSignature(raw json.RawMessage) (Signature, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return Signature{}, false
	}
	var sig Signature
	if !field(fields, "image", true, &sig.Image) {
		return Signature{}, false
	}
	var ann map[string]string
	if !field(fields, "annotations", false, &ann) {
		return Signature{}, false
	}
	sig.Annotations = ann
	// Each variant decodes into its own copy, so that what a variant that did not fit read
	// (a keyless list without subjects before a githubActions fit) is not kept.
	base := sig
	try := func(kind string, f func(s *Signature) bool) bool {
		s := base
		if f(&s) {
			s.Kind = kind
			sig = s
			return true
		}
		return false
	}
	switch {
	case try(KindPubKeys, func(s *Signature) bool { return field(fields, "pubKeys", true, &s.PubKeys) }):
	case try(KindKeyless, func(s *Signature) bool {
		return field(fields, "keyless", true, &s.Keyless) && keylessComplete(fields["keyless"])
	}):
	case try(KindGitHubActions, func(s *Signature) bool {
		return field(fields, "githubActions", true, &s.GitHubActions) && s.GitHubActions != nil && hasKeys(fields["githubActions"], "owner")
	}):
	case try(KindKeylessPrefix, func(s *Signature) bool {
		return field(fields, "keylessPrefix", true, &s.KeylessPrefix) && everyHasKeys(fields["keylessPrefix"], "issuer", "url_prefix")
	}):
	case try(KindCertificate, func(s *Signature) bool {
		return field(fields, "certificates", true, &s.Certificates) && field(fields, "certificateChain", false, &s.CertificateChain) &&
			field(fields, "requireRekorBundle", true, &s.RequireRekorBundle)
	}):
	default:
		return Signature{}, false
	}
	return sig, true
}

// field decodes fields[name] into into; false when a required field is missing or null, or
// when the value has the wrong type. An absent or null optional field leaves into alone.
func field(fields map[string]json.RawMessage, name string, required bool, into any) bool {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return !required
	}
	return json.Unmarshal(raw, into) == nil
}

func keylessComplete(raw json.RawMessage) bool { return everyHasKeys(raw, "issuer", "subject") }

func hasKeys(raw json.RawMessage, keys ...string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, k := range keys {
		v, ok := m[k]
		if !ok || isNull(v) {
			return false
		}
	}
	return true
}

func everyHasKeys(raw json.RawMessage, keys ...string) bool {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return false
	}
	for _, e := range list {
		if !hasKeys(e, keys...) {
			return false
		}
	}
	return true
}

// display is the entry's Display text, which validation errors start with.
func (s Signature) display() string {
	switch s.Kind {
	case KindPubKeys:
		return "Pub key signature for image " + s.Image
	case KindKeyless, KindKeylessPrefix:
		return "Keyless signature for image " + s.Image
	case KindGitHubActions:
		return "GitHub action signature for image " + s.Image
	}
	return "Certificate signature for image " + s.Image
}

// validate is the entry's own validation (the policy's validator rules).
func (s Signature) validate() error {
	switch s.Kind {
	case KindPubKeys:
		switch {
		case s.Image == "":
			return errors.New("no image provided")
		case len(s.PubKeys) == 0:
			return errors.New("no public key provided")
		}
		return allPEM(s.PubKeys)
	case KindKeyless, KindGitHubActions:
		if s.Image == "" {
			return errors.New("no image provided")
		}
	case KindKeylessPrefix:
		switch {
		case s.Image == "":
			return errors.New("no image provided")
		case len(s.KeylessPrefix) == 0:
			return errors.New("no keyless prefix provided")
		}
	case KindCertificate:
		switch {
		case s.Image == "":
			return errors.New("no image provided")
		case len(s.Certificates) == 0:
			return errors.New("no certificate provided")
		}
		if err := allPEM(s.Certificates); err != nil {
			return err
		}
		if err := allPEM(s.CertificateChain); err != nil {
			return err
		}
		// The host's is_certificate_trusted, for each certificate, now.
		var reasons []string
		for _, c := range s.Certificates {
			if err := kwcert.SettingsTrusted(c, s.CertificateChain, time.Now()); err != nil {
				reason := err.Error()
				if !strings.HasPrefix(reason, "Certificate PEM data is not valid") && !strings.HasPrefix(reason, "Certificate not trusted: ") {
					reason = "Certificate not trusted: " + reason
				}
				reasons = append(reasons, reason)
			}
		}
		if len(reasons) > 0 {
			return errors.New(strings.Join(reasons, "; "))
		}
	}
	return nil
}

func allPEM(items []string) error {
	for _, it := range items {
		if b, _ := pem.Decode([]byte(it)); b == nil {
			return errors.New("non-PEM data found")
		}
	}
	return nil
}
