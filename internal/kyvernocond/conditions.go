package kyvernocond

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	k8sjson "k8s.io/apimachinery/pkg/util/json"
)

// Condition is one condition as the policy holds it (kyverno.io/v1 Condition): key and
// value are raw JSON, decoded when evaluated as Kyverno decodes them.
type Condition struct {
	Key      json.RawMessage `json:"key,omitempty"`
	Operator string          `json:"operator,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Message  string          `json:"message,omitempty"`
}

// AnyAll is one any/all block. A nil list is absent; an empty one is present (an empty
// `any` is false), as Go decodes them and Kyverno tells them apart.
type AnyAll struct {
	Any []Condition `json:"any,omitempty"`
	All []Condition `json:"all,omitempty"`
}

// Conditions is a validate.deny (or preconditions) conditions value: the legacy list of
// conditions, else one any/all block (Kyverno's ConditionsWrapper decodes in that order).
type Conditions struct {
	List   []Condition
	AnyAll AnyAll
	// Legacy says List is the form used.
	Legacy bool
}

// UnmarshalJSON tries the list, then the any/all block, as Kyverno does.
func (c *Conditions) UnmarshalJSON(b []byte) error {
	var list []Condition
	if err := json.Unmarshal(b, &list); err == nil {
		*c = Conditions{List: list, Legacy: true}
		return nil
	}
	var aa AnyAll
	if err := json.Unmarshal(b, &aa); err == nil {
		*c = Conditions{AnyAll: aa}
		return nil
	}
	return fmt.Errorf("failed to unmarshal Conditions")
}

// MarshalJSON writes the form that was read.
func (c Conditions) MarshalJSON() ([]byte, error) {
	if c.Legacy {
		return json.Marshal(c.List)
	}
	return json.Marshal(c.AnyAll)
}

// present reports whether raw holds a value: absent and null are the same to Kyverno (a nil
// *apiextensions JSON).
func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// typed decodes a condition's key or value as GetKey/GetValue do (apimachinery's JSON:
// integers become int64, other numbers float64).
func typed(raw json.RawMessage) (any, error) {
	if !present(raw) {
		return nil, nil
	}
	var v any
	if err := k8sjson.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// untyped is DocumentToUntyped: strings, lists and objects as they are; any other value
// through a JSON round trip (an int64 key becomes a float64).
func untyped(v any) (any, error) {
	switch v.(type) {
	case string, []any, map[string]any:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// condition is a condition ready to evaluate: key and value typed as GetKey/GetValue give them.
type condition struct {
	key, value any
	op, msg    string
}

func decode(c Condition) (condition, error) {
	k, err := typed(c.Key)
	if err != nil {
		return condition{}, err
	}
	v, err := typed(c.Value)
	if err != nil {
		return condition{}, err
	}
	return condition{key: k, value: v, op: c.Operator, msg: c.Message}, nil
}

type block struct{ any, all []condition }

func decodeBlock(aa AnyAll) (block, error) {
	var b block
	for _, src := range []struct {
		in  []Condition
		out *[]condition
	}{{aa.Any, &b.any}, {aa.All, &b.all}} {
		if src.in == nil {
			continue
		}
		*src.out = make([]condition, 0, len(src.in))
		for _, c := range src.in {
			d, err := decode(c)
			if err != nil {
				return block{}, err
			}
			*src.out = append(*src.out, d)
		}
	}
	return b, nil
}

// evaluate is Kyverno's Evaluate: key and value substituted again (as preconditions are),
// then compared; the message is the condition's.
func (c *Context) evaluate(cond condition) (bool, string, error) {
	key, err := c.substitutePrecondition(cond.key)
	if err != nil {
		return false, "", fmt.Errorf("failed to substitute variables in condition key: %w", err)
	}
	value, err := c.substitutePrecondition(cond.value)
	if err != nil {
		return false, "", fmt.Errorf("failed to substitute variables in condition value: %w", err)
	}
	ok, err := compare(cond.op, key, value)
	if err != nil {
		return false, "", err
	}
	return ok, cond.msg, nil
}

func (c *Context) substitutePrecondition(v any) (any, error) {
	u, err := untyped(v)
	if err != nil {
		return nil, err
	}
	return c.Substitute(u)
}

// evaluateBlock is evaluateAnyAllConditionsWithContext: `any` (when present) needs one true
// condition, `all` every one, evaluated in order and stopping as Kyverno stops. The message
// joins, with "; ", the messages of the true conditions when the block holds, else of the
// false ones (those of `any` before its first true one included).
func (c *Context) evaluateBlock(b block) (bool, string, error) {
	anyOK, allOK := true, true
	var trueMsgs, falseMsgs []string
	if b.any != nil {
		anyOK = false
		for _, cond := range b.any {
			ok, msg, err := c.evaluate(cond)
			if err != nil {
				return false, "", err
			}
			if ok {
				anyOK = true
				trueMsgs = append(trueMsgs, msg)
				break
			}
			falseMsgs = append(falseMsgs, msg)
		}
	}
	for _, cond := range b.all {
		ok, msg, err := c.evaluate(cond)
		if err != nil {
			return false, "", err
		}
		if !ok {
			allOK = false
			falseMsgs = append(falseMsgs, msg)
			break
		}
		trueMsgs = append(trueMsgs, msg)
	}
	if anyOK && allOK {
		return true, joinNonEmpty(trueMsgs, "; "), nil
	}
	return false, joinNonEmpty(falseMsgs, "; "), nil
}

// evaluateBlocks is EvaluateAnyAllConditionsWithContext: blocks ANDed, the first false one's
// message, or the true messages joined with ";" (no space).
func (c *Context) evaluateBlocks(bs []block) (bool, string, error) {
	var trueMsgs []string
	for _, b := range bs {
		ok, msg, err := c.evaluateBlock(b)
		if err != nil {
			return false, "", err
		}
		if !ok {
			return false, msg, nil
		}
		trueMsgs = append(trueMsgs, msg)
	}
	return true, joinNonEmpty(trueMsgs, ";"), nil
}

// Evaluate is EvaluateConditionsWithContext on a deny or preconditions block (nil: no
// conditions, which hold): the any/all block, or the legacy list ANDed.
func (c *Context) Evaluate(conds *Conditions) (bool, string, error) {
	if conds == nil {
		return c.evaluateBlock(block{})
	}
	if !conds.Legacy {
		b, err := decodeBlock(conds.AnyAll)
		if err != nil {
			return false, "", err
		}
		return c.evaluateBlock(b)
	}
	var trueMsgs []string
	for _, raw := range conds.List {
		cond, err := decode(raw)
		if err != nil {
			return false, "", err
		}
		ok, msg, err := c.evaluate(cond)
		if err != nil {
			return false, "", err
		}
		if !ok {
			return false, msg, nil
		}
		trueMsgs = append(trueMsgs, msg)
	}
	return true, joinNonEmpty(trueMsgs, ";"), nil
}

// CheckStatement is Kyverno's attestation check of one in-toto statement (checkAttestations
// and EvaluateConditions): the predicate merged at the root of a checkpoint of c, the whole
// conditions list substituted and round-tripped through the policy types, then evaluated.
// No conditions hold without looking at the statement.
func (c *Context) CheckStatement(conds []AnyAll, statement map[string]any) (bool, string, error) {
	if len(conds) == 0 {
		return true, "", nil
	}
	c.Checkpoint()
	defer c.Restore()
	predicate, ok := statement["predicate"].(map[string]any)
	if !ok {
		return false, "", fmt.Errorf("failed to extract predicate from statement: %v", statement)
	}
	c.Merge(predicate)
	doc, err := c.Substitute(conditionsDocument(conds))
	if err != nil {
		return false, "", fmt.Errorf("failed to substitute variables in attestation conditions: %w", err)
	}
	bs, err := blocksFromDocument(doc)
	if err != nil {
		return false, "", fmt.Errorf("failed to substitute variables in attestation conditions: %w", err)
	}
	return c.evaluateBlocks(bs)
}

// conditionsDocument is ConditionsToJSONObject: the list as JSON data, empty lists and
// fields left out.
func conditionsDocument(conds []AnyAll) []any {
	out := make([]any, len(conds))
	for i, aa := range conds {
		m := map[string]any{}
		for name, list := range map[string][]Condition{"any": aa.Any, "all": aa.All} {
			if len(list) == 0 {
				continue
			}
			items := make([]any, len(list))
			for j, cond := range list {
				items[j] = conditionDocument(cond)
			}
			m[name] = items
		}
		out[i] = m
	}
	return out
}

func conditionDocument(c Condition) map[string]any {
	m := map[string]any{}
	for name, raw := range map[string]json.RawMessage{"key": c.Key, "value": c.Value} {
		if !present(raw) {
			continue
		}
		var v any
		// Already valid JSON: the policy decoded.
		_ = json.Unmarshal(raw, &v)
		m[name] = v
	}
	if c.Operator != "" {
		m["operator"] = c.Operator
	}
	if c.Message != "" {
		m["message"] = c.Message
	}
	return m
}

// blocksFromDocument is JSONObjectToConditions then GetKey/GetValue: the substituted data
// back into conditions, keys and values through JSON as the policy types hold them.
func blocksFromDocument(doc any) ([]block, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var conds []AnyAll
	if err := json.Unmarshal(b, &conds); err != nil {
		// Kyverno's decoder words this its own way.
		return nil, fmt.Errorf("%v: %w", err, ErrNotReplayed)
	}
	out := make([]block, len(conds))
	for i, aa := range conds {
		bl, err := decodeBlock(aa)
		if err != nil {
			return nil, err
		}
		out[i] = bl
	}
	return out, nil
}

func joinNonEmpty(parts []string, sep string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}
