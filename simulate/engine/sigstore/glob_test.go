package sigstore

import "testing"

// TestGlob is spec §3.1's table (pkg/apis/glob/glob_test.go), plus the admission targets:
// the normalised digest form, where a glob ending in a tag never matches.
func TestGlob(t *testing.T) {
	const d = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		image, glob string
		match       bool
		err         bool
	}{
		{"foo", "index.docker.io/library/foo:latest", true, false},
		{"foo", "index.docker.io/library/*", true, false},
		{"foo", "index.docker.io/*/*", true, false},
		{"foo", "**", true, false},
		{"foo", "foo", true, false},
		{"foo", "*", true, false},
		{"myuser/myapp", "index.docker.io/myuser/*", true, false},
		{"myuser/myapp", "*/*", true, false},
		{"ghcr.io/foo/bar", "ghcr.io/*/*", true, false},
		{"ghcr.io/foo", "ghcr.io/*/*", false, false},
		{"ghcr.io/foo", "*/**", true, false},
		{"prefix-ghcr.io/foo", "ghcr.io/foo", false, false},
		{"ghcr.io/foo-suffix", "ghcr.io/foo", false, false},
		{"ghcrxio/foo", "ghcr.io/**", false, false},
		{"invalid&name", "**", false, true},
		{"foo", ".+", false, true},
		{"foo", "[a-z]*", false, true},
		{"ghcr.io/org/app" + d, "ghcr.io/org/*", true, false},
		{"ghcr.io/org/app" + d, "ghcr.io/org/*/*", false, false},
		{"ghcr.io/org/app" + d, "ghcr.io/org/app", false, false},
		{"ghcr.io/org/app" + d, "ghcr.io/org/app@*", true, false},
		{"ghcr.io/org/app" + d, "ghcr.io/org/app:*", false, false},
		{"ghcr.io/org/app" + d, "ghcr.io/org/app:**", false, false},
		{"index.docker.io/library/nginx" + d, "*", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.glob+" "+tt.image, func(t *testing.T) {
			got, err := globMatch(tt.glob, tt.image)
			if (err != nil) != tt.err || got != tt.match {
				t.Errorf("globMatch(%q, %q) = %v, %v; want %v, error %v", tt.glob, tt.image, got, err, tt.match, tt.err)
			}
		})
	}
}
