// Package krew renders the plugin manifest template (.krew.yaml at the repository root) the way
// krew-release-bot renders it for a release: a Go template over {{ .TagName }}, where
// addURIAndSha "<asset URL with {{ .TagName }}>" .TagName becomes the asset's uri and sha256
// lines and indent N re-indents text. Tests render it for locally built archives; releases use
// the bot itself.
package krew

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// Asset says where a release asset is served and what its sha256 is. ok is false when the
// asset was not built (a local build has only some platforms): Render then leaves out the
// platform that names it.
type Asset func(url string) (uri, sha256 string, ok bool, err error)

// Values are the template's data, as the release bot passes them.
type Values struct {
	TagName string
}

// missingSHA marks a platform whose asset is not there, so that Render can drop it after the
// template ran (a template function cannot remove the block it stands in).
const missingSHA = "kubectl-verify-krew-asset-not-built"

// Render executes the template for tag. It returns the manifest and the URLs of the assets
// that were not there (their platforms left out).
func Render(tmpl []byte, tag string, asset Asset) ([]byte, []string, error) {
	var missing []string
	var assetErr error
	funcs := template.FuncMap{
		"indent": indent,
		"addURIAndSha": func(url, tag string) (string, error) {
			u, err := expand(url, tag)
			if err != nil {
				return "", err
			}
			uri, sum, ok, err := asset(u)
			if err != nil {
				assetErr = fmt.Errorf("asset %s: %w", u, err)
				return "", assetErr
			}
			if !ok {
				missing = append(missing, u)
				uri, sum = u, missingSHA
			}
			// The bot's own layout: uri, then sha256 at the four-space indent of a platform.
			return fmt.Sprintf("uri: %s\n    sha256: %s", uri, sum), nil
		},
	}
	t, err := template.New(".krew.yaml").Option("missingkey=error").Funcs(funcs).Parse(string(tmpl))
	if err != nil {
		return nil, nil, fmt.Errorf(".krew.yaml: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, Values{TagName: tag}); err != nil {
		if assetErr != nil {
			return nil, nil, assetErr
		}
		return nil, nil, fmt.Errorf(".krew.yaml: %w", err)
	}
	if len(missing) == 0 {
		return buf.Bytes(), nil, nil
	}
	out, err := dropMissing(buf.Bytes())
	return out, missing, err
}

// expand renders the asset URL's own template, with TagName and Version (the tag's dotted
// numbers) as the bot gives them.
func expand(url, tag string) (string, error) {
	t, err := template.New("url").Option("missingkey=error").Parse(url)
	if err != nil {
		return "", fmt.Errorf("asset URL %q: %w", url, err)
	}
	version := versionRE.FindString(tag)
	if version == "" {
		version = tag
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]string{"TagName": tag, "Version": version}); err != nil {
		return "", fmt.Errorf("asset URL %q: %w", url, err)
	}
	return b.String(), nil
}

var versionRE = regexp.MustCompile(`\d+(\.\d+)+`)

// indent pads every line of v by n spaces (the first one too, then trimmed, since the
// template places it), undoing addURIAndSha's own four-space sha256 indent first.
func indent(n int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", n)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}

// dropMissing removes the platforms whose asset was not built.
func dropMissing(manifest []byte) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("rendered manifest: %w", err)
	}
	spec, _ := m["spec"].(map[string]any)
	platforms, _ := spec["platforms"].([]any)
	kept := []any{}
	for _, p := range platforms {
		if pm, ok := p.(map[string]any); ok && pm["sha256"] == missingSHA {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("rendered manifest: no platform's asset is there")
	}
	spec["platforms"] = kept
	return yaml.Marshal(m)
}
