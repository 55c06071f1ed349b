package scenario

import (
	"strings"
	"testing"
)

func TestImagesRegistryAndSignReferrers(t *testing.T) {
	rest := map[string]string{
		PoliciesFile:  "kind: ClusterPolicy\n",
		ResourcesFile: "kind: Pod\n",
		ExpectedFile:  "results: []\n",
	}
	tests := []struct {
		name      string
		images    string
		wantErr   string
		wantNeeds bool
		wantRefs  []string // SignReferrers of the first image
	}{
		{name: "no registry field", images: "images:\n- ref: a:b\n"},
		{name: "plain", images: "registry: plain\nimages:\n- ref: a:b\n"},
		{name: "referrers", images: "registry: referrers\nimages:\n- ref: a:b\n", wantNeeds: true},
		{name: "unknown registry kind", images: "registry: distribution\n", wantErr: `registry "distribution"`},
		{name: "signReferrers", images: "keys: [k1]\nimages:\n- ref: a:b\n  signReferrers: [k1]\n", wantRefs: []string{"k1"}},
		{name: "signReferrers key not listed", images: "keys: [k1]\nimages:\n- ref: a:b\n  signReferrers: [k2]\n", wantErr: `signed by "k2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{ImagesFile: tc.images}
			for k, v := range rest {
				files[k] = v
			}
			sc, err := Load(writeFiles(t, files))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if got := sc.Images.NeedsReferrers(); got != tc.wantNeeds {
				t.Errorf("NeedsReferrers() = %v, want %v", got, tc.wantNeeds)
			}
			if got := strings.Join(sc.Images.Images[0].SignReferrers, ","); got != strings.Join(tc.wantRefs, ",") {
				t.Errorf("SignReferrers = %q, want %q", got, tc.wantRefs)
			}
		})
	}
}
