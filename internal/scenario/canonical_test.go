package scenario

import (
	"strings"
	"testing"
)

func TestCanonicalMessage(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "no list", in: "image verified", want: "image verified"},
		{name: "one image", in: "image skipped, skipped images: r/a@sha256:1", want: "image skipped, skipped images: r/a@sha256:1"},
		{name: "two images reordered", in: "image skipped, skipped images: r/b@sha256:2 r/a@sha256:1", want: "image skipped, skipped images: r/a@sha256:1 r/b@sha256:2"},
		{name: "pass form", in: "image verified, skipped images: z y x", want: "image verified, skipped images: x y z"},
		{name: "double space kept", in: "image skipped, skipped images: b  a", want: "image skipped, skipped images:  a b"},
		{name: "other messages untouched", in: "skipping image reference image r/b:1, policy p ruleName r", want: "skipping image reference image r/b:1, policy p ruleName r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := canonicalMessage(tc.in); got != tc.want {
				t.Errorf("canonicalMessage(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestSkippedImagesComparedAsSets: Kyverno's map-ordered image list must not make the
// differential flaky, and a different set of images must still be a difference.
func TestSkippedImagesComparedAsSets(t *testing.T) {
	kyverno := func(msg string) map[string][]CheckKey {
		t.Helper()
		out := `{"kind":"ClusterReport","results":[{"policy":"p","rule":"r","result":"skip","message":"` + msg +
			`","resources":[{"kind":"Pod","namespace":"default","name":"x"}]}]}`
		got, err := KyvernoChecks([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ours := func(msg string) map[string][]CheckKey {
		rep := Report{Results: []Result{{Resource: ResourceRef{Kind: "Pod", Namespace: "default", Name: "x"},
			Checks: []Check{{Engine: "kyverno", Policy: "p", Rule: "r", Result: "skip", Message: msg}}}}}
		return ReportChecks(rep, "kyverno")
	}
	tests := []struct {
		name, theirs, mine string
		wantDiff           bool
	}{
		{name: "same order", theirs: "image skipped, skipped images: a b", mine: "image skipped, skipped images: a b"},
		{name: "other order", theirs: "image skipped, skipped images: b a", mine: "image skipped, skipped images: a b"},
		{name: "other image", theirs: "image skipped, skipped images: b c", mine: "image skipped, skipped images: a b", wantDiff: true},
		{name: "one image missing", theirs: "image skipped, skipped images: b", mine: "image skipped, skipped images: a b", wantDiff: true},
		{name: "other status text", theirs: "image verified, skipped images: a b", mine: "image skipped, skipped images: b a", wantDiff: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			diffs := DiffCheckSets("kyverno apply", kyverno(tc.theirs), "kubectl verify", ours(tc.mine), nil)
			if got := len(diffs) > 0; got != tc.wantDiff {
				t.Errorf("differ = %v, want %v: %s", got, tc.wantDiff, strings.Join(diffs, "\n"))
			}
		})
	}
}
