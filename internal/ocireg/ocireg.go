// Package ocireg is the test registry: go-containerregistry's in-memory registry, with its
// OCI 1.1 referrers answer brought to the distribution spec. That registry reports each
// referrer's artifactType as its config media type even when the manifest declares its own
// artifactType (as cosign v3's Sigstore bundles do, over an empty config), and it ignores the
// artifactType filter; real registries do neither, and engines select referrers by it.
package ocireg

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// New returns the registry handler; referrers turns the referrers API on. logger nil
// discards the registry's request log.
func New(referrers bool, logger *log.Logger) http.Handler {
	opts := []registry.Option{}
	if logger != nil {
		opts = append(opts, registry.Logger(logger))
	} else {
		opts = append(opts, registry.Logger(log.New(discard{}, "", 0)))
	}
	if !referrers {
		return registry.New(opts...)
	}
	inner := registry.New(append(opts, registry.WithReferrersSupport(true))...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, ok := referrersRepo(r)
		if !ok {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		var idx v1.IndexManifest
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &idx) != nil {
			copyResponse(w, rec)
			return
		}
		want := r.URL.Query().Get("artifactType")
		kept := []v1.Descriptor{}
		for _, d := range idx.Manifests {
			if t := declaredArtifactType(inner, r, repo, d); t != "" {
				d.ArtifactType = t
			}
			if want == "" || d.ArtifactType == want {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		body, err := json.Marshal(idx)
		if err != nil {
			copyResponse(w, rec)
			return
		}
		if want != "" {
			w.Header().Set("OCI-Filters-Applied", "artifactType")
		}
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// referrersRepo recognizes GET /v2/<repo>/referrers/<digest>.
func referrersRepo(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v2/") {
		return "", false
	}
	repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/referrers/")
	return repo, ok
}

// declaredArtifactType is the manifest's own artifactType, "" when it has none.
func declaredArtifactType(inner http.Handler, orig *http.Request, repo string, d v1.Descriptor) string {
	req := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+d.Digest.String(), nil).WithContext(orig.Context())
	req.Header.Set("Accept", string(d.MediaType))
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, req)
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		return ""
	}
	return m.ArtifactType
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = bytes.NewReader(rec.Body.Bytes()).WriteTo(w)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
