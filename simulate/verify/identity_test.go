package verify_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

const (
	ghIssuer   = "https://token.actions.githubusercontent.com"
	ghSubject  = "https://github.com/acme/app/.github/workflows/release.yaml@refs/tags/v1"
	oauth      = "https://github.com/login/oauth"
	oidIssuer2 = "1.3.6.1.4.1.57264.1.8"
)

func newLeaf(t *testing.T, l verifytest.Leaf) *x509.Certificate {
	t.Helper()
	c, err := verifytest.NewLeaf(l)
	if err != nil {
		t.Fatalf("NewLeaf: %v", err)
	}
	return c
}

// matchText is "" for a match, the message for a *verify.FailedError, and flags anything else.
func matchText(err error) string {
	var f *verify.FailedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &f):
		return err.Error()
	}
	return "untyped error: " + err.Error()
}

func TestMatchIdentities(t *testing.T) {
	gh := verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Issuer: ghIssuer}
	// Email first, URI second: policy-controller compares every SAN.
	twoSANs := verifytest.Leaf{SANs: []string{"email:dev@acme.example", "uri:" + ghSubject}, Issuer: ghIssuer}
	mismatch := "none of the expected identities matched what was in the certificate, got subjects [" + ghSubject + "] with issuer " + ghIssuer
	for _, tc := range []struct {
		name string
		leaf verifytest.Leaf
		ids  []verify.Identity
		want string
	}{
		{"exact issuer and subject", gh, []verify.Identity{{Issuer: ghIssuer, Subject: ghSubject}}, ""},
		{"exact subject is not a prefix", gh, []verify.Identity{{Issuer: ghIssuer, Subject: "https://github.com/acme/app"}}, mismatch},
		{"regexps are unanchored", gh, []verify.Identity{{IssuerRegExp: "githubusercontent", SubjectRegExp: "acme/app"}}, ""},
		{"anchored regexp when written so", gh, []verify.Identity{{IssuerRegExp: "^token", SubjectRegExp: "acme"}}, mismatch},
		{"subject matches any SAN", twoSANs, []verify.Identity{{Issuer: ghIssuer, Subject: ghSubject}}, ""},
		{"identities are ORed", gh, []verify.Identity{{Issuer: oauth, Subject: ghSubject}, {Issuer: ghIssuer, SubjectRegExp: "^https://github.com/acme/"}}, ""},
		{"wrong issuer", gh, []verify.Identity{{Issuer: oauth, Subject: ghSubject}}, mismatch},
		{
			name: "all SANs listed in the message",
			leaf: twoSANs, ids: []verify.Identity{{Issuer: ghIssuer, Subject: "other@acme.example"}},
			want: "none of the expected identities matched what was in the certificate, got subjects [dev@acme.example, " + ghSubject + "] with issuer " + ghIssuer,
		},
		{
			// cosign reads only the first-generation issuer extension.
			name: "issuer only in the 1.1.8 extension",
			leaf: verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Extensions: map[string][]byte{oidIssuer2: utf8String(ghIssuer)}},
			ids:  []verify.Identity{{Issuer: ghIssuer, Subject: ghSubject}},
			want: "none of the expected identities matched what was in the certificate, got subjects [" + ghSubject + "] with issuer ",
		},
		{
			name: "malformed issuer regexp",
			leaf: gh, ids: []verify.Identity{{IssuerRegExp: "****", Subject: ghSubject}},
			want: "malformed issuer in identity: **** : error parsing regexp: missing argument to repetition operator: `*`",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchText(verify.MatchIdentities(newLeaf(t, tc.leaf), tc.ids)); got != tc.want {
				t.Errorf("MatchIdentities = %q, want %q", got, tc.want)
			}
		})
	}
}

// utf8String is a DER UTF8String, the encoding of Fulcio's current extensions.
func utf8String(s string) []byte {
	return append([]byte{0x0c, byte(len(s))}, s...)
}

func TestKubewardenConstraints(t *testing.T) {
	gh := verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Trigger: "push", Repository: "acme/app", Ref: "refs/tags/v1"}}
	email := verifytest.Leaf{SANs: []string{"email:dev@acme.example"}, Issuer: oauth}
	// sigstore-rs takes the first email or URI SAN as the subject and ignores the rest.
	uriThenEmail := verifytest.Leaf{SANs: []string{"dns:acme.example", "uri:" + ghSubject, "email:dev@acme.example"}, Issuer: ghIssuer}
	for _, tc := range []struct {
		name       string
		leaf       verifytest.Leaf
		constraint verify.KubewardenConstraint
		want       string
	}{
		{"keyless email", email, verify.KeylessExact{Issuer: oauth, Subject: "dev@acme.example"}, ""},
		{"keyless URI", gh, verify.KeylessExact{Issuer: ghIssuer, Subject: ghSubject}, ""},
		{
			"keyless wrong subject", email, verify.KeylessExact{Issuer: oauth, Subject: "ops@acme.example"},
			`SubjectEqual not satisfied: want issuer "https://github.com/login/oauth" and subject "ops@acme.example", certificate has issuer "https://github.com/login/oauth" and subject "dev@acme.example"`,
		},
		{
			"keyless wrong issuer", email, verify.KeylessExact{Issuer: ghIssuer, Subject: "dev@acme.example"},
			`SubjectEqual not satisfied: want issuer "https://token.actions.githubusercontent.com" and subject "dev@acme.example", certificate has issuer "https://github.com/login/oauth" and subject "dev@acme.example"`,
		},
		{"keyless subject is the first email or URI SAN", uriThenEmail, verify.KeylessExact{Issuer: ghIssuer, Subject: ghSubject}, ""},
		{
			"keyless later SANs do not count", uriThenEmail, verify.KeylessExact{Issuer: ghIssuer, Subject: "dev@acme.example"},
			`SubjectEqual not satisfied: want issuer "https://token.actions.githubusercontent.com" and subject "dev@acme.example", certificate has issuer "https://token.actions.githubusercontent.com" and subject "` + ghSubject + `"`,
		},
		{
			"keyless empty issuer does not match a missing extension",
			verifytest.Leaf{SANs: []string{"email:dev@acme.example"}}, verify.KeylessExact{Subject: "dev@acme.example"},
			`SubjectEqual not satisfied: want issuer "" and subject "dev@acme.example", certificate has no issuer extension and subject "dev@acme.example"`,
		},
		{
			"keyless reads only the 1.1.1 issuer",
			verifytest.Leaf{SANs: []string{"email:dev@acme.example"}, Extensions: map[string][]byte{oidIssuer2: utf8String(oauth)}},
			verify.KeylessExact{Issuer: oauth, Subject: "dev@acme.example"},
			`SubjectEqual not satisfied: want issuer "https://github.com/login/oauth" and subject "dev@acme.example", certificate has no issuer extension and subject "dev@acme.example"`,
		},
		{"no SAN extension", verifytest.Leaf{Issuer: oauth}, verify.KeylessExact{Issuer: oauth, Subject: "dev@acme.example"}, "Pkcs8 error : No SAN ext found"},
		{
			"only a DNS SAN", verifytest.Leaf{SANs: []string{"dns:acme.example"}, Issuer: oauth}, verify.KeylessExact{Issuer: oauth, Subject: "acme.example"},
			"Certificate with incomplete Subject Alternative Name",
		},
		{
			"workflow extension not UTF-8",
			verifytest.Leaf{SANs: []string{"email:dev@acme.example"}, Issuer: oauth, Extensions: map[string][]byte{"1.3.6.1.4.1.57264.1.4": {0xff, 0xfe}}},
			verify.KeylessExact{Issuer: oauth, Subject: "dev@acme.example"},
			"x509 error: Certificate's extension Sigstore GitHub Workflow name is not UTF8 compatible",
		},

		{"prefix gets a trailing slash", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com/acme"}, ""},
		{"prefix with its own slash", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com/acme/"}, ""},
		{
			"prefix does not match a longer owner name", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com/ac"},
			`SubjectURLPrefix not satisfied: want issuer "https://token.actions.githubusercontent.com" and a subject starting with "https://github.com/ac/", certificate has issuer "https://token.actions.githubusercontent.com" and subject "` + ghSubject + `"`,
		},
		{"prefix host and default port normalised", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "HTTPS://GitHub.com:443/acme"}, ""},
		{"prefix dot segments resolved", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com/other/../acme/app"}, ""},
		{"prefix of a bare host", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com"}, ""},
		{
			"prefix equal to the subject without slash",
			verifytest.Leaf{SANs: []string{"uri:https://github.com/acme"}, Issuer: ghIssuer}, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com/acme"},
			`SubjectURLPrefix not satisfied: want issuer "https://token.actions.githubusercontent.com" and a subject starting with "https://github.com/acme/", certificate has issuer "https://token.actions.githubusercontent.com" and subject "https://github.com/acme"`,
		},
		{
			"prefix wrong issuer", gh, verify.KeylessPrefix{Issuer: oauth, URLPrefix: "https://github.com/acme"},
			`SubjectURLPrefix not satisfied: want issuer "https://github.com/login/oauth" and a subject starting with "https://github.com/acme/", certificate has issuer "https://token.actions.githubusercontent.com" and subject "` + ghSubject + `"`,
		},
		{
			"prefix not an absolute URL", gh, verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "github.com/acme"},
			`Cannot build url prefix: "github.com/acme": relative URL without a base`,
		},

		{"github owner", gh, verify.GitHubActions{Owner: "acme"}, ""},
		{"github owner and repo", gh, verify.GitHubActions{Owner: "acme", Repo: "app"}, ""},
		{"github other repo", gh, verify.GitHubActions{Owner: "acme", Repo: "lib"}, `repo not satisfied: want "lib", certificate has "app"`},
		{"github owner is case-sensitive", gh, verify.GitHubActions{Owner: "Acme"}, `repo owner not satisfied: want "Acme", certificate has "acme"`},
		{
			// The owner comes from the extension, not from the subject URL.
			"github owner from the repository extension",
			verifytest.Leaf{SANs: []string{"uri:https://github.com/fork/app/.github/workflows/r.yaml@refs/heads/main"}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Repository: "acme/app"}},
			verify.GitHubActions{Owner: "acme", Repo: "app"}, "",
		},
		{
			"github without the first-generation extension",
			verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Repository: "acme/app", OmitLegacy: true}},
			verify.GitHubActions{Owner: "acme"},
			"The certificate is missing the github_workflow_repository extension despite being a GitHub Action one",
		},
		{
			"github repository extension without a repo",
			verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Repository: "acme"}},
			verify.GitHubActions{Owner: "acme"},
			"The certificate doesn't have a valid github_workflow_repository extension, despite the issuer being the GitHub Action one: acme",
		},
		{
			"github other issuer", verifytest.Leaf{SANs: []string{"uri:" + ghSubject}, Issuer: oauth, Workflow: &verifytest.Workflow{Repository: "acme/app"}},
			verify.GitHubActions{Owner: "acme"}, `issuer not satisfied: want "https://token.actions.githubusercontent.com", certificate has issuer "https://github.com/login/oauth"`,
		},
		{
			"github email subject", verifytest.Leaf{SANs: []string{"email:dev@acme.example"}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Repository: "acme/app"}},
			verify.GitHubActions{Owner: "acme"}, `subject not satisfied, expected URI, got email instead: "dev@acme.example"`,
		},
		{
			"github subject on another host",
			verifytest.Leaf{SANs: []string{"uri:https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"}, Issuer: ghIssuer, Workflow: &verifytest.Workflow{Repository: "acme/app"}},
			verify.GitHubActions{Owner: "acme"},
			"The certificate subject url doesn't seem a GitHub valid one, despite the issuer being the GitHub Action one: https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchText(tc.constraint.Match(newLeaf(t, tc.leaf))); got != tc.want {
				t.Errorf("Match = %q\nwant    %q", got, tc.want)
			}
		})
	}
}

func TestKubewardenConstraintYAML(t *testing.T) {
	for _, tc := range []struct {
		name       string
		constraint verify.KubewardenConstraint
		want       string
	}{
		// policy-fetcher's own expectation (verify/mod.rs test_verify_config_not_matching_all_of).
		{"keyless", verify.KeylessExact{Issuer: oauth, Subject: "user1@provider.com"}, "kind: genericIssuer\nissuer: https://github.com/login/oauth\nsubject: !equal user1@provider.com\nannotations: null\n"},
		// The URL as parsed, without the slash the verifier adds.
		{"prefix", verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://GitHub.com/kubewarden"}, "kind: genericIssuer\nissuer: https://token.actions.githubusercontent.com\nsubject: !urlPrefix https://github.com/kubewarden\nannotations: null\n"},
		{"prefix of a bare host", verify.KeylessPrefix{Issuer: ghIssuer, URLPrefix: "https://github.com"}, "kind: genericIssuer\nissuer: https://token.actions.githubusercontent.com\nsubject: !urlPrefix https://github.com/\nannotations: null\n"},
		{"github without repo", verify.GitHubActions{Owner: "kubewarden"}, "kind: githubAction\nowner: kubewarden\nrepo: null\nannotations: null\n"},
		{
			"github with repo and annotations", verify.GitHubActions{Owner: "kubewarden", Repo: "app", Annotations: map[string]string{"env": "prod", "build": "true"}},
			"kind: githubAction\nowner: kubewarden\nrepo: app\nannotations:\n  build: 'true'\n  env: prod\n",
		},
		{"empty annotations", verify.KeylessExact{Issuer: oauth, Subject: "a@b", Annotations: map[string]string{}}, "kind: genericIssuer\nissuer: https://github.com/login/oauth\nsubject: !equal a@b\nannotations: {}\n"},
		{"quoted scalars", verify.KeylessExact{Issuer: "", Subject: "a: b"}, "kind: genericIssuer\nissuer: ''\nsubject: !equal 'a: b'\nannotations: null\n"},
		{"numeric owner", verify.GitHubActions{Owner: "123", Repo: "it's"}, "kind: githubAction\nowner: '123'\nrepo: it's\nannotations: null\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.constraint.YAML(); got != tc.want {
				t.Errorf("YAML() = %q\nwant     %q", got, tc.want)
			}
		})
	}
	// policy-fetcher's test_verify_config_missing_signatures_all_of: only the unsatisfied entries, in order.
	got := verify.KubewardenMissingSignatures([]verify.KubewardenConstraint{verify.KeylessExact{Issuer: oauth, Subject: "user3@provider.com"}})
	want := "Image verification failed: missing signatures\nThe following constraints were not satisfied:\nkind: genericIssuer\nissuer: https://github.com/login/oauth\nsubject: !equal user3@provider.com\nannotations: null\n"
	if got != want {
		t.Errorf("KubewardenMissingSignatures = %q\nwant %q", got, want)
	}
}
