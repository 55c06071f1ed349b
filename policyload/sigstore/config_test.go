package sigstore

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	def := DefaultConfig()
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name         string
		data         map[string]string
		want         Config
		wantWarnings []string
	}{
		{"empty: deny, fail on empty authorities", nil, def, nil},
		{"shipped ConfigMap (_example only)", map[string]string{"_example": "# no-match-policy: deny"}, def, nil},
		{"allow", map[string]string{"no-match-policy": "allow"}, with(func(c *Config) { c.NoMatchPolicy = "allow" }), nil},
		{"warn", map[string]string{"no-match-policy": "warn"}, with(func(c *Config) { c.NoMatchPolicy = "warn" }), nil},
		{"deny", map[string]string{"no-match-policy": "deny"}, def, nil},
		{"unknown policy reads as deny", map[string]string{"no-match-policy": "Allow"}, def,
			[]string{`cm.yaml:1: no-match-policy "Allow" is not allow, warn or deny: the controller reads it as deny`}},
		{"empty policy reads as deny", map[string]string{"no-match-policy": ""}, def,
			[]string{`cm.yaml:1: no-match-policy "" is not allow, warn or deny: the controller reads it as deny`}},
		{"fail-on-empty-authorities false", map[string]string{"fail-on-empty-authorities": "false"}, with(func(c *Config) { c.FailOnEmptyAuthorities = false }), nil},
		{"ParseBool spellings", map[string]string{"fail-on-empty-authorities": "F", "enable-oci11": "1"}, with(func(c *Config) { c.FailOnEmptyAuthorities, c.EnableOCI11 = false, true }), nil},
		{"enable-oci11", map[string]string{"enable-oci11": "TRUE", "no-match-policy": "warn"}, with(func(c *Config) { c.EnableOCI11, c.NoMatchPolicy = true, "warn" }), nil},
		{"a bad boolean refuses the whole ConfigMap", map[string]string{"no-match-policy": "allow", "enable-oci11": "yes"}, def,
			[]string{`cm.yaml:1: enable-oci11 "yes" is not a boolean: policy-controller refuses the whole ConfigMap (it does not start with it, and keeps its previous configuration on an update); the defaults are used`}},
		{"a bad boolean refuses keys read before it", map[string]string{"fail-on-empty-authorities": "nope", "enable-oci11": "true"}, def,
			[]string{`cm.yaml:1: fail-on-empty-authorities "nope" is not a boolean: policy-controller refuses the whole ConfigMap (it does not start with it, and keeps its previous configuration on an update); the defaults are used`}},
		{"unknown key", map[string]string{"no-match-policy": "allow", "nomatch": "x"}, with(func(c *Config) { c.NoMatchPolicy = "allow" }),
			[]string{`cm.yaml:1: key "nomatch" is not one policy-controller reads`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings := ParseConfig(tt.data, "cm.yaml:1")
			if got != tt.want {
				t.Errorf("ParseConfig() = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(warnings, tt.wantWarnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarnings)
			}
		})
	}
}

func TestParseConfigFile(t *testing.T) {
	tests := []struct {
		name         string
		file         string
		want         Config
		wantWarnings []string
		wantErr      string
	}{
		{"YAML ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\n  namespace: cosign-system\ndata:\n  no-match-policy: warn\n  fail-on-empty-authorities: \"false\"\n",
			Config{NoMatchPolicy: "warn", Namespace: "cosign-system"}, nil, ""},
		{"JSON ConfigMap in another namespace", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"config-policy-controller","namespace":"sigstore"},"data":{"enable-oci11":"true"}}`,
			Config{NoMatchPolicy: "deny", FailOnEmptyAuthorities: true, EnableOCI11: true, Namespace: "sigstore"}, nil, ""},
		{"no data", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\n", DefaultConfig(), nil, ""},
		{"another name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pc\ndata:\n  no-match-policy: allow\n",
			Config{NoMatchPolicy: "allow", FailOnEmptyAuthorities: true, Namespace: "cosign-system"},
			[]string{`cm.yaml:1: ConfigMap "pc" is read as policy-controller's configuration, which the controller reads from "config-policy-controller"`}, ""},
		{"warnings name the document", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\ndata:\n  extra: x\n",
			DefaultConfig(), []string{`cm.yaml:1: key "extra" is not one policy-controller reads`}, ""},
		{"not a ConfigMap", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: config-policy-controller\n", DefaultConfig(), nil, "cm.yaml:1: expected a v1 ConfigMap, found v1 Secret"},
		{"two objects", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n", DefaultConfig(), nil, "cm.yaml: expected one ConfigMap, found 2 objects"},
		{"empty file", "", DefaultConfig(), nil, "cm.yaml: expected one ConfigMap, found 0 objects"},
		{"unquoted boolean", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-policy-controller\ndata:\n  enable-oci11: true\n", DefaultConfig(), nil, "cm.yaml:1: ConfigMap data.enable-oci11 is not a string"},
		{"YAML that does not parse", "apiVersion: v1\nkind: [\n", DefaultConfig(), nil, "YAML does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ParseConfigFile([]byte(tt.file), "cm.yaml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfigFile() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseConfigFile() = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(warnings, tt.wantWarnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarnings)
			}
		})
	}
}
