package groupexpr

import (
	"errors"
	"strings"
	"testing"
)

func TestEvalExpression(t *testing.T) {
	verdicts := map[string]Tri{"yes": Accepted, "no": Rejected, "maybe": Unknown}
	for _, tc := range []struct {
		expr   string
		want   Tri
		syntax bool
		err    string
	}{
		{expr: "yes()", want: Accepted},
		{expr: "no()", want: Rejected},
		{expr: "!no()", want: Accepted},
		{expr: "yes() && no()", want: Rejected},
		{expr: "no() || (yes() && !no())", want: Accepted},
		{expr: "maybe() || yes()", want: Accepted},
		{expr: "maybe() && no()", want: Rejected},
		{expr: "maybe() && yes()", want: Unknown},
		{expr: "!maybe()", want: Unknown},
		{expr: "true && yes()", want: Accepted},
		{expr: "  yes()\n||\tno() ", want: Accepted},
		{expr: "nope()", err: "Function not found: nope ()"},
		{expr: "yes() == true", want: Accepted},
		{expr: "no() != false || maybe()", want: Unknown},
		{expr: "yes() == no() || yes() && !no()", want: Accepted},
		{expr: "yes() = true", syntax: true},
		{expr: "yes", syntax: true},
		{expr: "(yes()", syntax: true},
		{expr: "", syntax: true},
	} {
		got, err := Eval(tc.expr, verdicts)
		var syntax *SyntaxError
		switch {
		case tc.syntax:
			if !errors.As(err, &syntax) {
				t.Errorf("%q: %v, %v; want a syntax error", tc.expr, got, err)
			}
		case tc.err != "":
			if err == nil || err.Error() != tc.err || errors.As(err, &syntax) {
				t.Errorf("%q: %v; want the engine's error %q", tc.expr, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestCalls(t *testing.T) {
	got, err := Calls("a() || (b() && !c()) == true")
	if err != nil || strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("Calls = %v, %v; want a,b,c", got, err)
	}
	var syntax *SyntaxError
	if _, err := Calls("a() + b()"); !errors.As(err, &syntax) {
		t.Errorf("Calls(a() + b()) = %v, want a syntax error", err)
	}
}
