//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-verify/kubectl-verify/internal/kyvernocond"
)

// jmespathCase is one query evaluated by `kubectl-kyverno jp query` and by kyvernocond.Search
// over the same input.
type jmespathCase struct {
	name, query string
	// wantErr says the case is meant to fail (a guard against a table that proves nothing
	// because both sides fail, or both succeed, for another reason than the one named).
	wantErr bool
}

// jmespathInput is the document every query reads; the certificates are made per run.
func jmespathInput(t *testing.T) map[string]any {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(4242),
		Subject:               pkix.Name{CommonName: "replay.example", Organization: []string{"Example & Co <x>"}},
		NotBefore:             time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:              time.Date(2034, 1, 2, 3, 4, 5, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"replay.example"},
		EmailAddresses:        []string{"ops@example.com"},
		IPAddresses:           []net.IP{net.ParseIP("10.1.2.3")},
		URIs:                  []*url.URL{{Scheme: "https", Host: "example.com", Path: "/id"}},
	}
	certPEM := func(pub, priv any) string {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "csr.example", Country: []string{"DE"}}, DNSNames: []string{"csr.example"},
	}, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
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
		"cert":      certPEM(&rsaKey.PublicKey, rsaKey),
		"ecCert":    certPEM(&ecKey.PublicKey, ecKey),
		"csr":       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		"pubKey":    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		"badCert":   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})),
	}
}

var jmespathCases = []jmespathCase{
	// parse_json
	{name: "parse_json object", query: "parse_json(json)"},
	{name: "parse_json scalar", query: "parse_json('12.5')"},
	{name: "parse_json string", query: `parse_json('"s"')`},
	{name: "parse_json piped", query: "parse_json(json).a[2]"},
	{name: "parse_json truncated", query: "parse_json('{')", wantErr: true},
	{name: "parse_json trailing data", query: `parse_json('{"a":1}x')`, wantErr: true},
	{name: "parse_json not a string", query: "parse_json(`1`)", wantErr: true},
	// parse_yaml
	{name: "parse_yaml object", query: "parse_yaml(yaml)"},
	{name: "parse_yaml empty", query: "parse_yaml('')"},
	{name: "parse_yaml scalar", query: "parse_yaml('1.50')"},
	{name: "parse_yaml invalid", query: "parse_yaml('a: [1')", wantErr: true},
	{name: "parse_yaml not a string", query: "parse_yaml(obj)", wantErr: true},
	// truncate
	{name: "truncate", query: "truncate(name, `9`)"},
	{name: "truncate runes", query: "truncate(accented, `2`)"},
	{name: "truncate longer than the string", query: "truncate(name, `100`)"},
	{name: "truncate negative", query: "truncate(name, `-3`)"},
	{name: "truncate fractional", query: "truncate(name, `2.9`)"},
	{name: "truncate past int", query: "truncate(name, `1e300`)"},
	{name: "truncate string length", query: "truncate(name, '3')", wantErr: true},
	{name: "truncate arity", query: "truncate(name)", wantErr: true},
	// semver_compare
	{name: "semver_compare greater", query: "semver_compare('1.2.3', '>1.0.0')"},
	{name: "semver_compare less", query: "semver_compare('1.2.3', '<1.0.0')"},
	{name: "semver_compare ranges", query: "semver_compare('3.1.0', '>=1.0.0 <2.0.0 || >3.0.0')"},
	{name: "semver_compare unparsed version is 0.0.0", query: "semver_compare('v1.2', '<0.0.1')"},
	{name: "semver_compare bad range", query: "semver_compare('1.2.3', 'bad')", wantErr: true},
	{name: "semver_compare number", query: "semver_compare(`1`, '>1.0.0')", wantErr: true},
	// to_boolean
	{name: "to_boolean true", query: "to_boolean('TrUe')"},
	{name: "to_boolean false", query: "to_boolean('fAlSe')"},
	{name: "to_boolean other", query: "to_boolean('yes')", wantErr: true},
	{name: "to_boolean bool", query: "to_boolean(`true`)", wantErr: true},
	// replace
	{name: "replace n", query: "replace('aaaa', 'a', 'b', `2`)"},
	{name: "replace all", query: "replace('aaaa', 'a', 'b', `-1`)"},
	{name: "replace fractional n", query: "replace('aaaa', 'a', 'b', `1.9`)"},
	{name: "replace n past int", query: "replace('aaaa', 'a', 'b', `1e300`)"},
	{name: "replace n as string", query: "replace('aaaa', 'a', 'b', '2')", wantErr: true},
	// regex_replace_all(_literal)
	{name: "regex_replace_all groups", query: `regex_replace_all('([a-z]+)-(\d+)', 'abc-123 x-9', '$2-$1')`},
	{name: "regex_replace_all numbers", query: "regex_replace_all('5', `12345`, `6`)"},
	{name: "regex_replace_all float32 subject", query: "regex_replace_all('1', `0.1`, 'x')"},
	{name: "regex_replace_all bad pattern", query: "regex_replace_all('(', 'a', 'b')", wantErr: true},
	{name: "regex_replace_all bool subject", query: "regex_replace_all('a', `true`, 'b')", wantErr: true},
	{name: "regex_replace_all_literal", query: "regex_replace_all_literal('a', 'banana', '$1')"},
	{name: "regex_replace_all_literal number", query: "regex_replace_all_literal('2', `1.25`, `7`)"},
	{name: "regex_replace_all_literal bad pattern", query: "regex_replace_all_literal('[a', 'a', 'b')", wantErr: true},
	// Go's regexp reads a brace that opens no valid repetition as a literal.
	{name: "regex_replace_all_literal literal brace", query: "regex_replace_all_literal('a{2', 'aa{2', 'b')"},
	// label_match
	{name: "label_match subset", query: "label_match(labels, podLabels)"},
	{name: "label_match superset", query: "label_match(podLabels, labels)"},
	{name: "label_match typed values", query: "label_match(`{\"a\":1}`, `{\"a\":1,\"b\":2}`)"},
	{name: "label_match empty", query: "label_match(`{}`, labels)"},
	{name: "label_match nested values", query: "label_match(`{\"a\":{\"b\":[1]}}`, `{\"a\":{\"b\":[1]}}`)"},
	{name: "label_match nested values differ", query: "label_match(`{\"a\":{\"b\":[1]}}`, `{\"a\":{\"b\":[2]}}`)"},
	{name: "label_match string", query: "label_match(name, labels)", wantErr: true},
	// lookup
	{name: "lookup key", query: "lookup(obj, 'a')"},
	{name: "lookup missing key", query: "lookup(obj, 'zz')"},
	{name: "lookup index", query: "lookup(list, `1`)"},
	{name: "lookup index past the end", query: "lookup(list, `3`)"},
	{name: "lookup negative index", query: "lookup(list, `-1`)"},
	{name: "lookup fractional index", query: "lookup(list, `1.5`)", wantErr: true},
	{name: "lookup huge index", query: "lookup(list, `1e300`)", wantErr: true},
	{name: "lookup object by number", query: "lookup(obj, `1`)", wantErr: true},
	{name: "lookup array by string", query: "lookup(list, '1')", wantErr: true},
	{name: "lookup items result", query: "lookup(items(obj, 'k', 'v'), `0`)", wantErr: true},
	{name: "lookup string", query: "lookup(name, 'a')", wantErr: true},
	// items
	{name: "items object", query: "items(obj, 'key', 'value')"},
	{name: "items array", query: "items(list, 'index', 'value')"},
	{name: "items same names", query: "items(obj, 'k', 'k')"},
	{name: "items empty", query: "items(`{}`, 'k', 'v')"},
	{name: "items then projection", query: "items(obj, 'k', 'v')[].k"},
	{name: "items number name", query: "items(obj, `1`, 'v')", wantErr: true},
	// object_from_lists
	{name: "object_from_lists", query: "object_from_lists(list, nums)"},
	{name: "object_from_lists short values", query: "object_from_lists(list, `[1]`)"},
	{name: "object_from_lists float32 keys", query: "object_from_lists(`[1e21, 0.1, 16777217]`, list)"},
	{name: "object_from_lists scalar keys", query: "object_from_lists(`[1, 2.5, true, \"s\"]`, list)"},
	{name: "object_from_lists object key", query: "object_from_lists(`[{}]`, list)", wantErr: true},
	{name: "object_from_lists null key", query: "object_from_lists(`[null]`, list)", wantErr: true},
	{name: "object_from_lists items keys", query: "object_from_lists(items(obj, 'k', 'v'), list)", wantErr: true},
	{name: "object_from_lists items values", query: "object_from_lists(list, items(obj, 'k', 'v'))", wantErr: true},
	// path_canonicalize
	{name: "path_canonicalize", query: "path_canonicalize('/a//b/../c/./d/')"},
	{name: "path_canonicalize relative", query: "path_canonicalize('a/../../b')"},
	{name: "path_canonicalize empty", query: "path_canonicalize('')"},
	{name: "path_canonicalize number", query: "path_canonicalize(`1`)", wantErr: true},
	// image_normalize
	{name: "image_normalize short name", query: "image_normalize('nginx')"},
	{name: "image_normalize library tag", query: "image_normalize('library/nginx:1.25')"},
	{name: "image_normalize registry port", query: "image_normalize('localhost:5000/app:v1')"},
	{name: "image_normalize localhost", query: "image_normalize('localhost/app')"},
	{name: "image_normalize digest drops tag", query: "image_normalize('ghcr.io/org/app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')"},
	{name: "image_normalize uppercase first part", query: "image_normalize('Org/app')"},
	{name: "image_normalize uppercase", query: "image_normalize('NGINX')", wantErr: true},
	{name: "image_normalize empty", query: "image_normalize('')", wantErr: true},
	{name: "image_normalize bad digest", query: "image_normalize('nginx@sha256:abc')", wantErr: true},
	// is_external_url (IP hosts and localhost only: no query leaves the machine)
	{name: "is_external_url loopback", query: "is_external_url('http://127.0.0.1:8080/x')"},
	{name: "is_external_url private", query: "is_external_url('https://10.1.1.1')"},
	{name: "is_external_url private v6", query: "is_external_url('http://[fd12:3456:789a:1::1]')"},
	{name: "is_external_url public", query: "is_external_url('http://8.8.8.8')"},
	{name: "is_external_url public v6", query: "is_external_url('http://[2001:db8::1]')"},
	{name: "is_external_url userinfo", query: "is_external_url('http://www.example.com@192.168.1.3')"},
	{name: "is_external_url unspecified", query: "is_external_url('http://0.0.0.0')"},
	{name: "is_external_url localhost", query: "is_external_url('http://localhost:1/')"},
	{name: "is_external_url bad url", query: "is_external_url('http://[::1')", wantErr: true},
	{name: "is_external_url no host", query: "is_external_url('relative/path')", wantErr: true},
	{name: "is_external_url no scheme", query: "is_external_url('8.8.8.8')", wantErr: true},
	// hashes
	{name: "sha256", query: "sha256(name)"},
	{name: "sha1", query: "sha1(name)"},
	{name: "md5", query: "md5(accented)"},
	{name: "sha256 number", query: "sha256(`1`)", wantErr: true},
	// x509_decode
	{name: "x509_decode certificate", query: "x509_decode(cert)"},
	{name: "x509_decode certificate field", query: "x509_decode(cert).Subject.CommonName"},
	{name: "x509_decode request", query: "x509_decode(csr)"},
	{name: "x509_decode ecdsa", query: "x509_decode(ecCert)", wantErr: true},
	{name: "x509_decode not PEM", query: "x509_decode('xyz')", wantErr: true},
	{name: "x509_decode other block", query: "x509_decode(pubKey)", wantErr: true},
	{name: "x509_decode bad DER", query: "x509_decode(badCert)", wantErr: true},
	// add, sum, subtract
	{name: "add numbers", query: "add(`1`, `2.5`)"},
	{name: "add quantities", query: "add('1Gi', '512Mi')"},
	{name: "add plain quantities", query: "add('10', '5')"},
	{name: "add fractional quantities", query: "add('1.5', '250m')"},
	{name: "add durations", query: "add('1h', '30m15s')"},
	{name: "add exponent quantities", query: "add('1e3', '1k')"},
	{name: "add binary and plain quantities", query: "add('1.5Gi', '1')"},
	{name: "add number and quantity", query: "add(`1`, '1Gi')", wantErr: true},
	{name: "add quantity and duration", query: "add('1Gi', '1h')", wantErr: true},
	{name: "add invalid first", query: "add('x', `1`)", wantErr: true},
	{name: "add invalid second", query: "add(`1`, 'x')", wantErr: true},
	{name: "add null", query: "add(`null`, `1`)", wantErr: true},
	{name: "add compare result", query: "add(compare('a', 'b'), `1`)", wantErr: true},
	{name: "sum numbers", query: "sum(nums)"},
	{name: "sum quantities", query: "sum(['1Gi', '1Mi', '1Ki'])"},
	{name: "sum durations", query: "sum(['1h', '1m0s', '1s'])"},
	// "1m" reads as a quantity (one milli) before it could read as a duration.
	{name: "sum minutes read as a quantity", query: "sum(['1h', '1m', '1s'])", wantErr: true},
	{name: "sum one element as is", query: "sum(['anything'])"},
	{name: "sum empty", query: "sum(`[]`)", wantErr: true},
	{name: "sum mixed", query: "sum([`1`, '1Gi'])", wantErr: true},
	{name: "sum invalid", query: "sum(['x', `1`])", wantErr: true},
	{name: "sum items result", query: "sum(items(obj, 'k', 'v'))", wantErr: true},
	{name: "sum not an array", query: "sum(`1`)", wantErr: true},
	{name: "sum quantity then number", query: "sum(['1', `1`])", wantErr: true},
	{name: "subtract numbers", query: "subtract(`5`, `7.5`)"},
	{name: "subtract quantities", query: "subtract('1Gi', '1Mi')"},
	{name: "subtract durations", query: "subtract('1h', '90m0s')"},
	{name: "subtract minutes read as a quantity", query: "subtract('1h', '90m')", wantErr: true},
	{name: "subtract mismatch", query: "subtract('1h', `1`)", wantErr: true},
	// multiply
	{name: "multiply numbers", query: "multiply(`2`, `3.5`)"},
	{name: "multiply quantity by number", query: "multiply('1Gi', `2`)"},
	{name: "multiply number by quantity", query: "multiply(`0.5`, '1Gi')"},
	{name: "multiply milli quantity", query: "multiply('100m', `3`)"},
	{name: "multiply decimal quantity", query: "multiply('1.5G', `1.1`)"},
	{name: "multiply duration", query: "multiply('1h', `1.5`)"},
	{name: "multiply number by duration", query: "multiply(`3`, '1m30s')"},
	// The number is printed with %v and read back as a quantity: "1e+21" and tiny factors
	// take Kyverno's path through the quantity parser.
	{name: "multiply quantity by a huge number", query: "multiply('1', `1e21`)"},
	{name: "multiply quantity by a tiny number", query: "multiply('2k', `1e-7`)"},
	{name: "multiply binary quantity by a fraction", query: "multiply('1Ki', `0.3`)"},
	{name: "multiply duration overflow", query: "multiply('1h', `1e10`)"},
	{name: "multiply quantities", query: "multiply('1Gi', '2')", wantErr: true},
	{name: "multiply durations", query: "multiply('1h', '1h')", wantErr: true},
	// divide
	{name: "divide numbers", query: "divide(`10`, `4`)"},
	{name: "divide quantities", query: "divide('1Gi', '1Mi')"},
	{name: "divide quantity by number", query: "divide('1Gi', `3`)"},
	{name: "divide plain quantity by number", query: "divide('10', `4`)"},
	{name: "divide milli quantity by number", query: "divide('10m', `3`)"},
	{name: "divide durations", query: "divide('1h', '25m0s')"},
	{name: "divide quantities from minutes", query: "divide('25m', '5m')"},
	{name: "divide duration by number", query: "divide('1h', `7`)"},
	{name: "divide quantity by a tiny number", query: "divide('1', `1e-9`)"},
	{name: "divide negative quantity", query: "divide('-10', `4`)"},
	{name: "divide by an underflowing quantity", query: "divide('1Gi', '1e-400')"},
	{name: "divide number by zero", query: "divide(`1`, `0`)", wantErr: true},
	{name: "divide quantity by zero quantity", query: "divide('1Gi', '0')", wantErr: true},
	{name: "divide quantity by zero", query: "divide('1Gi', `0`)", wantErr: true},
	{name: "divide duration by zero duration", query: "divide('1h', '0s')", wantErr: true},
	{name: "divide duration by zero", query: "divide('1h', `0`)", wantErr: true},
	{name: "divide number by quantity", query: "divide(`1`, '1Gi')", wantErr: true},
	{name: "divide quantity by duration", query: "divide('1Gi', '1h')", wantErr: true},
	// modulo
	{name: "modulo numbers", query: "modulo(`10`, `3`)"},
	{name: "modulo negative", query: "modulo(`-7`, `3`)"},
	{name: "modulo quantities", query: "modulo('10Gi', '3Gi')"},
	{name: "modulo durations", query: "modulo('1h', '25m0s')"},
	{name: "modulo negative duration", query: "modulo('-1h', '25m0s')"},
	{name: "modulo exponent quantity", query: "modulo('1e3', '7')"},
	{name: "modulo past int64", query: "modulo(`1e20`, `3`)", wantErr: true},
	{name: "modulo fractional", query: "modulo(`10.5`, `3`)", wantErr: true},
	{name: "modulo fractional quantity", query: "modulo('1.5', '1')", wantErr: true},
	{name: "modulo by zero", query: "modulo(`10`, `0`)", wantErr: true},
	{name: "modulo quantity by zero", query: "modulo('10', '0')", wantErr: true},
	{name: "modulo duration by zero", query: "modulo('1h', '0s')", wantErr: true},
	{name: "modulo mismatch", query: "modulo(`1`, '1h')", wantErr: true},
	// round
	{name: "round places", query: "round(`3.14159`, `2`)"},
	{name: "round half away from zero", query: "round(`-2.5`, `0`)"},
	{name: "round fractional places", query: "round(`1`, `1.5`)", wantErr: true},
	{name: "round negative places", query: "round(`1`, `-1`)", wantErr: true},
	{name: "round string", query: "round('1', `1`)", wantErr: true},
}

// TestJMESPathFunctions compares kyvernocond.Search with the Kyverno CLI's `jp query` (the
// same function table as the engine's, with the default configuration): the JSON it prints,
// byte for byte, or its error text after the CLI's own prefix.
func TestJMESPathFunctions(t *testing.T) {
	dir := t.TempDir()
	input := jmespathInput(t)
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	inputFile := filepath.Join(dir, "input.json")
	if err := os.WriteFile(inputFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// The engine's view of the input, as the CLI's: the file decoded, numbers as float64.
	var data any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	const evalPrefix = "Error: error evaluating JMESPath expression: "
	for i, tc := range jmespathCases {
		t.Run(tc.name, func(t *testing.T) {
			queryFile := filepath.Join(dir, fmt.Sprintf("query-%03d", i))
			if err := os.WriteFile(queryFile, []byte(tc.query), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := execCmd(ctx, dir, s.kyverno, "jp", "query", "-c", "-i", inputFile, "-q", queryFile)
			if r.err != nil {
				t.Fatalf("%s: %v", r.cmdline, r.err)
			}
			got, compileErr, searchErr := kyvernocond.Search(tc.query, data)
			if compileErr != nil {
				t.Fatalf("Search(%s) compile error = %v", tc.query, compileErr)
			}
			if r.exitCode != 0 {
				text := string(r.stderr)
				if !strings.HasPrefix(text, evalPrefix) {
					t.Fatalf("%s: exit %d, stderr not an evaluation error:\n%s", r.cmdline, r.exitCode, r.stderr)
				}
				theirs := strings.TrimSuffix(strings.TrimPrefix(text, evalPrefix), "\n")
				if !tc.wantErr {
					t.Errorf("Kyverno failed where the case expects a result: %s", theirs)
				}
				if searchErr == nil {
					t.Fatalf("Search(%s) = %s, Kyverno failed with %q", tc.query, mustJSON(t, got), theirs)
				}
				if searchErr.Error() != theirs {
					t.Errorf("Search(%s) error:\n ours:   %q\n Kyverno: %q", tc.query, searchErr.Error(), theirs)
				}
				return
			}
			header := "# " + tc.query + "\n"
			if !bytes.HasPrefix(r.stdout, []byte(header)) {
				t.Fatalf("%s: stdout lacks the query header:\n%s", r.cmdline, r.stdout)
			}
			theirs := strings.TrimSuffix(string(r.stdout[len(header):]), "\n")
			if tc.wantErr {
				t.Errorf("Kyverno answered %s where the case expects an error", theirs)
			}
			if searchErr != nil {
				t.Fatalf("Search(%s) error = %v, Kyverno answered %s", tc.query, searchErr, theirs)
			}
			if ours := mustJSON(t, got); ours != theirs {
				t.Errorf("Search(%s):\n ours:   %s\n Kyverno: %s", tc.query, ours, theirs)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v): %v", v, err)
	}
	return string(b)
}
