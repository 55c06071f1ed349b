package kyvernocond

import (
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"github.com/distribution/reference"
	gojmespath "github.com/kyverno/go-jmespath"
	"gopkg.in/inf.v0"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

var (
	jpObject = gojmespath.JpObject
	jpArray  = gojmespath.JpArray
	jpAny    = gojmespath.JpAny
)

// moreFunctions are the rest of Kyverno 1.19's functions but `random`, whose answer no
// replay can know. Argument specs are Kyverno's, so go-jmespath words arity and type errors.
var moreFunctions = []gojmespath.FunctionEntry{
	{Name: "parse_json", Arguments: args(str), Handler: fnParseJSON},
	{Name: "parse_yaml", Arguments: args(str), Handler: fnParseYAML},
	{Name: "truncate", Arguments: args(str, num), Handler: fnTruncate},
	{Name: "semver_compare", Arguments: args(str, str), Handler: fnSemverCompare},
	{Name: "to_boolean", Arguments: args(str), Handler: fnToBoolean},
	{Name: "replace", Arguments: args(str, str, str, num), Handler: fnReplace},
	{Name: "regex_replace_all", Arguments: regexReplaceArgs(), Handler: regexReplace("regex_replace_all", (*regexp.Regexp).ReplaceAll)},
	{Name: "regex_replace_all_literal", Arguments: regexReplaceArgs(), Handler: regexReplace("regex_replace_all_literal", (*regexp.Regexp).ReplaceAllLiteral)},
	{Name: "label_match", Arguments: args(jpObject, jpObject), Handler: fnLabelMatch},
	{Name: "lookup", Arguments: []gojmespath.ArgSpec{{Types: []gojmespath.JpType{jpObject, jpArray}}, {Types: []gojmespath.JpType{str, num}}}, Handler: fnLookup},
	{Name: "items", Arguments: []gojmespath.ArgSpec{{Types: []gojmespath.JpType{jpObject, jpArray}}, {Types: []gojmespath.JpType{str}}, {Types: []gojmespath.JpType{str}}}, Handler: fnItems},
	{Name: "object_from_lists", Arguments: args(jpArray, jpArray), Handler: fnObjectFromLists},
	{Name: "path_canonicalize", Arguments: args(str), Handler: strings1("path_canonicalize", func(s string) (any, error) { return filepath.Join(s), nil })},
	{Name: "image_normalize", Arguments: args(str), Handler: fnImageNormalize},
	{Name: "is_external_url", Arguments: args(str), Handler: fnIsExternalURL},
	{Name: "sha256", Arguments: args(str), Handler: strings1("sha256", func(s string) (any, error) { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]), nil })},
	{Name: "sha1", Arguments: args(str), Handler: strings1("sha1", func(s string) (any, error) { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]), nil })},
	{Name: "md5", Arguments: args(str), Handler: strings1("md5", func(s string) (any, error) { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]), nil })},
	{Name: "x509_decode", Arguments: args(str), Handler: fnX509Decode},
	{Name: "add", Arguments: args(jpAny, jpAny), Handler: arithmetic("add", addOperands)},
	{Name: "sum", Arguments: args(jpArray), Handler: fnSum},
	{Name: "subtract", Arguments: args(jpAny, jpAny), Handler: arithmetic("subtract", subtractOperands)},
	{Name: "multiply", Arguments: args(jpAny, jpAny), Handler: arithmetic("multiply", multiplyOperands)},
	{Name: "divide", Arguments: args(jpAny, jpAny), Handler: arithmetic("divide", divideOperands)},
	{Name: "modulo", Arguments: args(jpAny, jpAny), Handler: arithmetic("modulo", moduloOperands)},
	{Name: "round", Arguments: args(num, num), Handler: fnRound},
}

// numberArg is Kyverno's validateArg for a number argument.
func numberArg(fn string, arguments []any, i int) (float64, error) {
	if i >= len(arguments) {
		return 0, fmt.Errorf("JMESPath function '%s': %d argument is out of bounds (%d)", fn, i+1, len(arguments))
	}
	v := arguments[i]
	if v == nil || reflect.ValueOf(v).Kind() != reflect.Float64 {
		return 0, argError(fn, i+1, reflect.Float64.String())
	}
	return reflect.ValueOf(v).Float(), nil
}

func fnParseJSON(arguments []any) (any, error) {
	s, err := stringArg("parse_json", arguments, 0)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal([]byte(s), &out)
	return out, err
}

func fnParseYAML(arguments []any) (any, error) {
	s, err := stringArg("parse_yaml", arguments, 0)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(j, &out)
	return out, err
}

// fnTruncate keeps the first n runes (Kyverno's aquilax/truncate CutStrategy): a negative
// or fractional length is cut towards zero first.
func fnTruncate(arguments []any) (any, error) {
	s, err := stringArg("truncate", arguments, 0)
	if err != nil {
		return nil, err
	}
	f, err := numberArg("truncate", arguments, 1)
	if err != nil {
		return nil, err
	}
	n := int(max(f, 0))
	if n < 1 {
		return "", nil
	}
	r := []rune(s)
	if n >= len(r) {
		return s, nil
	}
	return string(r[:n]), nil
}

// fnSemverCompare: a version that does not parse is 0.0.0 (Kyverno drops that error); a
// range that does not parse is the range parser's error, unprefixed.
func fnSemverCompare(arguments []any) (any, error) {
	v, err := stringArg("semver_compare", arguments, 0)
	if err != nil {
		return nil, err
	}
	r, err := stringArg("semver_compare", arguments, 1)
	if err != nil {
		return nil, err
	}
	version, _ := semver.Parse(v)
	inRange, err := semver.ParseRange(r)
	if err != nil {
		return nil, err
	}
	return inRange(version), nil
}

func fnToBoolean(arguments []any) (any, error) {
	s, err := stringArg("to_boolean", arguments, 0)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, fmt.Errorf("JMESPath function 'to_boolean': lowercase argument must be 'true' or 'false' (provided: '%s')", s)
}

func fnReplace(arguments []any) (any, error) {
	var s [3]string
	for i := range s {
		v, err := stringArg("replace", arguments, i)
		if err != nil {
			return nil, err
		}
		s[i] = v
	}
	n, err := numberArg("replace", arguments, 3)
	if err != nil {
		return nil, err
	}
	return strings.Replace(s[0], s[1], s[2], int(n)), nil
}

func regexReplaceArgs() []gojmespath.ArgSpec {
	return []gojmespath.ArgSpec{{Types: []gojmespath.JpType{str}}, {Types: []gojmespath.JpType{str, num}}, {Types: []gojmespath.JpType{str, num}}}
}

// regexReplace: subject and replacement may be numbers, printed as float32 like
// regex_match's subject; the pattern is compiled after both are read.
func regexReplace(fn string, replace func(*regexp.Regexp, []byte, []byte) []byte) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		pattern, err := stringArg(fn, arguments, 0)
		if err != nil {
			return nil, err
		}
		src, err := subjectString(arguments[1])
		if err != nil {
			return nil, argError(fn, 2, "String or Real")
		}
		repl, err := subjectString(arguments[2])
		if err != nil {
			return nil, argError(fn, 3, "String or Real")
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("JMESPath function '%s': %s", fn, err)
		}
		return string(replace(re, []byte(src), []byte(repl))), nil
	}
}

// fnLabelMatch holds when every entry of the first object is in the second. Kyverno
// numbers its (unreachable) argument errors from 0.
func fnLabelMatch(arguments []any) (any, error) {
	want, ok := arguments[0].(map[string]any)
	if !ok {
		return nil, argError("label_match", 0, "Object")
	}
	have, ok := arguments[1].(map[string]any)
	if !ok {
		return nil, argError("label_match", 1, "Object")
	}
	for k, v := range want {
		got, ok := have[k]
		if !ok || !reflect.DeepEqual(got, v) {
			return false, nil
		}
	}
	return true, nil
}

// intNumber is Kyverno's float-to-index conversion, with its texts.
func intNumber(f float64) (int, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) || math.Trunc(f) != f {
		return 0, fmt.Errorf("expected an integer number but got: %g", f)
	}
	i := int(f)
	if float64(i) != f {
		return 0, fmt.Errorf("number is outside the range of integer numbers: %g", f)
	}
	return i, nil
}

// fnLookup: only JSON's own object and array types are looked into; another slice (the
// result of items) passes go-jmespath's check but not Kyverno's.
func fnLookup(arguments []any) (any, error) {
	switch in := arguments[0].(type) {
	case map[string]any:
		key, ok := arguments[1].(string)
		if !ok {
			return nil, argError("lookup", 2, "String")
		}
		return in[key], nil
	case []any:
		f, ok := arguments[1].(float64)
		if !ok {
			return nil, argError("lookup", 2, "Number")
		}
		i, err := intNumber(f)
		if err != nil {
			return nil, fmt.Errorf("JMESPath function 'lookup': argument #2: %s", err)
		}
		if i < 0 || i >= len(in) {
			return nil, nil
		}
		return in[i], nil
	}
	return nil, argError("lookup", 1, "Object or Array")
}

// fnItems returns []map[string]any, as Kyverno does, so that functions after it see the
// same Go type (lookup and object_from_lists refuse it).
func fnItems(arguments []any) (any, error) {
	keyName, ok := arguments[1].(string)
	if !ok {
		return nil, argError("items", 2, "String")
	}
	valName, ok := arguments[2].(string)
	if !ok {
		return nil, argError("items", 3, "String")
	}
	item := func(k, v any) map[string]any {
		m := map[string]any{}
		m[keyName] = k
		m[valName] = v // the value wins when both names are equal
		return m
	}
	switch in := arguments[0].(type) {
	case map[string]any:
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]map[string]any, 0, len(in))
		for _, k := range keys {
			out = append(out, item(k, in[k]))
		}
		return out, nil
	case []any:
		out := make([]map[string]any, 0, len(in))
		for i, v := range in {
			out = append(out, item(float64(i), v))
		}
		return out, nil
	}
	return nil, argError("items", 1, "Object or Array")
}

func fnObjectFromLists(arguments []any) (any, error) {
	keys, ok := arguments[0].([]any)
	if !ok {
		return nil, argError("object_from_lists", 1, "Array")
	}
	values, ok := arguments[1].([]any)
	if !ok {
		return nil, argError("object_from_lists", 2, "Array")
	}
	out := map[string]any{}
	for i, k := range keys {
		key, err := subjectString(k)
		if err != nil {
			return nil, argError("object_from_lists", 1, "StringArray")
		}
		var v any
		if i < len(values) {
			v = values[i]
		}
		out[key] = v
	}
	return out, nil
}

// imageNormalizeRegistry is the default registry of Kyverno's default configuration; the
// function reads Kyverno's ConfigMap (defaultRegistry) where this replay does not.
const imageNormalizeRegistry = "docker.io"

// fnImageNormalize is GetImageInfo(image).String() with registry mutation on (the default):
// the registry always printed, `latest` when neither tag nor digest, the tag dropped beside
// a digest.
func fnImageNormalize(arguments []any) (any, error) {
	image, err := stringArg("image_normalize", arguments, 0)
	if err != nil {
		return nil, err
	}
	full := image
	if i := strings.IndexByte(image, '/'); i < 0 || (!strings.ContainsAny(image[:i], ".:") && image[:i] != "localhost" && strings.ToLower(image[:i]) == image[:i]) {
		full = imageNormalizeRegistry + "/" + image
	}
	ref, err := reference.Parse(full)
	if err != nil {
		return nil, fmt.Errorf("JMESPath function 'image_normalize': bad image: %s, defaultRegistry: %s, enableDefaultRegistryMutation: true: %w", full, imageNormalizeRegistry, err)
	}
	var name, tag, digest string
	if named, ok := ref.(reference.Named); ok {
		name = reference.Domain(named) + "/" + reference.Path(named)
	}
	if t, ok := ref.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	if digest != "" {
		return name + "@" + digest, nil
	}
	if tag == "" {
		tag = "latest"
	}
	return name + ":" + tag, nil
}

// fnIsExternalURL: an IP host is external unless loopback or private. Kyverno resolves a host
// name with the cluster's DNS, which this replay cannot ask (and it talks to nothing but the
// registries and clusters it is pointed at): only localhost, whose answer is loopback
// everywhere, is replayed; other names are not.
func fnIsExternalURL(arguments []any) (any, error) {
	s, err := stringArg("is_external_url", arguments, 0)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return false, err
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		return !ip.IsLoopback() && !ip.IsPrivate(), nil
	}
	switch {
	case u.Hostname() == "":
		// Looking up no name fails before any DNS query.
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	case strings.EqualFold(u.Hostname(), "localhost"):
		return false, nil
	}
	return nil, fmt.Errorf("is_external_url(%q): the cluster's DNS answers for host names: %w", s, ErrNotReplayed)
}

// rsaPublicKeyJSON replaces the parsed key in x509_decode's output: the modulus in decimal,
// the exponent as a number.
type rsaPublicKeyJSON struct {
	N string
	E int
}

// fnX509Decode is the JSON form of the Go certificate (or CSR) struct of the first PEM
// block, RSA keys only.
func fnX509Decode(arguments []any) (any, error) {
	s, err := stringArg("x509_decode", arguments, 0)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("failed to decode PEM block")
	}
	var doc any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		pk, err := rsaKeyJSON(cert.PublicKeyAlgorithm, cert.PublicKey)
		if err != nil {
			return nil, err
		}
		cert.PublicKey = pk
		doc = cert
	case "CERTIFICATE REQUEST":
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, err
		}
		pk, err := rsaKeyJSON(csr.PublicKeyAlgorithm, csr.PublicKey)
		if err != nil {
			return nil, err
		}
		csr.PublicKey = pk
		doc = csr
	default:
		return nil, errors.New("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// rsaKeyJSON: Kyverno re-reads the PKCS#1 key from the subject public key info; the x509
// parser has already read the same key (and failed on a bad one), so its result is used.
func rsaKeyJSON(alg x509.PublicKeyAlgorithm, key any) (rsaPublicKeyJSON, error) {
	if alg != x509.RSA {
		return rsaPublicKeyJSON{}, errors.New("certificate should use rsa algorithm")
	}
	pk, ok := key.(*rsa.PublicKey)
	if !ok {
		return rsaPublicKeyJSON{}, errors.New("failed to parse subject public key info")
	}
	return rsaPublicKeyJSON{N: pk.N.String(), E: pk.E}, nil
}

// Arithmetic. An operand is a JSON number, else a string read first as a Kubernetes
// quantity ("10" is one), then as a Go duration.

type operandKind int

const (
	scalarOperand operandKind = iota
	quantityOperand
	durationOperand
)

type operand struct {
	kind operandKind
	f    float64
	q    resource.Quantity
	d    time.Duration
}

func parseOperand(fn string, v any) (operand, error) {
	switch t := v.(type) {
	case float64:
		return operand{kind: scalarOperand, f: t}, nil
	case string:
		if q, err := resource.ParseQuantity(t); err == nil {
			return operand{kind: quantityOperand, q: q}, nil
		}
		if d, err := time.ParseDuration(t); err == nil {
			return operand{kind: durationOperand, d: d}, nil
		}
	}
	return operand{}, fmt.Errorf("JMESPath function '%s': invalid operand", fn)
}

func typesMismatch(fn string) error { return fmt.Errorf("JMESPath function '%s': Types mismatch", fn) }

func zeroDivisor(fn string) error {
	return fmt.Errorf("JMESPath function '%s': Zero divisor passed", fn)
}

func nonIntModulo() error {
	return errors.New("JMESPath function 'modulo': Non-integer argument(s) passed for modulo")
}

// arithmetic reads both operands (the first's error first), then applies op.
func arithmetic(fn string, op func(fn string, a, b operand) (any, error)) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		a, err := parseOperand(fn, arguments[0])
		if err != nil {
			return nil, err
		}
		b, err := parseOperand(fn, arguments[1])
		if err != nil {
			return nil, err
		}
		return op(fn, a, b)
	}
}

// addOperands: both operands of one kind; quantities and durations come back as strings.
func addOperands(fn string, a, b operand) (any, error) {
	if a.kind != b.kind {
		return nil, typesMismatch(fn)
	}
	switch a.kind {
	case quantityOperand:
		a.q.Add(b.q)
		return a.q.String(), nil
	case durationOperand:
		return (a.d + b.d).String(), nil
	}
	return a.f + b.f, nil
}

func subtractOperands(fn string, a, b operand) (any, error) {
	if a.kind != b.kind {
		return nil, typesMismatch(fn)
	}
	switch a.kind {
	case quantityOperand:
		a.q.Sub(b.q)
		return a.q.String(), nil
	case durationOperand:
		return (a.d - b.d).String(), nil
	}
	return a.f - b.f, nil
}

// fnSum folds add over the array (its first element returned as is when alone), naming sum
// in the errors; each partial result is read again as an operand.
func fnSum(arguments []any) (any, error) {
	list, ok := arguments[0].([]any)
	if !ok {
		return nil, typesMismatch("sum")
	}
	if len(list) == 0 {
		return nil, errors.New("JMESPath function 'sum': at least one element in the array is required")
	}
	acc := list[0]
	add := arithmetic("sum", addOperands)
	for _, v := range list[1:] {
		var err error
		if acc, err = add([]any{acc, v}); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// scalarQuantity is a number as a quantity, through its %v printing as Kyverno reads it.
func scalarQuantity(f float64) (resource.Quantity, error) {
	return resource.ParseQuantity(fmt.Sprintf("%v", f))
}

// multiplyOperands: a number times anything; a quantity keeps its format, a duration is
// scaled in float seconds.
func multiplyOperands(fn string, a, b operand) (any, error) {
	if a.kind != scalarOperand && b.kind == scalarOperand {
		a, b = b, a
	}
	if a.kind != scalarOperand {
		return nil, typesMismatch(fn)
	}
	switch b.kind {
	case quantityOperand:
		q, err := scalarQuantity(a.f)
		if err != nil {
			return nil, err
		}
		var prod inf.Dec
		prod.Mul(b.q.AsDec(), q.AsDec())
		return resource.NewDecimalQuantity(prod, b.q.Format).String(), nil
	case durationOperand:
		return time.Duration(b.d.Seconds() * a.f * float64(time.Second)).String(), nil
	}
	return a.f * b.f, nil
}

// divideOperands: quantity/quantity and duration/duration give a number, quantity/number
// a quantity (rounded down at the larger scale), duration/number a duration; a number is
// divided by a number only.
func divideOperands(fn string, a, b operand) (any, error) {
	switch {
	case a.kind == quantityOperand && b.kind == quantityOperand:
		divisor := b.q.AsApproximateFloat64()
		if divisor == 0 {
			return nil, zeroDivisor(fn)
		}
		return a.q.AsApproximateFloat64() / divisor, nil
	case a.kind == quantityOperand && b.kind == scalarOperand:
		if b.f == 0 {
			return nil, zeroDivisor(fn)
		}
		q, err := scalarQuantity(b.f)
		if err != nil {
			return nil, err
		}
		var quo inf.Dec
		scale := max(a.q.AsDec().Scale(), q.AsDec().Scale())
		quo.QuoRound(a.q.AsDec(), q.AsDec(), scale, inf.RoundDown)
		return resource.NewDecimalQuantity(quo, a.q.Format).String(), nil
	case a.kind == durationOperand && b.kind == durationOperand:
		if b.d.Seconds() == 0 {
			return nil, zeroDivisor(fn)
		}
		return a.d.Seconds() / b.d.Seconds(), nil
	case a.kind == durationOperand && b.kind == scalarOperand:
		if b.f == 0 {
			return nil, zeroDivisor(fn)
		}
		return time.Duration(a.d.Seconds() / b.f * float64(time.Second)).String(), nil
	case a.kind == scalarOperand && b.kind == scalarOperand:
		if b.f == 0 {
			return nil, zeroDivisor(fn)
		}
		return a.f / b.f, nil
	}
	return nil, typesMismatch(fn)
}

// moduloOperands: operands of one kind; numbers and quantities must be whole (quantities
// through their approximate float value).
func moduloOperands(fn string, a, b operand) (any, error) {
	if a.kind != b.kind {
		return nil, typesMismatch(fn)
	}
	switch a.kind {
	case durationOperand:
		if b.d == 0 {
			return nil, zeroDivisor(fn)
		}
		return (a.d % b.d).String(), nil
	case quantityOperand:
		i1, i2, err := wholeOperands(a.q.ToDec().AsApproximateFloat64(), b.q.ToDec().AsApproximateFloat64())
		if err != nil {
			return nil, err
		}
		return resource.NewQuantity(i1%i2, a.q.Format).String(), nil
	}
	i1, i2, err := wholeOperands(a.f, b.f)
	if err != nil {
		return nil, err
	}
	return float64(i1 % i2), nil
}

func wholeOperands(f1, f2 float64) (int64, int64, error) {
	i1, i2 := int64(f1), int64(f2)
	if f1 != float64(i1) || f2 != float64(i2) {
		return 0, 0, nonIntModulo()
	}
	if i2 == 0 {
		return 0, 0, zeroDivisor("modulo")
	}
	return i1, i2, nil
}

// roundOutOfBounds is Kyverno's out-of-bounds format given no numbers: fmt's placeholders
// for the missing values are part of the text Kyverno returns.
const roundOutOfBounds = "JMESPath function 'round': %!d(MISSING) argument is out of bounds (%!d(MISSING))"

func fnRound(arguments []any) (any, error) {
	f, err := numberArg("round", arguments, 0)
	if err != nil {
		return nil, err
	}
	places, err := numberArg("round", arguments, 1)
	if err != nil {
		return nil, err
	}
	n, err := intNumber(places)
	if err != nil {
		return nil, errors.New("JMESPath function 'round': Non-integer argument(s) passed for round off")
	}
	if n < 0 {
		return nil, errors.New(roundOutOfBounds)
	}
	shift := math.Pow(10, float64(n))
	return math.Round(f*shift) / shift, nil
}
