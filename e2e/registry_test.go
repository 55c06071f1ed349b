//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestRegistryKinds checks the premise of `registry: referrers`: its scenarios get a registry
// that answers the OCI 1.1 referrers API and the others one that does not. Without this,
// cosign and Kyverno would quietly use the sha256-<digest> fallback tag and a referrers
// scenario would pass on the wrong registry. On the referrers registry, no referrer may have
// gone to a fallback tag either.
func TestRegistryKinds(t *testing.T) {
	for _, p := range s.scenarios {
		if len(p.sc.Images.Images) == 0 {
			continue
		}
		t.Run(p.sc.Name, func(t *testing.T) {
			p.requireReady(t)
			want := http.StatusNotFound
			if p.sc.Images.NeedsReferrers() {
				want = http.StatusOK
			}
			for _, img := range p.sc.Images.Images {
				digest, err := manifestDigest(p.registry, img.Repo(), img.Tag())
				if err != nil {
					t.Fatal(err)
				}
				code, err := status(http.MethodGet, "http://"+p.registry+"/v2/"+img.Repo()+"/referrers/"+digest)
				if err != nil {
					t.Fatal(err)
				}
				if code != want {
					t.Errorf("GET referrers of %s: %d, want %d (registry: %q)", img.Ref, code, want, p.sc.Images.Registry)
				}
				if !p.sc.Images.NeedsReferrers() {
					continue
				}
				fallback := "http://" + p.registry + "/v2/" + img.Repo() + "/manifests/" + strings.Replace(digest, ":", "-", 1)
				if code, err := status(http.MethodHead, fallback); err != nil {
					t.Fatal(err)
				} else if code != http.StatusNotFound {
					t.Errorf("%s: fallback tag answers %d, want 404: a client did not use the referrers API", img.Ref, code)
				}
			}
		})
	}
}

// manifestDigest is the digest the registry gives repo:tag.
func manifestDigest(registry, repo, tag string) (string, error) {
	req, err := http.NewRequest(http.MethodHead, "http://"+registry+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	d := resp.Header.Get("Docker-Content-Digest")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(d, "sha256:") {
		return "", fmt.Errorf("HEAD %s:%s: %s, digest %q", repo, tag, resp.Status, d)
	}
	return d, nil
}

func status(method, url string) (int, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
