package policyload

import (
	"errors"
	"reflect"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/policyload/sigstore"
)

func TestFromObjectsSigstore(t *testing.T) {
	const valid = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: sbom
spec:
  images:
  - glob: "**"
  authorities:
  - static:
      action: pass
  - keyless:
      identities:
      - issuer: i
        subject: s
    attestations:
    - name: a
      predicateType: spdx
`
	const empty = `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: empty
spec:
  images:
  - glob: "**"
`
	noEmptyCheck := sigstore.DefaultConfig()
	noEmptyCheck.FailOnEmptyAuthorities = false
	tests := []struct {
		name         string
		doc          string
		cfg          *sigstore.Config
		wantNames    []string
		wantWarnings []string
		wantErr      string
	}{
		{name: "parsed, warnings prefixed", doc: valid, wantNames: []string{"sbom"},
			wantWarnings: []string{"p.yaml:1: ClusterImagePolicy sbom: invalid value: spdx: spec.authorities[1].attestations.predicateType\ndeprecated value, please use RFC 3986 conformant values"}},
		{name: "refused with the default configuration", doc: empty,
			wantErr: "p.yaml:1: ClusterImagePolicy/empty: spec.authorities: missing field(s): spec.authorities"},
		{name: "accepted when fail-on-empty-authorities is false", doc: empty, cfg: &noEmptyCheck, wantNames: []string{"empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := manifest.Parse([]byte(tt.doc), "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var set *Set
			if tt.cfg != nil {
				set, err = FromObjectsWith(objs, "default", *tt.cfg)
			} else {
				set, err = FromObjects(objs, "default")
			}
			if tt.wantErr != "" {
				var le *Error
				var ie *sigstore.InvalidError
				if !errors.As(err, &le) || !errors.As(err, &ie) || err.Error() != tt.wantErr {
					t.Fatalf("FromObjects() error = %v, want %q wrapping *sigstore.InvalidError", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range set.Sigstore {
				names = append(names, p.Name)
			}
			if !reflect.DeepEqual(names, tt.wantNames) || !reflect.DeepEqual(set.Warnings, tt.wantWarnings) {
				t.Errorf("Sigstore = %q, Warnings = %q; want %q, %q", names, set.Warnings, tt.wantNames, tt.wantWarnings)
			}
		})
	}
}
