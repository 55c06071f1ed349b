// Package kyvernocond replays Kyverno 1.19's variables and conditions: the JSON context
// `{{ }}` variables are resolved against, their substitution, the JMESPath dialect (Kyverno's
// go-jmespath fork plus the custom functions implemented here), the condition operators and
// the any/all evaluation with its messages (spec/kyverno.md §1.3, §3, §4.1 step 7). It is
// shared by the policy loader (what a condition uses, checked at load) and the engine.
package kyvernocond

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DefaultMaxContextSize is the `maxContextSize` Kyverno uses unless its ConfigMap says
// otherwise: the bytes named context entries may add to one context (2 MiB).
const DefaultMaxContextSize int64 = 2 * 1024 * 1024

// Context is Kyverno's JSON context: a JSON object variables are queried in, with a stack of
// checkpoints. Values added are copied, so callers keep ownership of what they pass.
type Context struct {
	data        map[string]any
	checkpoints []map[string]any
	// size counts the bytes named entries added; like Kyverno's, it survives Restore.
	size    int64
	maxSize int64
	// deferred are rule context entries not loaded yet.
	deferred []*deferred
}

// NewContext is a context holding a copy of data (nil for an empty one).
func NewContext(data map[string]any) *Context {
	c := &Context{data: map[string]any{}, maxSize: DefaultMaxContextSize}
	if data != nil {
		c.Merge(data)
	}
	return c
}

// Merge merges m at the root without replacing objects: an object meets an object key by
// key, anything else replaces (Kyverno's mergeMaps with overwriteMaps=false, as
// AddJSONObject and every Add* use it). This is how a statement's predicate lands at the
// root for its conditions.
func (c *Context) Merge(m map[string]any) {
	mergeInto(c.data, deepCopy(m).(map[string]any))
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// SizeLimitError is Kyverno's ContextSizeLimitExceededError.
type SizeLimitError struct{ Size, Limit int64 }

func (e SizeLimitError) Error() string {
	return fmt.Sprintf("context size limit exceeded: %d bytes exceeds limit of %d bytes", e.Size, e.Limit)
}

// AddEntry is AddContextEntry: raw (JSON) decoded and merged under name, name taken whole
// (dots included). Its size counts against the context's limit first.
func (c *Context) AddEntry(name string, raw []byte) error {
	if c.maxSize > 0 && c.size+int64(len(raw)) > c.maxSize {
		return SizeLimitError{c.size + int64(len(raw)), c.maxSize}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	c.size += int64(len(raw))
	mergeInto(c.data, map[string]any{name: v})
	return nil
}

// Checkpoint saves the data; Restore returns to the last checkpoint and drops it.
func (c *Context) Checkpoint() {
	c.checkpoints = append(c.checkpoints, deepCopy(c.data).(map[string]any))
}

// Restore returns to the last checkpoint (no-op without one).
func (c *Context) Restore() {
	n := len(c.checkpoints)
	if n == 0 {
		return
	}
	c.data = c.checkpoints[n-1]
	c.checkpoints = c.checkpoints[:n-1]
}

// Query is the context's Query: the JMESPath expression (Kyverno's dialect) over the data.
func (c *Context) Query(query string) (any, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil, errors.New("invalid query (nil)")
	}
	if err := c.loadDeferred(query); err != nil {
		return nil, err
	}
	res, compileErr, searchErr := Search(query, c.data)
	if compileErr != nil {
		return nil, fmt.Errorf("incorrect query %s: %v", query, compileErr)
	}
	if searchErr != nil {
		return nil, fmt.Errorf("JMESPath query failed: %w", searchErr)
	}
	return res, nil
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}
