// Package memo answers each question once per run.
package memo

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// Memo answers each key once per run: concurrent askers share one computation, later ones
// get the remembered answer. The zero value is ready to use.
type Memo[V any] struct {
	group singleflight.Group
	mu    sync.Mutex
	done  map[string]outcome[V]
}

type outcome[V any] struct {
	v   V
	err error
}

// Do returns f's answer for key, computing it at most once. An answer computed while ctx was
// already canceled is not the registry's and is not remembered.
func (m *Memo[V]) Do(ctx context.Context, key string, f func() (V, error)) (V, error) {
	m.mu.Lock()
	known, ok := m.done[key]
	m.mu.Unlock()
	if ok {
		return known.v, known.err
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
	got := out.(outcome[V])
	return got.v, got.err
}

// Succeeded returns a remembered answer that was not an error.
func (m *Memo[V]) Succeeded(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.done[key]
	return o.v, ok && o.err == nil
}
