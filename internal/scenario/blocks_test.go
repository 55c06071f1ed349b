package scenario

import "testing"

func TestBlockPlaceholders(t *testing.T) {
	env := Env{Registry: "r:1", Roots: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
		Certs: map[string]string{"ci": "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"}}
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"roots indented", "roots: |-\n  ${ROOTS}\n", "roots: |-\n  -----BEGIN CERTIFICATE-----\n  CA\n  -----END CERTIFICATE-----\n", false},
		{"cert by name", "    ${CERT:ci}\n", "    -----BEGIN CERTIFICATE-----\n    LEAF\n    -----END CERTIFICATE-----\n", false},
		{"unknown identity", "${CERT:nope}\n", "", true},
		{"roots with an argument", "${ROOTS:x}\n", "", true},
		{"cert inline", "cert: ${CERT:ci}\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Substitute(tt.in, env)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Errorf("Substitute(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
