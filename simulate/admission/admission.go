// Package admission combines webhook responses the way the API server does: mutating
// webhooks in order, each seeing the previous one's object; then validating webhooks on the
// final object; the first denial in call order is the answer.
package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// Response is one webhook's answer.
type Response struct {
	Allowed bool
	Message string // the engine's text, without the API server's prefix
	// Status, when set, is the API server's whole message: it refused the request itself
	// before calling the webhook (a matchCondition that fails to evaluate).
	Status   string
	Warnings []string
	Patch    []report.PatchOp
}

// Webhook is one admission webhook an engine registers.
type Webhook struct {
	// Name is the webhook's name as the API server quotes it in a denial.
	Name string
	// Configuration is the (Mutating|Validating)WebhookConfiguration name: configurations
	// are called in name order, webhooks within one in list order.
	Configuration string
	Mutating      bool
	Call          func(ctx context.Context, obj map[string]any) Response
}

// Outcome is what the API server would answer.
type Outcome struct {
	Allowed  bool
	Message  string
	Warnings []string
	Patch    []report.PatchOp
	Object   map[string]any
}

// Run replays one request through hooks.
func Run(ctx context.Context, obj map[string]any, hooks []Webhook) (Outcome, error) {
	var mut, val []Webhook
	for _, h := range hooks {
		if h.Mutating {
			mut = append(mut, h)
		} else {
			val = append(val, h)
		}
	}
	byConfig := func(hs []Webhook) {
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].Configuration < hs[j].Configuration })
	}
	byConfig(mut)
	byConfig(val)
	out := Outcome{Allowed: true, Object: obj, Patch: []report.PatchOp{}}
	for _, h := range mut {
		r := h.Call(ctx, out.Object)
		out.Warnings = append(out.Warnings, r.Warnings...)
		if !r.Allowed {
			return deny(out, h, r), nil
		}
		if len(r.Patch) > 0 {
			next, err := Apply(out.Object, r.Patch)
			if err != nil {
				return out, fmt.Errorf("webhook %s: %w", h.Name, err)
			}
			out.Object = next
			out.Patch = append(out.Patch, r.Patch...)
		}
	}
	var denied *Outcome
	for _, h := range val {
		r := h.Call(ctx, out.Object)
		out.Warnings = append(out.Warnings, r.Warnings...)
		if !r.Allowed && denied == nil {
			d := deny(out, h, r)
			denied = &d
		}
	}
	if denied != nil {
		denied.Warnings = apiServerWarnings(out.Warnings)
		return *denied, nil
	}
	out.Warnings = apiServerWarnings(out.Warnings)
	return out, nil
}

func deny(o Outcome, h Webhook, r Response) Outcome {
	o.Warnings = apiServerWarnings(o.Warnings)
	o.Allowed = false
	o.Message = fmt.Sprintf("admission webhook %q denied the request: %s", h.Name, r.Message)
	if r.Status != "" {
		o.Message = r.Status
	}
	o.Patch = []report.PatchOp{}
	return o
}

// Apply applies add/replace/remove operations to a deep copy of obj.
func Apply(obj map[string]any, ops []report.PatchOp) (map[string]any, error) {
	doc, err := DeepCopy(obj)
	if err != nil {
		return nil, err
	}
	var root any = doc
	for _, op := range ops {
		if root, err = applyOne(root, op); err != nil {
			return nil, err
		}
	}
	m, _ := root.(map[string]any)
	return m, nil
}

// DeepCopy copies a JSON object as a JSON round trip would (numbers become float64), without
// the encoding: it runs for every resource and webhook.
func DeepCopy(obj map[string]any) (map[string]any, error) {
	v, err := copyJSON(obj)
	if err != nil {
		return nil, err
	}
	out, _ := v.(map[string]any)
	return out, nil
}

func copyJSON(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, float64:
		return v, nil
	case int64:
		return float64(v), nil
	case int:
		return float64(v), nil
	case map[string]any:
		if v == nil {
			return nil, nil
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := copyJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		if v == nil {
			return nil, nil
		}
		out := make([]any, len(v))
		for i, e := range v {
			c, err := copyJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	// Anything else (json.Number, typed slices and maps) takes the round trip itself.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

func unescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func applyOne(root any, op report.PatchOp) (any, error) {
	parts := strings.Split(op.Path, "/")[1:]
	if len(parts) == 0 {
		return op.Value, nil
	}
	parent := root
	for _, p := range parts[:len(parts)-1] {
		switch c := parent.(type) {
		case map[string]any:
			next, ok := c[unescape(p)]
			if !ok {
				return nil, fmt.Errorf("patch %s %s: path not found", op.Op, op.Path)
			}
			parent = next
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("patch %s %s: bad index", op.Op, op.Path)
			}
			parent = c[i]
		default:
			return nil, fmt.Errorf("patch %s %s: path not found", op.Op, op.Path)
		}
	}
	last := unescape(parts[len(parts)-1])
	value := op.Value
	if m, ok := value.(map[string]any); ok && len(m) == 0 {
		value = map[string]any{}
	}
	switch c := parent.(type) {
	case map[string]any:
		if op.Op == "remove" {
			delete(c, last)
		} else {
			c[last] = value
		}
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("patch %s %s: bad index", op.Op, op.Path)
		}
		if op.Op != "replace" {
			return nil, fmt.Errorf("patch %s %s: only replace is supported on arrays", op.Op, op.Path)
		}
		c[i] = value
	default:
		return nil, fmt.Errorf("patch %s %s: path not found", op.Op, op.Path)
	}
	return root, nil
}
