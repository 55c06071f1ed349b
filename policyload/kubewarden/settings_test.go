package kubewarden

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// indented is text with every line but the first indented by n spaces (a YAML block scalar).
func indented(text string, n int) string {
	return strings.ReplaceAll(text, "\n", "\n"+strings.Repeat(" ", n))
}

func TestParseSettings(t *testing.T) {
	key := indented(testKey, 8)
	repo := "app"
	c := testCerts()
	tests := []struct {
		name string
		yaml string
		want *Settings
		// wantErr is the exact error ("" for none); wantErrPrefix a prefix of it.
		wantErr, wantErrPrefix string
	}{
		{
			name: "modifyImagesWithDigest defaults to true",
			yaml: "signatures:\n- image: \"ghcr.io/acme/*\"\n  pubKeys:\n  - |\n    " + indented(testKey, 4) + "\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{
				{Image: "ghcr.io/acme/*", Kind: KindPubKeys, PubKeys: []string{testKey + "\n"}}}},
		},
		{
			name: "modifyImagesWithDigest explicit false",
			yaml: "modifyImagesWithDigest: false\nsignatures:\n- image: \"*\"\n  pubKeys: [" + jsonString(testKey) + "]\n",
			want: &Settings{Signatures: []Signature{{Image: "*", Kind: KindPubKeys, PubKeys: []string{testKey}}}},
		},
		{
			name: "pubKeys and keyless in one entry: pubKeys, the first variant",
			yaml: `signatures:
- image: "ghcr.io/acme/*"
  keyless: [{issuer: "https://token.actions.githubusercontent.com", subject: "someone@example.com"}]
  pubKeys:
  - |
        ` + key + "\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{
				{Image: "ghcr.io/acme/*", Kind: KindPubKeys, PubKeys: []string{testKey + "\n"}}}},
		},
		{
			name: "keyless",
			yaml: `signatures:
- image: "nginx:*"
  keyless:
  - {issuer: "https://github.com/login/oauth", subject: "flavio@castelli.me"}
  - {issuer: "https://accounts.google.com", subject: "someone@example.com"}
`,
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "nginx:*", Kind: KindKeyless, Keyless: []KeylessInfo{
				{Issuer: "https://github.com/login/oauth", Subject: "flavio@castelli.me"},
				{Issuer: "https://accounts.google.com", Subject: "someone@example.com"}}}}},
		},
		{
			name: "keyless: [] passes settings validation (the host refuses it at run time)",
			yaml: "signatures:\n- {image: \"*\", keyless: []}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindKeyless, Keyless: []KeylessInfo{}}}},
		},
		{
			name:    "keyless entry without subject fits no variant",
			yaml:    "signatures:\n- {image: \"*\", keyless: [{issuer: \"https://accounts.google.com\"}]}\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name: "githubActions with repo",
			yaml: "signatures:\n- {image: \"ghcr.io/acme/*\", githubActions: {owner: acme, repo: app}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "ghcr.io/acme/*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme", Repo: &repo}}}},
		},
		{
			name: "githubActions without repo",
			yaml: "signatures:\n- {image: \"ghcr.io/acme/*\", githubActions: {owner: acme}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "ghcr.io/acme/*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme"}}}},
		},
		{
			name:    "githubActions without owner fits no variant",
			yaml:    "signatures:\n- {image: \"*\", githubActions: {repo: app}}\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name: "a keyless list that does not fit falls through to githubActions, keeping nothing of it",
			yaml: "signatures:\n- {image: \"*\", keyless: [{issuer: i}], githubActions: {owner: acme}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme"}}}},
		},
		{
			name: "keylessPrefix with url_prefix",
			yaml: "signatures:\n- {image: \"*\", keylessPrefix: [{issuer: \"https://token.actions.githubusercontent.com\", url_prefix: \"https://github.com/acme\"}]}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindKeylessPrefix,
				KeylessPrefix: []KeylessPrefixInfo{{Issuer: "https://token.actions.githubusercontent.com", URLPrefix: "https://github.com/acme"}}}}},
		},
		{
			// The README spells it urlPrefix; the SDK type has no serde rename.
			name:    "keylessPrefix with urlPrefix fits no variant",
			yaml:    "signatures:\n- {image: \"*\", keylessPrefix: [{issuer: \"https://token.actions.githubusercontent.com\", urlPrefix: \"https://github.com/acme\"}]}\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name:          "keylessPrefix: [] is refused with the keyless display text",
			yaml:          "signatures:\n- {image: \"ghcr.io/acme/*\", keylessPrefix: []}\n",
			wantErrPrefix: `Keyless signature for image ghcr.io/acme/*: "`,
		},
		{
			name: "certificates with chain and requireRekorBundle",
			yaml: "signatures:\n- image: \"ghcr.io/acme/*\"\n  certificates: [" + jsonString(c.leaf) + "]\n  certificateChain: [" + jsonString(c.ca) + "]\n  requireRekorBundle: true\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "ghcr.io/acme/*", Kind: KindCertificate,
				Certificates: []string{c.leaf}, CertificateChain: []string{c.ca}, RequireRekorBundle: true}}},
		},
		{
			name:    "a chain that does not trust the certificate (row 38)",
			yaml:    "signatures:\n- image: myimage\n  certificates: [" + jsonString(c.leaf) + "]\n  certificateChain: [" + jsonString(c.otherCA) + "]\n  requireRekorBundle: false\n",
			wantErr: `Certificate signature for image myimage: "Certificate not trusted: Certificate is not trusted by the provided cert chain"`,
		},
		{
			name: "each certificate's reason, joined by '; '; without a chain, the system's roots",
			yaml: "signatures:\n- image: myimage\n  certificates: [" + jsonString(c.expired) + ", " + jsonString(c.leaf) + ", " + jsonString(testKey) + "]\n  requireRekorBundle: false\n",
			wantErrPrefix: `Certificate signature for image myimage: "Certificate not trusted: Certificate is being used after its expiration date; ` +
				`Certificate not trusted: Certificate is not trusted by the provided cert chain; Certificate PEM data is not valid: `,
		},
		{
			name:    "certificates without requireRekorBundle fit no variant",
			yaml:    "signatures:\n- image: \"ghcr.io/acme/*\"\n  certificates: [" + jsonString(testKey) + "]\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name:    "certificate chain that is not PEM",
			yaml:    "signatures:\n- image: myimage\n  certificates: [" + jsonString(testKey) + "]\n  certificateChain: [\"not pem\"]\n  requireRekorBundle: false\n",
			wantErr: `Certificate signature for image myimage: "non-PEM data found"`,
		},
		{
			name: "annotations not given stay nil",
			yaml: "signatures:\n- {image: \"*\", githubActions: {owner: acme}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme"}, Annotations: nil}}},
		},
		{
			name: "annotations {} stay an empty map",
			yaml: "signatures:\n- {image: \"*\", githubActions: {owner: acme}, annotations: {}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme"}, Annotations: map[string]string{}}}},
		},
		{
			name: "annotations with values",
			yaml: "signatures:\n- {image: \"*\", keyless: [{issuer: i, subject: s}], annotations: {env: prod}}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindKeyless,
				Keyless: []KeylessInfo{{Issuer: "i", Subject: "s"}}, Annotations: map[string]string{"env": "prod"}}}},
		},
		{
			name:    "signatures: [] is refused",
			yaml:    "signatures: []\n",
			wantErr: "Signatures must not be empty",
		},
		{
			name:    "missing signatures",
			yaml:    "modifyImagesWithDigest: true\n",
			wantErr: "Signatures must not be empty",
		},
		{
			name:    "no settings",
			yaml:    "null\n",
			wantErr: "Signatures must not be empty",
		},
		{
			name:    "an entry without image fits no variant",
			yaml:    "signatures:\n- pubKeys: [" + jsonString(testKey) + "]\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name:    "an images list is not image",
			yaml:    "signatures:\n- images: [\"*\"]\n  pubKeys: [" + jsonString(testKey) + "]\n",
			wantErr: "data did not match any variant of untagged enum Signature",
		},
		{
			name:          "a pubKey that is not PEM",
			yaml:          "signatures:\n- {image: \"ghcr.io/acme/*\", pubKeys: [hello]}\n",
			wantErrPrefix: `Pub key signature for image ghcr.io/acme/*: "`,
		},
		{
			name:          "pubKeys: [] is refused",
			yaml:          "signatures:\n- {image: \"ghcr.io/acme/*\", pubKeys: []}\n",
			wantErrPrefix: `Pub key signature for image ghcr.io/acme/*: "`,
		},
		{
			name:    "modifyImagesWithDigest: null is refused",
			yaml:    "modifyImagesWithDigest: null\nsignatures:\n- {image: \"*\", keyless: [{issuer: i, subject: s}]}\n",
			wantErr: "invalid type: null, expected a boolean",
		},
		{
			name:    "an empty image is refused for a keyless entry too",
			yaml:    "signatures:\n- {image: \"\", keyless: [{issuer: i, subject: s}]}\n",
			wantErr: `Keyless signature for image : "no image provided"`,
		},
		{
			name:          "an empty image is refused",
			yaml:          "signatures:\n- {image: \"\", pubKeys: [" + jsonString(testKey) + "]}\n",
			wantErrPrefix: `Pub key signature for image : "`,
		},
		{
			name: "every invalid entry is reported, joined by '; '",
			yaml: "signatures:\n- {image: a, pubKeys: [hello]}\n- {image: ok, keyless: [{issuer: i, subject: s}]}\n" +
				"- {image: b, certificates: [hello], requireRekorBundle: true}\n",
			wantErr: `Pub key signature for image a: "non-PEM data found"; Certificate signature for image b: "non-PEM data found"`,
		},
		{
			name: "unknown top-level keys are ignored",
			yaml: "extra: 1\nimages: [\"*\"]\nsignatures:\n- {image: \"*\", githubActions: {owner: acme}, unknown: x}\n",
			want: &Settings{ModifyImagesWithDigest: true, Signatures: []Signature{{Image: "*", Kind: KindGitHubActions,
				GitHubActions: &GitHubActions{Owner: "acme"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSettings(json.RawMessage(fromYAML(t, tt.yaml)))
			switch {
			case tt.wantErr != "" || tt.wantErrPrefix != "":
				if err == nil {
					t.Fatalf("ParseSettings = %+v, want an error", got)
				}
				if tt.wantErr != "" && err.Error() != tt.wantErr {
					t.Errorf("error %q, want %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), tt.wantErrPrefix) {
					t.Errorf("error %q, want it to start with %q", err, tt.wantErrPrefix)
				}
				if got != nil {
					t.Errorf("settings %+v returned with the error", got)
				}
			case err != nil:
				t.Fatalf("ParseSettings: %v", err)
			default:
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("settings (-want +got):\n%s", d)
				}
			}
		})
	}
}

// TestParseSettingsAnnotationsNil: absent and null annotations are nil, {} an empty map
// (Kubewarden's constraint texts tell them apart: "annotations: null").
func TestParseSettingsAnnotationsNil(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantNil bool
	}{
		{"absent", "signatures:\n- {image: \"*\", keyless: [{issuer: i, subject: s}]}\n", true},
		{"null", "signatures:\n- {image: \"*\", keyless: [{issuer: i, subject: s}], annotations: null}\n", true},
		{"empty", "signatures:\n- {image: \"*\", keyless: [{issuer: i, subject: s}], annotations: {}}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSettings(json.RawMessage(fromYAML(t, tt.yaml)))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Signatures[0].Annotations == nil; got != tt.wantNil {
				t.Errorf("annotations %#v: nil = %v, want %v", s.Signatures[0].Annotations, got, tt.wantNil)
			}
		})
	}
}

// jsonString is s as a JSON (and YAML flow) string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
