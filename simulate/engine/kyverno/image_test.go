package kyverno

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		name, pattern, s string
		want             bool
	}{
		{"star crosses slash", "my-bucket/In*", "my-bucket/India/Karnataka/", true},
		{"question matches slash", "my-bucket/abc?efg", "my-bucket/abc/efg", true},
		{"question needs a character", "my-bucket/abc?", "my-bucket/abc", false},
		{"empty pattern", "", "", true},
		{"empty pattern vs text", "", "a", false},
		{"star alone", "*", "anything/at:all", true},
		{"tag star misses digest", "ghcr.io/org/img:*", "ghcr.io/org/img@sha256:abc", false},
		{"prefix star hits digest", "ghcr.io/org/img*", "ghcr.io/org/img@sha256:abc", true},
		{"case sensitive", "GHCR.io/*", "ghcr.io/x", false},
		{"backtracking", "a*b*c", "aXbYbZc", true},
		{"whole string", "a*b", "aXbY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := match(tt.pattern, tt.s); got != tt.want {
				t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no library prefix", "nginx", "docker.io/nginx:latest"},
		{"user repo", "test/nginx", "docker.io/test/nginx:latest"},
		{"localhost port", "localhost:4443/test/nginx", "localhost:4443/test/nginx:latest"},
		{"tag dropped with digest", "ghcr.io/x/y:v1@sha256:" + sixtyFour, "ghcr.io/x/y@sha256:" + sixtyFour},
		{"loopback registry", "127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"},
		{"uppercase first part is a registry", "Reg/app:v1", "Reg/app:v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseImage(tt.in, DefaultConfig())
			if err != nil {
				t.Fatalf("parseImage(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("parseImage(%q).String() = %q, want %q", tt.in, got.String(), tt.want)
			}
		})
	}
	if _, err := parseImage("bad image::", DefaultConfig()); err == nil {
		t.Error("parseImage(bad) = nil error, want an error")
	}
}

const sixtyFour = "0000000000000000000000000000000000000000000000000000000000000000"
