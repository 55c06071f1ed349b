package verify

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// memo answers each key once per run: concurrent askers share one computation, later ones
// get the remembered answer. The zero value is ready to use.
type memo[V any] struct {
	group singleflight.Group
	mu    sync.Mutex
	done  map[string]outcome[V]
}

type outcome[V any] struct {
	v   V
	err error
}

// do returns f's answer for key, computing it at most once. An answer computed while ctx was
// already canceled is not the registry's and is not remembered.
func (m *memo[V]) do(ctx context.Context, key string, f func() (V, error)) (V, error) {
	if o, ok := m.peek(key); ok {
		return o.v, o.err
	}
	out, _, _ := m.group.Do(key, func() (any, error) {
		v, err := f()
		o := outcome[V]{v, err}
		if ctx.Err() == nil {
			m.mu.Lock()
			if m.done == nil {
				m.done = map[string]outcome[V]{}
			}
			m.done[key] = o
			m.mu.Unlock()
		}
		return o, nil
	})
	o := out.(outcome[V])
	return o.v, o.err
}

// peek returns a remembered answer.
func (m *memo[V]) peek(key string) (outcome[V], bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.done[key]
	return o, ok
}
