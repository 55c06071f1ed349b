package kyvernocond

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	gojmespath "github.com/kyverno/go-jmespath"

	"github.com/kubectl-verify/kubectl-verify/internal/wildcard"
)

// kyvernoFunctions are the names Kyverno 1.19 registers on top of go-jmespath's built-ins
// (pkg/engine/jmespath GetFunctions). Those not implemented here are refused at load, since
// a built-in of the same name (sum) or "unknown function" would give another answer.
var kyvernoFunctions = []string{
	"compare", "equal_fold", "replace", "replace_all", "to_upper", "to_lower", "trim",
	"trim_prefix", "split", "regex_replace_all", "regex_replace_all_literal", "regex_match",
	"pattern_match", "label_match", "to_boolean", "add", "sum", "subtract", "multiply",
	"divide", "modulo", "round", "base64_decode", "base64_encode", "time_since", "time_now",
	"time_now_utc", "path_canonicalize", "truncate", "semver_compare", "parse_json",
	"parse_yaml", "lookup", "items", "object_from_lists", "random", "x509_decode",
	"time_to_cron", "time_add", "time_parse", "time_utc", "time_diff", "time_before",
	"time_after", "time_between", "time_truncate", "image_normalize", "is_external_url",
	"sha256", "sha1", "md5",
}

var (
	str = gojmespath.JpString
	num = gojmespath.JpNumber
)

// implemented are the Kyverno functions replayed, with go-jmespath's argument specs as
// Kyverno declares them (so arity and type errors come from the same library).
var implemented = append([]gojmespath.FunctionEntry{
	{Name: "compare", Arguments: args(str, str), Handler: fnCompare},
	{Name: "equal_fold", Arguments: args(str, str), Handler: strings2("equal_fold", func(a, b string) any { return strings.EqualFold(a, b) })},
	{Name: "replace_all", Arguments: args(str, str, str), Handler: fnReplaceAll},
	{Name: "to_upper", Arguments: args(str), Handler: strings1("to_upper", func(s string) (any, error) { return strings.ToUpper(s), nil })},
	{Name: "to_lower", Arguments: args(str), Handler: strings1("to_lower", func(s string) (any, error) { return strings.ToLower(s), nil })},
	{Name: "trim", Arguments: args(str, str), Handler: strings2("trim", func(a, b string) any { return strings.Trim(a, b) })},
	{Name: "trim_prefix", Arguments: args(str, str), Handler: strings2("trim_prefix", func(a, b string) any { return strings.TrimPrefix(a, b) })},
	{Name: "split", Arguments: args(str, str), Handler: strings2("split", func(a, b string) any {
		parts := strings.Split(a, b)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	})},
	// regex_match and pattern_match take a number as the subject too, printed as float32.
	{Name: "regex_match", Arguments: []gojmespath.ArgSpec{{Types: []gojmespath.JpType{str}}, {Types: []gojmespath.JpType{str, num}}}, Handler: fnRegexMatch},
	{Name: "pattern_match", Arguments: []gojmespath.ArgSpec{{Types: []gojmespath.JpType{str}}, {Types: []gojmespath.JpType{str, num}}}, Handler: fnPatternMatch},
	// Kyverno names no function in these two's argument errors.
	{Name: "base64_decode", Arguments: args(str), Handler: strings1("", func(s string) (any, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	})},
	{Name: "base64_encode", Arguments: args(str), Handler: strings1("", func(s string) (any, error) { return base64.StdEncoding.EncodeToString([]byte(s)), nil })},
	{Name: "time_since", Arguments: args(str, str, str), Handler: fnTimeSince},
	{Name: "time_now", Handler: func([]any) (any, error) { return now().Format(time.RFC3339), nil }},
	{Name: "time_now_utc", Handler: func([]any) (any, error) { return now().UTC().Format(time.RFC3339), nil }},
	{Name: "time_to_cron", Arguments: args(str), Handler: fnTimeToCron},
	// Kyverno's time_add reports its argument errors as time_to_cron's.
	{Name: "time_add", Arguments: args(str, str), Handler: timeAndDuration("time_to_cron", func(t time.Time, d time.Duration) any { return t.Add(d).Format(time.RFC3339) })},
	{Name: "time_parse", Arguments: args(str, str), Handler: fnTimeParse},
	{Name: "time_utc", Arguments: args(str), Handler: times("time_utc", 1, func(t []time.Time) any { return t[0].UTC().Format(time.RFC3339) })},
	{Name: "time_diff", Arguments: args(str, str), Handler: times("time_diff", 2, func(t []time.Time) any { return t[1].Sub(t[0]).String() })},
	{Name: "time_before", Arguments: args(str, str), Handler: times("time_before", 2, func(t []time.Time) any { return t[0].Before(t[1]) })},
	{Name: "time_after", Arguments: args(str, str), Handler: times("time_after", 2, func(t []time.Time) any { return t[0].After(t[1]) })},
	{Name: "time_between", Arguments: args(str, str, str), Handler: times("time_between", 3, func(t []time.Time) any { return t[0].After(t[1]) && t[0].Before(t[2]) })},
	{Name: "time_truncate", Arguments: args(str, str), Handler: timeAndDuration("time_truncate", func(t time.Time, d time.Duration) any { return t.Truncate(d).Format(time.RFC3339) })},
}, moreFunctions...)

// now is the clock of the time functions; Kyverno reads the wall clock at admission too.
var now = time.Now

// functions is go-jmespath's built-ins plus the implemented Kyverno functions.
var functions = func() *gojmespath.FunctionCaller {
	fc := gojmespath.NewFunctionCaller()
	for _, f := range implemented {
		fc.Register(f)
	}
	return fc
}()

// Unreplayed reports whether name is a Kyverno function this package does not implement.
func Unreplayed(name string) bool {
	for _, f := range implemented {
		if f.Name == name {
			return false
		}
	}
	for _, k := range kyvernoFunctions {
		if k == name {
			return true
		}
	}
	return false
}

func args(types ...gojmespath.JpType) []gojmespath.ArgSpec {
	out := make([]gojmespath.ArgSpec, len(types))
	for i, t := range types {
		out[i] = gojmespath.ArgSpec{Types: []gojmespath.JpType{t}}
	}
	return out
}

// argError is Kyverno's invalidArgumentTypeError (argument numbers from 1).
func argError(fn string, n int, typ string) error {
	return fmt.Errorf("JMESPath function '%s': argument #%d is not of type %s", fn, n, typ)
}

// stringArg is Kyverno's validateArg for a string argument.
func stringArg(fn string, arguments []any, i int) (string, error) {
	if i >= len(arguments) {
		return "", fmt.Errorf("JMESPath function '%s': %d argument is out of bounds (%d)", fn, i+1, len(arguments))
	}
	v := arguments[i]
	if v == nil || reflect.ValueOf(v).Kind() != reflect.String {
		return "", argError(fn, i+1, reflect.String.String())
	}
	return reflect.ValueOf(v).String(), nil
}

func strings1(fn string, f func(string) (any, error)) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		s, err := stringArg(fn, arguments, 0)
		if err != nil {
			return nil, err
		}
		return f(s)
	}
}

func strings2(fn string, f func(a, b string) any) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		a, err := stringArg(fn, arguments, 0)
		if err != nil {
			return nil, err
		}
		b, err := stringArg(fn, arguments, 1)
		if err != nil {
			return nil, err
		}
		return f(a, b), nil
	}
}

func fnCompare(arguments []any) (any, error) {
	a, err := stringArg("compare", arguments, 0)
	if err != nil {
		return nil, err
	}
	b, err := stringArg("compare", arguments, 1)
	if err != nil {
		return nil, err
	}
	// An int, not a JSON number: Kyverno's operators see it as such.
	return strings.Compare(a, b), nil
}

func fnReplaceAll(arguments []any) (any, error) {
	var s [3]string
	for i := range s {
		v, err := stringArg("replace_all", arguments, i)
		if err != nil {
			return nil, err
		}
		s[i] = v
	}
	return strings.ReplaceAll(s[0], s[1], s[2]), nil
}

// subjectString is Kyverno's ifaceToString: numbers printed at float32 precision.
func subjectString(v any) (string, error) {
	switch t := v.(type) {
	case int:
		return strconv.Itoa(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 32), nil
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	}
	return "", fmt.Errorf("error, undefined type cast")
}

func fnRegexMatch(arguments []any) (any, error) {
	re, err := stringArg("regex_match", arguments, 0)
	if err != nil {
		return nil, err
	}
	src, err := subjectString(arguments[1])
	if err != nil {
		return nil, argError("regex_match", 2, "String or Real")
	}
	return regexp.MatchString(re, src)
}

// fnPatternMatch: Kyverno 1.19.1 names regex_match in pattern_match's argument errors.
func fnPatternMatch(arguments []any) (any, error) {
	pattern, err := stringArg("regex_match", arguments, 0)
	if err != nil {
		return nil, err
	}
	src, err := subjectString(arguments[1])
	if err != nil {
		return nil, argError("regex_match", 2, "String or Real")
	}
	return wildcard.Match(pattern, src), nil
}

func fnTimeSince(arguments []any) (any, error) {
	var s [3]string
	for i := range s {
		v, err := stringArg("time_since", arguments, i)
		if err != nil {
			return nil, err
		}
		s[i] = v
	}
	layout := s[0]
	if layout == "" {
		layout = time.RFC3339
	}
	t1, err := time.Parse(layout, s[1])
	if err != nil {
		return nil, err
	}
	t2 := now()
	if s[2] != "" {
		if t2, err = time.Parse(layout, s[2]); err != nil {
			return nil, err
		}
	}
	return t2.Sub(t1).String(), nil
}

func timeArg(fn string, arguments []any, i int) (time.Time, error) {
	s, err := stringArg(fn, arguments, i)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, s)
}

func times(fn string, n int, f func([]time.Time) any) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		ts := make([]time.Time, n)
		for i := range ts {
			t, err := timeArg(fn, arguments, i)
			if err != nil {
				return nil, err
			}
			ts[i] = t
		}
		return f(ts), nil
	}
}

func timeAndDuration(fn string, f func(time.Time, time.Duration) any) gojmespath.JpFunction {
	return func(arguments []any) (any, error) {
		t, err := timeArg(fn, arguments, 0)
		if err != nil {
			return nil, err
		}
		s, err := stringArg(fn, arguments, 1)
		if err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		return f(t, d), nil
	}
}

func fnTimeToCron(arguments []any) (any, error) {
	t, err := timeArg("time_to_cron", arguments, 0)
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("%d %d %d %d %d", t.Minute(), t.Hour(), t.Day(), int(t.Month()), int(t.Weekday())), nil
}

func fnTimeParse(arguments []any) (any, error) {
	layout, err := stringArg("time_parse", arguments, 0)
	if err != nil {
		return nil, err
	}
	ts, err := stringArg("time_parse", arguments, 1)
	if err != nil {
		return nil, err
	}
	// A layout that is a number means the timestamp is Unix seconds.
	if _, err := strconv.ParseInt(layout, 10, 64); err == nil {
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return nil, err
		}
		return time.Unix(secs, 0).UTC().Format(time.RFC3339), nil
	}
	t, err := time.Parse(layout, ts)
	if err != nil {
		return nil, err
	}
	return t.Format(time.RFC3339), nil
}
