package scenario

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResourcesPlaceholder: ${RESOURCES} is the materialized resources.yaml, in args only.
func TestResourcesPlaceholder(t *testing.T) {
	base := map[string]string{
		ImagesFile:    "keys: [k1]\nimages:\n- ref: test/app:signed\n  sign: [k1]\n",
		PoliciesFile:  "p: 1\n",
		ResourcesFile: "image: ${REGISTRY}/test/app:v1\n",
		ExpectedFile:  "results: []\n",
	}
	tests := []struct {
		name     string
		override map[string]string
		wantArgs []string // with OUT for the output directory
		wantErr  string
	}{
		{name: "in args", override: map[string]string{ArgsFile: "--operation=UPDATE\n--old-filename=${RESOURCES}\n"},
			wantArgs: []string{"--operation=UPDATE", "--old-filename=OUT/" + ResourcesFile}},
		{name: "in resources.yaml", override: map[string]string{ResourcesFile: "old: ${RESOURCES}\n"}, wantErr: "no resources file"},
		{name: "with an argument", override: map[string]string{ArgsFile: "${RESOURCES:x}\n"}, wantErr: "no resources file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tc.override {
				files[k] = v
			}
			sc, err := Load(writeFiles(t, files))
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			f, err := sc.Materialize(testEnv(), out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Materialize() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, a := range tc.wantArgs {
				want = append(want, strings.ReplaceAll(a, "OUT/", out+string(filepath.Separator)))
			}
			if d := cmp.Diff(want, f.Args); d != "" {
				t.Errorf("args (-want +got):\n%s", d)
			}
		})
	}
}
