package kyvernocond

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// searchCase is a query over functionsData with its result or its search error text. The
// expected values are what `kubectl-kyverno jp query` (Kyverno 1.19.1) printed for the same
// query; e2e/jmespath_test.go checks them against the CLI on every run.
type searchCase struct {
	name, query string
	want        any
	wantErr     string
}

func functionsData() map[string]any {
	return map[string]any{
		"name":      "kyverno-policy-reporter-ui",
		"accented":  "héllo wörld",
		"json":      `{"a":[1,2.5,{"b":null}],"c":"d"}`,
		"yaml":      "a: 1\nb:\n  - x\n  - true\nc: {d: e}\n",
		"labels":    map[string]any{"app": "web", "tier": "front"},
		"podLabels": map[string]any{"app": "web", "tier": "front", "zone": "a"},
		"obj":       map[string]any{"b": 1.0, "a": "two", "c": []any{3.0}},
		"list":      []any{"a", "b", "c"},
		"nums":      []any{1.0, 2.5, 3.0},
	}
}

func runSearchCases(t *testing.T, data any, tests []searchCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, compileErr, err := Search(tt.query, data)
			if compileErr != nil {
				t.Fatalf("Search(%s) compile error = %v", tt.query, compileErr)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Search(%s) = %v, %v; want error %q", tt.query, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Search(%s) error = %v", tt.query, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Search(%s) mismatch (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

func TestStringFunctions(t *testing.T) {
	runSearchCases(t, functionsData(), []searchCase{
		{name: "parse_json object", query: "parse_json(json)", want: map[string]any{"a": []any{1.0, 2.5, map[string]any{"b": nil}}, "c": "d"}},
		{name: "parse_json scalar", query: "parse_json('12.5')", want: 12.5},
		{name: "parse_json truncated", query: "parse_json('{')", wantErr: "unexpected end of JSON input"},
		{name: "parse_json trailing data", query: `parse_json('{"a":1}x')`, wantErr: "invalid character 'x' after top-level value"},
		{name: "parse_json not a string", query: "parse_json(`1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"string"}`},
		{name: "parse_yaml object", query: "parse_yaml(yaml)", want: map[string]any{"a": 1.0, "b": []any{"x", true}, "c": map[string]any{"d": "e"}}},
		{name: "parse_yaml empty", query: "parse_yaml('')", want: nil},
		{name: "parse_yaml scalar", query: "parse_yaml('1.50')", want: 1.5},
		{name: "parse_yaml invalid", query: "parse_yaml('a: [1')", wantErr: "yaml: line 1: did not find expected ',' or ']'"},
		{name: "truncate", query: "truncate(name, `9`)", want: "kyverno-p"},
		{name: "truncate counts runes", query: "truncate(accented, `2`)", want: "hé"},
		{name: "truncate longer than the string", query: "truncate(name, `100`)", want: "kyverno-policy-reporter-ui"},
		{name: "truncate negative", query: "truncate(name, `-3`)", want: ""},
		{name: "truncate fractional", query: "truncate(name, `2.9`)", want: "ky"},
		{name: "truncate string length", query: "truncate(name, '3')", wantErr: `Invalid type for: 3, expected: []jmespath.JpType{"number"}`},
		{name: "truncate arity", query: "truncate(name)", wantErr: "incorrect number of args"},
		{name: "semver_compare greater", query: "semver_compare('1.2.3', '>1.0.0')", want: true},
		{name: "semver_compare less", query: "semver_compare('1.2.3', '<1.0.0')", want: false},
		{name: "semver_compare ranges", query: "semver_compare('3.1.0', '>=1.0.0 <2.0.0 || >3.0.0')", want: true},
		{name: "semver_compare unparsed version is 0.0.0", query: "semver_compare('v1.2', '<0.0.1')", want: true},
		{name: "semver_compare bad range", query: "semver_compare('1.2.3', 'bad')", wantErr: `Could not get version from string: "bad"`},
		{name: "to_boolean true", query: "to_boolean('TrUe')", want: true},
		{name: "to_boolean false", query: "to_boolean('fAlSe')", want: false},
		{name: "to_boolean other", query: "to_boolean('yes')", wantErr: "JMESPath function 'to_boolean': lowercase argument must be 'true' or 'false' (provided: 'yes')"},
		{name: "to_boolean bool", query: "to_boolean(`true`)", wantErr: `Invalid type for: true, expected: []jmespath.JpType{"string"}`},
		{name: "replace n", query: "replace('aaaa', 'a', 'b', `2`)", want: "bbaa"},
		{name: "replace all", query: "replace('aaaa', 'a', 'b', `-1`)", want: "bbbb"},
		{name: "replace fractional n", query: "replace('aaaa', 'a', 'b', `1.9`)", want: "baaa"},
		{name: "replace n as string", query: "replace('aaaa', 'a', 'b', '2')", wantErr: `Invalid type for: 2, expected: []jmespath.JpType{"number"}`},
		{name: "regex_replace_all groups", query: `regex_replace_all('([a-z]+)-(\d+)', 'abc-123 x-9', '$2-$1')`, want: "123-abc 9-x"},
		{name: "regex_replace_all numbers", query: "regex_replace_all('5', `12345`, `6`)", want: "12346"},
		{name: "regex_replace_all float32 subject", query: "regex_replace_all('1', `0.1`, 'x')", want: "0.x"},
		{name: "regex_replace_all bad pattern", query: "regex_replace_all('(', 'a', 'b')", wantErr: "JMESPath function 'regex_replace_all': error parsing regexp: missing closing ): `(`"},
		{name: "regex_replace_all bool subject", query: "regex_replace_all('a', `true`, 'b')", wantErr: `Invalid type for: true, expected: []jmespath.JpType{"string", "number"}`},
		{name: "regex_replace_all_literal", query: "regex_replace_all_literal('a', 'banana', '$1')", want: "b$1n$1n$1"},
		{name: "regex_replace_all_literal number", query: "regex_replace_all_literal('2', `1.25`, `7`)", want: "1.75"},
		{name: "regex_replace_all_literal bad pattern", query: "regex_replace_all_literal('[a', 'a', 'b')", wantErr: "JMESPath function 'regex_replace_all_literal': error parsing regexp: missing closing ]: `[a`"},
		{name: "path_canonicalize", query: "path_canonicalize('/a//b/../c/./d/')", want: "/a/c/d"},
		{name: "path_canonicalize relative", query: "path_canonicalize('a/../../b')", want: "../b"},
		{name: "path_canonicalize empty", query: "path_canonicalize('')", want: ""},
		{name: "path_canonicalize number", query: "path_canonicalize(`1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"string"}`},
		{name: "sha256", query: "sha256(name)", want: "01a7cfb4b202b38d5a39d5470300954dca86511601e010fe8e687c230fc7de82"},
		{name: "sha1", query: "sha1(name)", want: "dab59f8b3ac7b6b2e90c506bd5016eb2997d3a86"},
		{name: "md5", query: "md5(accented)", want: "ed0c22cc110ede12327851863c078138"},
		{name: "sha256 number", query: "sha256(`1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"string"}`},
	})
}

func TestObjectFunctions(t *testing.T) {
	runSearchCases(t, functionsData(), []searchCase{
		{name: "label_match subset", query: "label_match(labels, podLabels)", want: true},
		{name: "label_match superset", query: "label_match(podLabels, labels)", want: false},
		{name: "label_match typed values", query: "label_match(`{\"a\":1}`, `{\"a\":1,\"b\":2}`)", want: true},
		{name: "label_match nested values differ", query: "label_match(`{\"a\":{\"b\":[1]}}`, `{\"a\":{\"b\":[2]}}`)", want: false},
		{name: "label_match string", query: "label_match(name, labels)", wantErr: `Invalid type for: kyverno-policy-reporter-ui, expected: []jmespath.JpType{"object"}`},
		{name: "lookup key", query: "lookup(obj, 'a')", want: "two"},
		{name: "lookup missing key", query: "lookup(obj, 'zz')", want: nil},
		{name: "lookup index", query: "lookup(list, `1`)", want: "b"},
		{name: "lookup index past the end", query: "lookup(list, `3`)", want: nil},
		{name: "lookup negative index", query: "lookup(list, `-1`)", want: nil},
		{name: "lookup fractional index", query: "lookup(list, `1.5`)", wantErr: "JMESPath function 'lookup': argument #2: expected an integer number but got: 1.5"},
		{name: "lookup huge index", query: "lookup(list, `1e300`)", wantErr: "JMESPath function 'lookup': argument #2: number is outside the range of integer numbers: 1e+300"},
		{name: "lookup object by number", query: "lookup(obj, `1`)", wantErr: "JMESPath function 'lookup': argument #2 is not of type String"},
		{name: "lookup array by string", query: "lookup(list, '1')", wantErr: "JMESPath function 'lookup': argument #2 is not of type Number"},
		{name: "lookup items result", query: "lookup(items(obj, 'k', 'v'), `0`)", wantErr: "JMESPath function 'lookup': argument #1 is not of type Object or Array"},
		{name: "lookup string", query: "lookup(name, 'a')", wantErr: `Invalid type for: kyverno-policy-reporter-ui, expected: []jmespath.JpType{"object", "array"}`},
		{name: "items object", query: "items(obj, 'key', 'value')", want: []map[string]any{
			{"key": "a", "value": "two"}, {"key": "b", "value": 1.0}, {"key": "c", "value": []any{3.0}}}},
		{name: "items array", query: "items(list, 'index', 'value')", want: []map[string]any{
			{"index": 0.0, "value": "a"}, {"index": 1.0, "value": "b"}, {"index": 2.0, "value": "c"}}},
		{name: "items same names: the value wins", query: "items(obj, 'k', 'k')", want: []map[string]any{{"k": "two"}, {"k": 1.0}, {"k": []any{3.0}}}},
		{name: "items empty", query: "items(`{}`, 'k', 'v')", want: []map[string]any{}},
		{name: "items then projection", query: "items(obj, 'k', 'v')[].k", want: []any{"a", "b", "c"}},
		{name: "items number name", query: "items(obj, `1`, 'v')", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"string"}`},
		{name: "object_from_lists", query: "object_from_lists(list, nums)", want: map[string]any{"a": 1.0, "b": 2.5, "c": 3.0}},
		{name: "object_from_lists short values", query: "object_from_lists(list, `[1]`)", want: map[string]any{"a": 1.0, "b": nil, "c": nil}},
		{name: "object_from_lists scalar keys", query: "object_from_lists(`[1, 2.5, true, \"s\"]`, list)", want: map[string]any{"1": "a", "2.5": "b", "true": "c", "s": nil}},
		{name: "object_from_lists object key", query: "object_from_lists(`[{}]`, list)", wantErr: "JMESPath function 'object_from_lists': argument #1 is not of type StringArray"},
		{name: "object_from_lists null key", query: "object_from_lists(`[null]`, list)", wantErr: "JMESPath function 'object_from_lists': argument #1 is not of type StringArray"},
		{name: "object_from_lists items keys", query: "object_from_lists(items(obj, 'k', 'v'), list)", wantErr: "JMESPath function 'object_from_lists': argument #1 is not of type Array"},
		{name: "object_from_lists items values", query: "object_from_lists(list, items(obj, 'k', 'v'))", wantErr: "JMESPath function 'object_from_lists': argument #2 is not of type Array"},
	})
}

func TestImageNormalize(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	runSearchCases(t, nil, []searchCase{
		{name: "short name", query: "image_normalize('nginx')", want: "docker.io/nginx:latest"},
		{name: "library tag", query: "image_normalize('library/nginx:1.25')", want: "docker.io/library/nginx:1.25"},
		{name: "registry port", query: "image_normalize('localhost:5000/app:v1')", want: "localhost:5000/app:v1"},
		{name: "localhost", query: "image_normalize('localhost/app')", want: "localhost/app:latest"},
		{name: "digest drops tag", query: "image_normalize('ghcr.io/org/app:v1@" + digest + "')", want: "ghcr.io/org/app@" + digest},
		{name: "uppercase first part is a registry", query: "image_normalize('Org/app')", want: "Org/app:latest"},
		{name: "uppercase", query: "image_normalize('NGINX')",
			wantErr: "JMESPath function 'image_normalize': bad image: docker.io/NGINX, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: repository name must be lowercase"},
		{name: "empty", query: "image_normalize('')",
			wantErr: "JMESPath function 'image_normalize': bad image: docker.io/, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: invalid reference format"},
	})
}

func TestIsExternalURL(t *testing.T) {
	runSearchCases(t, nil, []searchCase{
		{name: "loopback", query: "is_external_url('http://127.0.0.1:8080/x')", want: false},
		{name: "private", query: "is_external_url('https://10.1.1.1')", want: false},
		{name: "private v6", query: "is_external_url('http://[fd12:3456:789a:1::1]')", want: false},
		{name: "public", query: "is_external_url('http://8.8.8.8')", want: true},
		{name: "userinfo is not the host", query: "is_external_url('http://www.example.com@192.168.1.3')", want: false},
		{name: "unspecified counts as external", query: "is_external_url('http://0.0.0.0')", want: true},
		{name: "localhost", query: "is_external_url('http://localhost:8080')", want: false},
		{name: "no host", query: "is_external_url('relative/path')", wantErr: "lookup : no such host"},
		// Kyverno asks the cluster's DNS: not replayed, and nothing is looked up here.
		{name: "a host name", query: "is_external_url('https://public.example')", wantErr: `is_external_url("https://public.example"): the cluster's DNS answers for host names: not replayed: Kyverno 1.19 panics on this input or words its error through another library`},
		{name: "bad url", query: "is_external_url('http://[::1')", wantErr: `parse "http://[::1": missing ']' in host`},
	})
}

func TestArithmetic(t *testing.T) {
	runSearchCases(t, functionsData(), []searchCase{
		{name: "add numbers", query: "add(`1`, `2.5`)", want: 3.5},
		{name: "add quantities", query: "add('1Gi', '512Mi')", want: "1536Mi"},
		{name: "add plain numbers as quantities", query: "add('10', '5')", want: "15"},
		{name: "add fractional quantities", query: "add('1.5', '250m')", want: "1750m"},
		{name: "add durations", query: "add('1h', '30m15s')", want: "1h30m15s"},
		{name: "add number and quantity", query: "add(`1`, '1Gi')", wantErr: "JMESPath function 'add': Types mismatch"},
		{name: "add invalid first", query: "add('x', `1`)", wantErr: "JMESPath function 'add': invalid operand"},
		{name: "add invalid second", query: "add(`1`, 'x')", wantErr: "JMESPath function 'add': invalid operand"},
		{name: "add compare result (an int)", query: "add(compare('a', 'b'), `1`)", wantErr: "JMESPath function 'add': invalid operand"},
		{name: "sum numbers", query: "sum(nums)", want: 6.5},
		{name: "sum quantities", query: "sum(['1Gi', '1Mi', '1Ki'])", want: "1049601Ki"},
		{name: "sum durations", query: "sum(['1h', '1m0s', '1s'])", want: "1h1m1s"},
		{name: "sum: 1m is a quantity", query: "sum(['1h', '1m', '1s'])", wantErr: "JMESPath function 'sum': Types mismatch"},
		{name: "sum one element as is", query: "sum(['anything'])", want: "anything"},
		{name: "sum empty", query: "sum(`[]`)", wantErr: "JMESPath function 'sum': at least one element in the array is required"},
		{name: "sum invalid", query: "sum(['x', `1`])", wantErr: "JMESPath function 'sum': invalid operand"},
		{name: "sum items result", query: "sum(items(obj, 'k', 'v'))", wantErr: "JMESPath function 'sum': Types mismatch"},
		{name: "sum not an array", query: "sum(`1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"array"}`},
		{name: "subtract numbers", query: "subtract(`5`, `7.5`)", want: -2.5},
		{name: "subtract quantities", query: "subtract('1Gi', '1Mi')", want: "1023Mi"},
		{name: "subtract durations", query: "subtract('1h', '90m0s')", want: "-30m0s"},
		{name: "subtract mismatch", query: "subtract('1h', `1`)", wantErr: "JMESPath function 'subtract': Types mismatch"},
		{name: "multiply numbers", query: "multiply(`2`, `3.5`)", want: 7.0},
		{name: "multiply quantity by number", query: "multiply('1Gi', `2`)", want: "2Gi"},
		{name: "multiply number by quantity", query: "multiply(`0.5`, '1Gi')", want: "512Mi"},
		{name: "multiply decimal quantity", query: "multiply('1.5G', `1.1`)", want: "1650M"},
		{name: "multiply quantity by a huge number", query: "multiply('1', `1e21`)", want: "1"},
		{name: "multiply duration", query: "multiply('1h', `1.5`)", want: "1h30m0s"},
		{name: "multiply number by duration", query: "multiply(`3`, '1m30s')", want: "4m30s"},
		{name: "multiply duration overflow", query: "multiply('1h', `1e10`)", want: "-2562047h47m16.854775808s"},
		{name: "multiply quantities", query: "multiply('1Gi', '2')", wantErr: "JMESPath function 'multiply': Types mismatch"},
		{name: "multiply durations", query: "multiply('1h', '1h')", wantErr: "JMESPath function 'multiply': Types mismatch"},
		{name: "divide numbers", query: "divide(`10`, `4`)", want: 2.5},
		{name: "divide quantities", query: "divide('1Gi', '1Mi')", want: 1024.0},
		{name: "divide quantity by number rounds down", query: "divide('1Gi', `3`)", want: "357913941"},
		{name: "divide milli quantity by number", query: "divide('10m', `3`)", want: "3m"},
		{name: "divide negative quantity", query: "divide('-10', `4`)", want: "-2"},
		{name: "divide durations", query: "divide('1h', '25m0s')", want: 2.4},
		{name: "divide duration by number", query: "divide('1h', `7`)", want: "8m34.285714285s"},
		{name: "divide number by zero", query: "divide(`1`, `0`)", wantErr: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide quantity by zero quantity", query: "divide('1Gi', '0')", wantErr: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide quantity by zero", query: "divide('1Gi', `0`)", wantErr: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide duration by zero duration", query: "divide('1h', '0s')", wantErr: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide duration by zero", query: "divide('1h', `0`)", wantErr: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide number by quantity", query: "divide(`1`, '1Gi')", wantErr: "JMESPath function 'divide': Types mismatch"},
		{name: "modulo numbers", query: "modulo(`10`, `3`)", want: 1.0},
		{name: "modulo negative", query: "modulo(`-7`, `3`)", want: -1.0},
		{name: "modulo quantities", query: "modulo('10Gi', '3Gi')", want: "1Gi"},
		{name: "modulo exponent quantity", query: "modulo('1e3', '7')", want: "6"},
		{name: "modulo durations", query: "modulo('1h', '25m0s')", want: "10m0s"},
		{name: "modulo fractional", query: "modulo(`10.5`, `3`)", wantErr: "JMESPath function 'modulo': Non-integer argument(s) passed for modulo"},
		{name: "modulo fractional quantity", query: "modulo('1.5', '1')", wantErr: "JMESPath function 'modulo': Non-integer argument(s) passed for modulo"},
		{name: "modulo past int64", query: "modulo(`1e20`, `3`)", wantErr: "JMESPath function 'modulo': Non-integer argument(s) passed for modulo"},
		{name: "modulo by zero", query: "modulo(`10`, `0`)", wantErr: "JMESPath function 'modulo': Zero divisor passed"},
		{name: "modulo quantity by zero", query: "modulo('10', '0')", wantErr: "JMESPath function 'modulo': Zero divisor passed"},
		{name: "modulo duration by zero", query: "modulo('1h', '0s')", wantErr: "JMESPath function 'modulo': Zero divisor passed"},
		{name: "modulo mismatch", query: "modulo(`1`, '1h')", wantErr: "JMESPath function 'modulo': Types mismatch"},
		{name: "round places", query: "round(`3.14159`, `2`)", want: 3.14},
		{name: "round half away from zero", query: "round(`-2.5`, `0`)", want: -3.0},
		{name: "round fractional places", query: "round(`1`, `1.5`)", wantErr: "JMESPath function 'round': Non-integer argument(s) passed for round off"},
		{name: "round negative places", query: "round(`1`, `-1`)", wantErr: "JMESPath function 'round': %!d(MISSING) argument is out of bounds (%!d(MISSING))"},
		{name: "round string", query: "round('1', `1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"number"}`},
	})
}

func TestX509Decode(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "replay.example", Organization: []string{"Example"}},
		NotBefore:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:     []string{"replay.example"},
		IPAddresses:  []net.IP{net.ParseIP("10.1.2.3")},
	}
	certPEM := func(pub, priv any) string {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr.example", Country: []string{"DE"}}}, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{
		"cert":    certPEM(&rsaKey.PublicKey, rsaKey),
		"ecCert":  certPEM(&ecKey.PublicKey, ecKey),
		"csr":     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		"pubKey":  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")})),
		"badCert": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})),
	}
	key := map[string]any{"N": rsaKey.N.String(), "E": 65537.0}
	runSearchCases(t, data, []searchCase{
		{name: "certificate key", query: "x509_decode(cert).PublicKey", want: key},
		{name: "certificate fields", query: "x509_decode(cert).[Subject.CommonName, Subject.Organization, SerialNumber, NotAfter, DNSNames, IPAddresses, Version, PublicKeyAlgorithm]",
			want: []any{"replay.example", []any{"Example"}, 4242.0, "2034-01-02T03:04:05Z", []any{"replay.example"}, []any{"10.1.2.3"}, 3.0, 1.0}},
		{name: "request", query: "x509_decode(csr).[Subject.CommonName, Subject.Country, PublicKey, Version]",
			want: []any{"csr.example", []any{"DE"}, key, 0.0}},
		{name: "ecdsa", query: "x509_decode(ecCert)", wantErr: "certificate should use rsa algorithm"},
		{name: "not PEM", query: "x509_decode('xyz')", wantErr: "failed to decode PEM block"},
		{name: "other block", query: "x509_decode(pubKey)", wantErr: "PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST"},
		{name: "bad DER", query: "x509_decode(badCert)", wantErr: "x509: malformed certificate"},
		{name: "number", query: "x509_decode(`1`)", wantErr: `Invalid type for: 1, expected: []jmespath.JpType{"string"}`},
	})

	// The whole object is the certificate struct's JSON with the key replaced.
	got, _, err := Search("x509_decode(cert)", data)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(data["cert"].(string)))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cert.PublicKey = struct {
		N string
		E int
	}{rsaKey.N.String(), rsaKey.E}
	raw, err := json.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("x509_decode(cert) mismatch (-want +got):\n%s", diff)
	}
}

// TestHandlerArgumentErrors reaches the handlers' own checks, which go-jmespath's type check
// keeps queries from (label_match numbers its arguments from 0, as Kyverno's does).
func TestHandlerArgumentErrors(t *testing.T) {
	tests := []struct {
		name    string
		fn      func([]any) (any, error)
		args    []any
		wantErr string
	}{
		{name: "label_match first", fn: fnLabelMatch, args: []any{"x", map[string]any{}}, wantErr: "JMESPath function 'label_match': argument #0 is not of type Object"},
		{name: "label_match second", fn: fnLabelMatch, args: []any{map[string]any{}, 1.0}, wantErr: "JMESPath function 'label_match': argument #1 is not of type Object"},
		{name: "items first", fn: fnItems, args: []any{"x", "k", "v"}, wantErr: "JMESPath function 'items': argument #1 is not of type Object or Array"},
		{name: "items value name", fn: fnItems, args: []any{map[string]any{}, "k", 1.0}, wantErr: "JMESPath function 'items': argument #3 is not of type String"},
		{name: "truncate length", fn: fnTruncate, args: []any{"x", "1"}, wantErr: "JMESPath function 'truncate': argument #2 is not of type float64"},
		{name: "round missing argument", fn: fnRound, args: []any{1.0}, wantErr: "JMESPath function 'round': 2 argument is out of bounds (1)"},
		{name: "regex_replace_all subject", fn: moreHandler(t, "regex_replace_all"), args: []any{"a", []any{}, "b"}, wantErr: "JMESPath function 'regex_replace_all': argument #2 is not of type String or Real"},
		{name: "regex_replace_all_literal replacement", fn: moreHandler(t, "regex_replace_all_literal"), args: []any{"a", "b", nil}, wantErr: "JMESPath function 'regex_replace_all_literal': argument #3 is not of type String or Real"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.fn(tt.args)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func moreHandler(t *testing.T, name string) func([]any) (any, error) {
	t.Helper()
	for _, f := range moreFunctions {
		if f.Name == name {
			return f.Handler
		}
	}
	t.Fatalf("%s not registered", name)
	return nil
}

// TestAllButRandomReplayed: every Kyverno function is replayed but random, whose answer
// cannot be known ahead.
func TestAllButRandomReplayed(t *testing.T) {
	for _, name := range kyvernoFunctions {
		if got, want := Unreplayed(name), name == "random"; got != want {
			t.Errorf("Unreplayed(%q) = %v, want %v", name, got, want)
		}
	}
	if _, _, err := Search("random('[a-z]{4}')", nil); err == nil || err.Error() != "unknown function: random" {
		t.Errorf("Search(random) error = %v, want go-jmespath's unknown function (the loader refuses it first)", err)
	}
}
