package kyvernocond

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-verify/kubectl-verify/internal/wildcard"
)

// Operators are the operator names Kyverno knows (kyvernov1.ConditionOperators). The CRD
// admits all but Equal and NotEqual in attestation conditions; deny conditions are
// schemaless and checked against this list when the policy is created.
var Operators = []string{
	"Equal", "Equals", "NotEqual", "NotEquals", "In", "AnyIn", "AllIn", "NotIn", "AnyNotIn",
	"AllNotIn", "GreaterThanOrEquals", "GreaterThan", "LessThanOrEquals", "LessThan",
	"DurationGreaterThanOrEquals", "DurationGreaterThan", "DurationLessThanOrEquals",
	"DurationLessThan",
}

// compare is CreateOperatorHandler(op).Evaluate(key, value). The operator is matched without
// case, but the ordering operators compare only under their exact names (Kyverno's
// compareByCondition), so "greaterthan" is always false.
func compare(op string, key, value any) (bool, error) {
	switch strings.ToLower(op) {
	case "equal", "equals":
		return equals(key, value), nil
	case "notequal", "notequals":
		return notEquals(key, value), nil
	case "in":
		return in(key, value, false)
	case "notin":
		return in(key, value, true)
	case "anyin":
		return anyIn(key, value, false), nil
	case "anynotin":
		return anyIn(key, value, true), nil
	case "allin":
		return allIn(key, value, false), nil
	case "allnotin":
		return allIn(key, value, true), nil
	case "greaterthanorequals", "greaterthan", "lessthanorequals", "lessthan":
		return numeric(op, key, value), nil
	case "durationgreaterthanorequals", "durationgreaterthan", "durationlessthanorequals", "durationlessthan":
		return durationOp(op, key, value), nil
	}
	// Kyverno wraps a nil error here, hence the verb printed as is.
	return false, errors.New("failed to create handler for condition operator: %!w(<nil>)")
}

// ---- Equals / NotEquals (equal.go, notequal.go)

func equals(key, value any) bool {
	switch k := key.(type) {
	case bool:
		v, ok := value.(bool)
		return ok && k == v
	case int:
		return intEquals(int64(k), value)
	case int64:
		return intEquals(k, value)
	case float64:
		return floatEquals(k, value)
	case string:
		return stringEquals(k, value)
	case map[string]any:
		v, ok := value.(map[string]any)
		return ok && reflect.DeepEqual(k, v)
	case []any:
		v, ok := value.([]any)
		return ok && reflect.DeepEqual(k, v)
	}
	return false
}

func intEquals(k int64, value any) bool {
	switch v := value.(type) {
	case int:
		return int64(v) == k
	case int64:
		return v == k
	case float64:
		return v == math.Trunc(v) && int64(v) == k
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n == k
	}
	return false
}

func floatEquals(k float64, value any) bool {
	switch v := value.(type) {
	case int:
		return k == math.Trunc(k) && int(k) == v
	case int64:
		return k == math.Trunc(k) && int64(k) == v
	case float64:
		return v == k
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && f == k
	}
	return false
}

// stringEquals: durations first (the one type comparable with another), then quantities
// (a quantity key against a string that is none is false, not a string comparison), then
// the value as a wildcard pattern over the key.
func stringEquals(k string, value any) bool {
	if kd, vd, err := durations(k, value); err == nil {
		return kd.Seconds() == vd.Seconds()
	}
	if kq, err := resource.ParseQuantity(k); err == nil {
		if v, ok := value.(string); ok {
			vq, err := resource.ParseQuantity(v)
			return err == nil && kq.Equal(vq)
		}
	}
	if v, ok := value.(string); ok {
		return wildcard.Match(v, k)
	}
	return false
}

// notEquals is Kyverno's NotEquals handler: for every key type it handles, exactly the
// negation of Equals; any other key type is false for both.
func notEquals(key, value any) bool {
	switch key.(type) {
	case bool, int, int64, float64, string, map[string]any, []any:
		return !equals(key, value)
	}
	return false
}

// durations is parseDuration: at least one side must be a duration string (other than
// "0"); the other side may be a number of seconds.
func durations(key, value any) (time.Duration, time.Duration, error) {
	parse := func(x any) *time.Duration {
		s, ok := x.(string)
		if !ok || s == "0" {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil
		}
		return &d
	}
	seconds := func(x any) *time.Duration {
		var d time.Duration
		switch t := x.(type) {
		case int:
			d = time.Duration(t) * time.Second
		case int64:
			d = time.Duration(t) * time.Second
		case float64:
			d = time.Duration(t) * time.Second
		default:
			return nil
		}
		return &d
	}
	kd, vd := parse(key), parse(value)
	if kd == nil && vd == nil {
		return 0, 0, errors.New("neither value is a duration")
	}
	if kd == nil {
		if kd = seconds(key); kd == nil {
			return 0, 0, errors.New("no valid duration value")
		}
	}
	if vd == nil {
		if vd = seconds(value); vd == nil {
			return 0, 0, errors.New("no valid duration value")
		}
	}
	return *kd, *vd, nil
}

// ---- In / NotIn, deprecated (in.go, notin.go)

func in(key, value any, not bool) (bool, error) {
	switch k := key.(type) {
	case string:
		return keyIn(k, value, not), nil
	case int, int32, int64, float32, float64, bool:
		return keyIn(fmt.Sprint(k), value, not), nil
	case []any:
		keys := make([]string, len(k))
		for i, x := range k {
			s, ok := x.(string)
			if !ok {
				return false, fmt.Errorf("In/NotIn over a list holding %v: %w", x, ErrNotReplayed)
			}
			keys[i] = s
		}
		invalid, res := setIn(keys, value, not)
		return !invalid && res, nil
	}
	return false, nil
}

func keyIn(key string, value any, not bool) bool {
	invalid, found := inArray(key, value)
	if invalid {
		return false
	}
	return found != not
}

// inArray is keyExistsInArray: a list value matches by wildcard either way; a string value
// matches as a pattern, else as a JSON string array by equality.
func inArray(key string, value any) (invalid, found bool) {
	switch v := value.(type) {
	case []any:
		for _, x := range v {
			if wildcard.Match(fmt.Sprint(x), key) || wildcard.Match(key, fmt.Sprint(x)) {
				return false, true
			}
		}
		return false, false
	case string:
		if wildcard.Match(v, key) {
			return false, true
		}
		var arr []string
		if err := json.Unmarshal([]byte(v), &arr); err != nil {
			return true, false
		}
		for _, x := range arr {
			if x == key {
				return false, true
			}
		}
		return false, false
	}
	return true, false
}

// setIn is setExistsInArray: exact set membership (all keys in the value, or for NotIn
// some key outside it). A one-key set equal to a string value counts as found for both.
func setIn(keys []string, value any, not bool) (invalid, result bool) {
	var values []string
	switch v := value.(type) {
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return true, false
			}
			values = append(values, s)
		}
	case string:
		if len(keys) == 1 && keys[0] == v {
			return false, true
		}
		if err := json.Unmarshal([]byte(v), &values); err != nil {
			return true, false
		}
	default:
		return true, false
	}
	set := map[string]bool{}
	for _, v := range values {
		set[v] = true
	}
	for _, k := range keys {
		if !set[k] {
			return false, not
		}
	}
	return false, !not
}

// ---- AnyIn / AnyNotIn / AllIn / AllNotIn (anyin.go, allin.go, anynotin.go, allnotin.go)

func stringKeys(key any) ([]string, bool, bool) {
	switch k := key.(type) {
	case string:
		return []string{k}, false, true
	case int, int32, int64, float32, float64, bool:
		return []string{fmt.Sprint(k)}, false, true
	case []any:
		keys := make([]string, len(k))
		for i, x := range k {
			keys[i] = fmt.Sprint(x)
		}
		return keys, true, true
	}
	return nil, false, false
}

func anyIn(key, value any, not bool) bool {
	keys, set, ok := stringKeys(key)
	if !ok {
		return false
	}
	if !set {
		invalid, found := anyKeyIn(keys[0], value)
		return !invalid && found != not
	}
	invalid, res := anySetIn(keys, value, not)
	return !invalid && res
}

func allIn(key, value any, not bool) bool {
	keys, set, ok := stringKeys(key)
	if !ok {
		return false
	}
	if !set {
		// One key: Kyverno's allKeyExistsInArray is anyKeyExistsInArray.
		invalid, found := anyKeyIn(keys[0], value)
		return !invalid && found != not
	}
	invalid, res := allSetIn(keys, value, not)
	return !invalid && res
}

// anyKeyIn is anyKeyExistsInArray (and allKeyExistsInArray): as inArray, plus a range value
// ("1-10") and a string that is no JSON taken as a one-element list.
func anyKeyIn(key string, value any) (invalid, found bool) {
	switch v := value.(type) {
	case []any:
		for _, x := range v {
			if matchEither(fmt.Sprint(x), key) {
				return false, true
			}
		}
		return false, false
	case string:
		if wildcard.Match(v, key) {
			return false, true
		}
		if patternOperator(v) == opInRange {
			return false, validatePattern(key, v)
		}
		arr, ok := stringList(v)
		if !ok {
			return true, false
		}
		for _, x := range arr {
			if x == key {
				return false, true
			}
		}
		return false, false
	}
	return true, false
}

func matchEither(a, b string) bool { return wildcard.Match(a, b) || wildcard.Match(b, a) }

// stringList is a string value as a list: valid JSON must be a string array, anything else
// is itself the only element.
func stringList(v string) ([]string, bool) {
	if !json.Valid([]byte(v)) {
		return []string{v}, true
	}
	var arr []string
	if err := json.Unmarshal([]byte(v), &arr); err != nil {
		return nil, false
	}
	return arr, true
}

func anySetIn(keys []string, value any, not bool) (invalid, result bool) {
	var values []string
	switch v := value.(type) {
	case []any:
		for _, x := range v {
			values = append(values, fmt.Sprint(x))
		}
	case int, int32, int64, float32, float64, bool:
		values = []string{fmt.Sprint(v)}
	case string:
		if len(keys) == 1 && keys[0] == v {
			return false, !not
		}
		if patternOperator(v) == opInRange {
			if not {
				notRange := strings.Replace(v, "-", "!-", 1)
				for _, k := range keys {
					if validatePattern(k, notRange) {
						return false, true
					}
				}
				return false, false
			}
			for _, k := range keys {
				if validatePattern(k, v) {
					return false, true
				}
			}
			return false, false
		}
		arr, ok := stringList(v)
		if !ok {
			return true, false
		}
		values = arr
	default:
		return true, false
	}
	if not {
		// Some key matches no value.
		for _, k := range keys {
			matched := false
			for _, x := range values {
				if matchEither(k, x) {
					matched = true
					break
				}
			}
			if !matched {
				return false, true
			}
		}
		return false, false
	}
	for _, k := range keys {
		for _, x := range values {
			if matchEither(k, x) {
				return false, true
			}
		}
	}
	return false, false
}

func allSetIn(keys []string, value any, not bool) (invalid, result bool) {
	var values []string
	switch v := value.(type) {
	case []any:
		for _, x := range v {
			values = append(values, fmt.Sprint(x))
		}
	case string:
		if len(keys) == 1 && keys[0] == v {
			return false, !not
		}
		if patternOperator(v) == opInRange {
			if not {
				// Kyverno checks the range itself here, not its negation.
				for _, k := range keys {
					if validatePattern(k, v) {
						return false, false
					}
				}
				return false, true
			}
			n := 0
			for _, k := range keys {
				if validatePattern(k, v) {
					n++
				}
			}
			return false, n == len(keys)
		}
		arr, ok := stringList(v)
		if !ok {
			return true, false
		}
		values = arr
	default:
		return true, false
	}
	if not {
		for _, k := range keys {
			for _, x := range values {
				if matchEither(k, x) {
					return false, false
				}
			}
		}
		return false, true
	}
	found := 0
	for _, k := range keys {
		for _, x := range values {
			if matchEither(k, x) {
				found++
				break
			}
		}
	}
	return false, found == len(keys)
}

// ---- GreaterThan... (numeric.go)

func numeric(op string, key, value any) bool {
	switch k := key.(type) {
	case int:
		return intOrder(op, int64(k), value)
	case int64:
		return intOrder(op, k, value)
	case float64:
		return floatOrder(op, k, value)
	case string:
		return stringOrder(op, k, value)
	}
	return false
}

func order(op string, k, v float64) bool {
	switch op {
	case "GreaterThanOrEquals":
		return k >= v
	case "GreaterThan":
		return k > v
	case "LessThanOrEquals":
		return k <= v
	case "LessThan":
		return k < v
	}
	return false
}

func intOrder(op string, k int64, value any) bool {
	switch v := value.(type) {
	case int:
		return order(op, float64(k), float64(v))
	case int64:
		return order(op, float64(k), float64(v))
	case float64:
		return order(op, float64(k), v)
	case string:
		return stringValueOrder(op, k, float64(k), v)
	}
	return false
}

func floatOrder(op string, k float64, value any) bool {
	switch v := value.(type) {
	case int:
		return order(op, k, float64(v))
	case int64:
		return order(op, k, float64(v))
	case float64:
		return order(op, k, v)
	case string:
		return stringValueOrder(op, k, k, v)
	}
	return false
}

// stringValueOrder: a number key against a string value, as a duration, else a number.
func stringValueOrder(op string, key any, k float64, v string) bool {
	if kd, vd, err := durations(key, v); err == nil {
		return order(op, kd.Seconds(), vd.Seconds())
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return order(op, k, f)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return order(op, k, float64(n))
	}
	return false
}

func stringOrder(op, k string, value any) bool {
	if kd, vd, err := durations(k, value); err == nil {
		return order(op, kd.Seconds(), vd.Seconds())
	}
	if v, ok := value.(string); ok {
		if kq, err := resource.ParseQuantity(k); err == nil {
			if vq, err := resource.ParseQuantity(v); err == nil {
				return order(op, float64(kq.Cmp(vq)), 0)
			}
		}
	}
	if f, err := strconv.ParseFloat(k, 64); err == nil {
		return floatOrder(op, f, value)
	}
	if n, err := strconv.ParseInt(k, 10, 64); err == nil {
		return intOrder(op, n, value)
	}
	if kv, err := semver.Parse(k); err == nil {
		v, ok := value.(string)
		if !ok {
			return false
		}
		vv, err := semver.Parse(v)
		if err != nil {
			return false
		}
		switch op {
		case "GreaterThanOrEquals":
			return kv.GTE(vv)
		case "GreaterThan":
			return kv.GT(vv)
		case "LessThanOrEquals":
			return kv.LTE(vv)
		case "LessThan":
			return kv.LT(vv)
		}
	}
	return false
}

// ---- Duration* (duration.go), deprecated: numbers are seconds, strings durations.

func durationOp(op string, key, value any) bool {
	cmp := func(k, v time.Duration) bool {
		switch op {
		case "DurationGreaterThanOrEquals":
			return k >= v
		case "DurationGreaterThan":
			return k > v
		case "DurationLessThanOrEquals":
			return k <= v
		case "DurationLessThan":
			return k < v
		}
		return false
	}
	var kd time.Duration
	switch k := key.(type) {
	case int:
		kd = time.Duration(k) * time.Second
	case int64:
		kd = time.Duration(k) * time.Second
	case float64:
		kd = time.Duration(k) * time.Second
	case string:
		d, err := time.ParseDuration(k)
		if err != nil {
			return false
		}
		kd = d
	default:
		return false
	}
	switch v := value.(type) {
	case int:
		return cmp(kd, time.Duration(v)*time.Second)
	case int64:
		return cmp(kd, time.Duration(v)*time.Second)
	case float64:
		return cmp(kd, time.Duration(v)*time.Second)
	case string:
		d, err := time.ParseDuration(v)
		return err == nil && cmp(kd, d)
	}
	return false
}

// ---- range values of the In operators: Kyverno's pattern.Validate of the key against a
// string pattern ("a|b", "x&y", ">=1", "1-10", "1!-10", durations and quantities).

type patternOp string

const (
	opEqual      patternOp = ""
	opMoreEqual  patternOp = ">="
	opLessEqual  patternOp = "<="
	opNotEqual   patternOp = "!"
	opMore       patternOp = ">"
	opLess       patternOp = "<"
	opInRange    patternOp = "-"
	opNotInRange patternOp = "!-"
)

var (
	inRangeRe    = regexp.MustCompile(`^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)$`)
	notInRangeRe = regexp.MustCompile(`^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)$`)
)

func patternOperator(p string) patternOp {
	if len(p) < 2 {
		return opEqual
	}
	for _, op := range []patternOp{opMoreEqual, opLessEqual, opMore, opLess, opNotEqual} {
		if strings.HasPrefix(p, string(op)) {
			return op
		}
	}
	if notInRangeRe.MatchString(p) {
		return opNotInRange
	}
	if inRangeRe.MatchString(p) {
		return opInRange
	}
	return opEqual
}

// validatePattern is pattern.Validate(value, pattern) for a string value and pattern.
func validatePattern(value, pattern string) bool {
	if value == pattern {
		return true
	}
	for _, alt := range strings.Split(pattern, "|") {
		all := true
		for _, c := range strings.Split(strings.Trim(alt, " "), "&") {
			if !validateOne(value, strings.Trim(c, " ")) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func validateOne(value, pattern string) bool {
	switch op := patternOperator(pattern); op {
	case opInRange:
		m := inRangeRe.FindStringSubmatch(pattern)
		return m != nil && validateOne(value, ">= "+m[1]) && validateOne(value, "<= "+m[2])
	case opNotInRange:
		m := notInRangeRe.FindStringSubmatch(pattern)
		return m != nil && (validateOne(value, "< "+m[1]) || validateOne(value, "> "+m[2]))
	default:
		p := strings.TrimSpace(pattern[len(op):])
		if d, err := time.ParseDuration(p); err == nil {
			if vd, err := time.ParseDuration(value); err == nil {
				if res, ok := ordered(op, compareValues(vd, d)); ok {
					return res
				}
			}
		}
		if q, err := resource.ParseQuantity(p); err == nil {
			if vq, err := resource.ParseQuantity(value); err == nil {
				if res, ok := ordered(op, vq.Cmp(q)); ok {
					return res
				}
			}
		}
		switch op {
		case opEqual:
			return wildcard.Match(p, value)
		case opNotEqual:
			return !wildcard.Match(p, value)
		}
		return false
	}
}

func compareValues(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ordered(op patternOp, c int) (bool, bool) {
	switch op {
	case opEqual:
		return c == 0, true
	case opNotEqual:
		return c != 0, true
	case opMore:
		return c > 0, true
	case opLess:
		return c < 0, true
	case opMoreEqual:
		return c >= 0, true
	case opLessEqual:
		return c <= 0, true
	}
	return false, false
}
