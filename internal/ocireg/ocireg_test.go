package ocireg_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
)

// put uploads a blob-free manifest (the registry does not check blobs of OCI manifests).
func put(t *testing.T, base, repo, ref, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %s", ref, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest")
}

func TestReferrersArtifactType(t *testing.T) {
	srv := httptest.NewServer(ocireg.New(true, nil))
	defer srv.Close()
	const empty = `{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`
	subject := put(t, srv.URL, "app", "v1", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":`+empty+`,"layers":[]}`)
	subj := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject + `","size":1}`
	put(t, srv.URL, "app", "sha256:"+strings.Repeat("0", 64), `{}`) // ignored: not a referrer
	bundle := put(t, srv.URL, "app", "b", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":`+empty+`,"layers":[],"subject":`+subj+`}`)
	sig := put(t, srv.URL, "app", "s", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.dev.cosign.artifact.sig.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"subject":`+subj+`}`)

	tests := []struct {
		name, query string
		want        map[string]string // digest -> artifactType
		filtered    bool
	}{
		{"declared artifactType wins over the config's", "", map[string]string{bundle: "application/vnd.dev.sigstore.bundle.v0.3+json", sig: "application/vnd.dev.cosign.artifact.sig.v1+json"}, false},
		{"artifactType filter", "?artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson", map[string]string{bundle: "application/vnd.dev.sigstore.bundle.v0.3+json"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/v2/app/referrers/" + subject + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close() //nolint:errcheck // test
			var idx struct {
				Manifests []struct{ Digest, ArtifactType string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, m := range idx.Manifests {
				got[m.Digest] = m.ArtifactType
			}
			if len(got) != len(tt.want) {
				t.Fatalf("referrers = %v, want %v", got, tt.want)
			}
			for d, at := range tt.want {
				if got[d] != at {
					t.Errorf("artifactType of %s = %q, want %q", d, got[d], at)
				}
			}
			if (resp.Header.Get("OCI-Filters-Applied") == "artifactType") != tt.filtered {
				t.Errorf("OCI-Filters-Applied = %q", resp.Header.Get("OCI-Filters-Applied"))
			}
		})
	}
}
