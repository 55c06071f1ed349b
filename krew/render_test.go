package krew

import (
	"errors"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files"`
}

type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats"`
		Platforms        []platform `json:"platforms"`
	} `json:"spec"`
}

func readTemplate(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../.krew.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeSHA is a stand-in digest per asset name, so that each platform's line is told apart.
func fakeSHA(name string) string {
	return strings.Repeat("0", 64-len(name)%10) + strings.Repeat("a", len(name)%10)
}

func served(names ...string) Asset {
	return func(url string) (string, string, bool, error) {
		name := path.Base(url)
		if len(names) > 0 && !slices.Contains(names, name) {
			return "", "", false, nil
		}
		return "http://127.0.0.1:1/" + name, fakeSHA(name), true, nil
	}
}

var shaRE = regexp.MustCompile(`^[a-f0-9]{64}$`)

func TestRenderTemplate(t *testing.T) {
	out, missing, err := Render(readTemplate(t), "v1.2.3", served())
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 0 {
		t.Errorf("missing = %v, want none", missing)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatalf("rendered manifest does not read as a krew Plugin: %v\n%s", err, out)
	}
	// krew's structural rules (its internal/index/validation), so that the release bot's
	// validation cannot fail on what the template itself decides.
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" {
		t.Errorf("apiVersion/kind = %s/%s", m.APIVersion, m.Kind)
	}
	if m.Metadata.Name != "verify" {
		t.Errorf("name = %q, want verify (kubectl verify)", m.Metadata.Name)
	}
	if m.Spec.Version != "v1.2.3" {
		t.Errorf("version = %q, want the tag", m.Spec.Version)
	}
	if m.Spec.ShortDescription == "" || strings.Contains(m.Spec.ShortDescription, "\n") || len(m.Spec.ShortDescription) > 70 {
		t.Errorf("shortDescription %q: one line of at most 70 characters", m.Spec.ShortDescription)
	}
	for field, text := range map[string]string{"description": m.Spec.Description, "caveats": m.Spec.Caveats} {
		for _, line := range strings.Split(text, "\n") {
			if len(line) > 80 {
				t.Errorf("%s line over 80 characters (krew-index warns): %q", field, line)
			}
		}
	}
	if !strings.Contains(m.Spec.Caveats, "clusterimagepolicies") || !strings.Contains(m.Spec.Caveats, "deploy/rbac.yaml") {
		t.Errorf("caveats do not state the RBAC the plugin needs:\n%s", m.Spec.Caveats)
	}

	var got []string
	for i, p := range m.Spec.Platforms {
		os, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		if len(p.Selector.MatchLabels) != 2 {
			t.Errorf("platform %d selector %v: krew allows only os and arch", i, p.Selector.MatchLabels)
		}
		got = append(got, os+"/"+arch)
		ext, exe := ".tar.gz", ""
		if os == "windows" {
			ext, exe = ".zip", ".exe"
		}
		name := "kubectl-verify_" + os + "_" + arch + ext
		if want := "http://127.0.0.1:1/" + name; p.URI != want {
			t.Errorf("%s/%s uri = %q, want %q", os, arch, p.URI, want)
		}
		if !shaRE.MatchString(p.SHA256) || p.SHA256 != fakeSHA(name) {
			t.Errorf("%s/%s sha256 = %q, want the asset's", os, arch, p.SHA256)
		}
		if p.Bin != "kubectl-verify"+exe {
			t.Errorf("%s/%s bin = %q", os, arch, p.Bin)
		}
		var from []string
		for _, f := range p.Files {
			from = append(from, f.From)
		}
		if !slices.Contains(from, p.Bin) || !slices.Contains(from, "LICENSE") {
			t.Errorf("%s/%s files %v: the binary and LICENSE (krew-index requires it) must be installed", os, arch, from)
		}
	}
	want := []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
}

func TestRenderLeavesOutAssetsNotBuilt(t *testing.T) {
	out, missing, err := Render(readTemplate(t), "v0.1.0", served("kubectl-verify_linux_amd64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Spec.Platforms) != 1 || m.Spec.Platforms[0].Selector.MatchLabels["os"] != "linux" || m.Spec.Platforms[0].Selector.MatchLabels["arch"] != "amd64" {
		t.Errorf("platforms = %+v, want linux/amd64 only", m.Spec.Platforms)
	}
	if len(missing) != 5 || !strings.HasSuffix(missing[0], "/v0.1.0/kubectl-verify_linux_arm64.tar.gz") {
		t.Errorf("missing = %v, want the five other release URLs", missing)
	}
	if strings.Contains(string(out), missingSHA) {
		t.Errorf("marker left in the manifest:\n%s", out)
	}

	if _, _, err := Render(readTemplate(t), "v0.1.0", served("none")); err == nil {
		t.Error("no asset at all: want an error")
	}
}

func TestRenderFunctions(t *testing.T) {
	tests := []struct {
		name, tmpl, want string
		asset            Asset
		wantErr          string
	}{
		{
			name:  "url template gets TagName and Version",
			tmpl:  `{{ addURIAndSha "https://h/{{ .TagName }}/x-{{ .Version }}.tar.gz" .TagName }}`,
			asset: func(url string) (string, string, bool, error) { return url, "ab", true, nil },
			want:  "uri: https://h/v2.0.1-rc.1/x-2.0.1.tar.gz\n    sha256: ab",
		},
		{
			name:  "indent re-indents the pair",
			tmpl:  `{{ addURIAndSha "https://h/a" .TagName | indent 6 }}`,
			asset: func(url string) (string, string, bool, error) { return url, "ab", true, nil },
			want:  "uri: https://h/a\n      sha256: ab",
		},
		{
			name:    "an asset that cannot be read fails the render",
			tmpl:    `{{ addURIAndSha "https://h/a" .TagName }}`,
			asset:   func(string) (string, string, bool, error) { return "", "", false, errors.New("503") },
			wantErr: "asset https://h/a: 503",
		},
		{
			name:    "unknown field",
			tmpl:    `{{ .Tag }}`,
			asset:   served(),
			wantErr: "can't evaluate field Tag",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Render([]byte(tc.tmpl), "v2.0.1-rc.1", tc.asset)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Render() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("Render() = %q, want %q", out, tc.want)
			}
		})
	}
}

// TestGoReleaserBuildsWhatTheManifestNames: every platform of .krew.yaml is a target of the
// release build in .goreleaser.yaml and names its archive, and the archives carry the files
// the manifest installs.
func TestGoReleaserBuildsWhatTheManifestNames(t *testing.T) {
	b, err := os.ReadFile("../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ProjectName string `json:"project_name"`
		Builds      []struct {
			ID     string   `json:"id"`
			Binary string   `json:"binary"`
			Goos   []string `json:"goos"`
			Goarch []string `json:"goarch"`
		} `json:"builds"`
		Archives []struct {
			IDs          []string `json:"ids"`
			NameTemplate string   `json:"name_template"`
			Formats      []string `json:"formats"`
			Overrides    []struct {
				Goos    string   `json:"goos"`
				Formats []string `json:"formats"`
			} `json:"format_overrides"`
			Files []any `json:"files"`
		} `json:"archives"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) == 0 || len(cfg.Archives) != 1 {
		t.Fatalf(".goreleaser.yaml: %d builds, %d archives", len(cfg.Builds), len(cfg.Archives))
	}
	release, archive := cfg.Builds[0], cfg.Archives[0]
	if archive.NameTemplate != "{{ .ProjectName }}_{{ .Os }}_{{ .Arch }}" || cfg.ProjectName != "kubectl-verify" || release.Binary != "kubectl-verify" {
		t.Fatalf("archive names changed (%q, project %q, binary %q): update this test and .krew.yaml together", archive.NameTemplate, cfg.ProjectName, release.Binary)
	}
	var built []string
	for _, os := range release.Goos {
		for _, arch := range release.Goarch {
			format := archive.Formats[0]
			for _, o := range archive.Overrides {
				if o.Goos == os {
					format = o.Formats[0]
				}
			}
			built = append(built, cfg.ProjectName+"_"+os+"_"+arch+"."+format)
		}
	}
	_, _, err = Render(readTemplate(t), "v1.0.0", func(url string) (string, string, bool, error) {
		if !slices.Contains(built, path.Base(url)) {
			return "", "", false, errors.New("not an archive GoReleaser builds")
		}
		return url, fakeSHA(url), true, nil
	})
	if err != nil {
		t.Errorf("%v (GoReleaser builds %v)", err, built)
	}
	files, _ := yaml.Marshal(archive.Files)
	for _, f := range []string{"LICENSE", "krew/kubectl_complete-verify"} {
		if !strings.Contains(string(files), f) {
			t.Errorf("archives do not carry %s", f)
		}
	}
}
