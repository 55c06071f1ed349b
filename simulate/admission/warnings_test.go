package admission

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// numbered returns n distinct warnings of exactly runes runes each (r repeated after a prefix).
func numbered(n, runes int, r string) []string {
	var out []string
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("w%02d ", i)
		out = append(out, p+strings.Repeat(r, runes-len(p)))
	}
	return out
}

func cutAll(ws []string, runes int) []string {
	var out []string
	for _, w := range ws {
		out = append(out, string([]rune(w)[:runes]))
	}
	return out
}

// TestAPIServerWarnings replays the API server's warning recorder
// (k8s.io/apiserver/pkg/endpoints/filters/warning.go).
func TestAPIServerWarnings(t *testing.T) {
	long := numbered(20, 1000, "x")
	wide := numbered(1, 300, "é")
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{name: "none", in: nil, want: nil},
		{name: "repeats and empty texts are dropped, order kept", in: []string{"b", "a", "", "b", "c", "a"}, want: []string{"b", "a", "c"}},
		{name: "a text with a control character is no header, and its repeat stays dropped", in: []string{"one\ntwo", "ok", "one\ntwo"}, want: []string{"ok"}},
		{name: "exactly at the total limit nothing is cut", in: numbered(16, 256, "y"), want: numbered(16, 256, "y")},
		{
			// 4 x 1000 runes fit; the fifth starts truncation: every warning so far is cut to
			// 256 runes, and further ones are added cut until 4096 runes are written.
			name: "past the total limit every warning is cut and the rest dropped",
			in:   long,
			want: cutAll(long[:16], 256),
		},
		{name: "cut on rune boundaries", in: append(numbered(5, 1000, "z"), wide...), want: append(cutAll(numbered(5, 1000, "z"), 256), string([]rune(wide[0])[:256]))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, apiServerWarnings(tc.in)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestRunWarnings: the outcome's warnings are the API server's, whichever webhook answers last.
func TestRunWarnings(t *testing.T) {
	hook := func(name string, mutating, allowed bool, warnings ...string) Webhook {
		return Webhook{Name: name, Configuration: "cfg", Mutating: mutating, Call: func(context.Context, map[string]any) Response {
			return Response{Allowed: allowed, Message: "no", Warnings: warnings}
		}}
	}
	tests := []struct {
		name        string
		hooks       []Webhook
		wantAllowed bool
		want        []string
	}{
		{
			name:        "allowed: the same warning from two webhooks shows once",
			hooks:       []Webhook{hook("m", true, true, "same", "m"), hook("v", false, true, "same", "v")},
			wantAllowed: true,
			want:        []string{"same", "m", "v"},
		},
		{
			name:  "denied by a mutating webhook: earlier webhooks' warnings, once",
			hooks: []Webhook{hook("m1", true, true, "a", "a"), hook("m2", true, false, "b")},
			want:  []string{"a", "b"},
		},
		{
			name:  "denied by a validating webhook",
			hooks: []Webhook{hook("m", true, true, "a"), hook("v1", false, false, "a", "v1"), hook("v2", false, true, "v2")},
			want:  []string{"a", "v1", "v2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(context.Background(), map[string]any{"kind": "Pod"}, tc.hooks)
			if err != nil {
				t.Fatal(err)
			}
			if out.Allowed != tc.wantAllowed {
				t.Errorf("allowed = %v, want %v", out.Allowed, tc.wantAllowed)
			}
			if d := cmp.Diff(tc.want, out.Warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}
