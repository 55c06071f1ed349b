// Package groupexpr is the part of Rhai Kubewarden policy-group expressions use: member calls
// `name()`, `true`, `false`, `!`, `&&`, `||`, `==`, `!=` and parentheses, evaluated in
// Kleene's three-valued logic so that a member whose verdict is not known matters only when
// the value depends on it.
package groupexpr

import (
	"fmt"
	"strings"
)

// Tri is a member's verdict: accepted, rejected, or not known to this tool.
type Tri int

const (
	Unknown Tri = iota
	Accepted
	Rejected
)

func (t Tri) Not() Tri {
	switch t {
	case Accepted:
		return Rejected
	case Rejected:
		return Accepted
	}
	return Unknown
}

// SyntaxError is an expression this tool does not parse: the engine (Rhai) may well accept
// it, so its value is not known here.
type SyntaxError struct{ msg string }

func (e *SyntaxError) Error() string { return e.msg }

// Eval evaluates expr over the members' verdicts. A call of a name that is no member is
// Rhai's "Function not found" error; what this package does not parse is a *SyntaxError.
func Eval(expr string, verdicts map[string]Tri) (Tri, error) {
	p := &exprParser{src: expr, verdicts: verdicts}
	p.next()
	v, err := p.or()
	if err != nil {
		return Unknown, err
	}
	if p.tok != "" {
		return Unknown, &SyntaxError{fmt.Sprintf("unexpected %q", p.tok)}
	}
	return v, nil
}

// Calls are the functions expr calls, in order of appearance.
func Calls(expr string) ([]string, error) {
	p := &exprParser{src: expr, collect: true}
	p.next()
	if _, err := p.or(); err != nil {
		return nil, err
	}
	if p.tok != "" {
		return nil, &SyntaxError{fmt.Sprintf("unexpected %q", p.tok)}
	}
	return p.calls, nil
}

type exprParser struct {
	src      string
	pos      int
	tok      string
	verdicts map[string]Tri
	// collect records calls instead of evaluating them.
	collect bool
	calls   []string
}

// next reads the next token: an identifier, ( ) ! && ||, or "" at the end.
func (p *exprParser) next() {
	for p.pos < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.pos])) {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '!' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '=':
		p.pos += 2
	case c == '(' || c == ')' || c == '!':
		p.pos++
	case (c == '&' || c == '|' || c == '=') && p.pos+1 < len(p.src) && p.src[p.pos+1] == c,
		c == '!' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '=':
		p.pos += 2
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if !identRune(c) {
				break
			}
			p.pos++
		}
	default:
		p.pos = len(p.src)
		p.tok = p.src[start:]
		return
	}
	p.tok = p.src[start:p.pos]
}

func identRune(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *exprParser) or() (Tri, error) {
	v, err := p.and()
	for err == nil && p.tok == "||" {
		p.next()
		var w Tri
		if w, err = p.and(); err == nil {
			switch {
			case v == Accepted || w == Accepted:
				v = Accepted
			case v == Unknown || w == Unknown:
				v = Unknown
			default:
				v = Rejected
			}
		}
	}
	return v, err
}

func (p *exprParser) and() (Tri, error) {
	v, err := p.cmp()
	for err == nil && p.tok == "&&" {
		p.next()
		var w Tri
		if w, err = p.cmp(); err == nil {
			switch {
			case v == Rejected || w == Rejected:
				v = Rejected
			case v == Unknown || w == Unknown:
				v = Unknown
			default:
				v = Accepted
			}
		}
	}
	return v, err
}

// cmp is `==` and `!=` between booleans, which bind tighter than && and || in Rhai.
func (p *exprParser) cmp() (Tri, error) {
	v, err := p.unary()
	if err != nil || (p.tok != "==" && p.tok != "!=") {
		return v, err
	}
	op := p.tok
	p.next()
	w, err := p.unary()
	switch {
	case err != nil:
		return Unknown, err
	case v == Unknown || w == Unknown:
		return Unknown, nil
	case (v == w) == (op == "=="):
		return Accepted, nil
	}
	return Rejected, nil
}

func (p *exprParser) unary() (Tri, error) {
	if p.tok == "!" {
		p.next()
		v, err := p.unary()
		return v.Not(), err
	}
	return p.primary()
}

func (p *exprParser) primary() (Tri, error) {
	switch tok := p.tok; {
	case tok == "(":
		p.next()
		v, err := p.or()
		if err != nil {
			return Unknown, err
		}
		if p.tok != ")" {
			return Unknown, &SyntaxError{"missing )"}
		}
		p.next()
		return v, nil
	case tok == "true" || tok == "false":
		p.next()
		if tok == "true" {
			return Accepted, nil
		}
		return Rejected, nil
	case tok != "" && (tok[0] == '_' || tok[0] >= 'a' && tok[0] <= 'z' || tok[0] >= 'A' && tok[0] <= 'Z'):
		p.next()
		if p.tok != "(" {
			return Unknown, &SyntaxError{fmt.Sprintf("%s is not a call", tok)}
		}
		p.next()
		if p.tok != ")" {
			return Unknown, &SyntaxError{fmt.Sprintf("%s( takes no arguments here", tok)}
		}
		p.next()
		if p.collect {
			p.calls = append(p.calls, tok)
			return Unknown, nil
		}
		v, ok := p.verdicts[tok]
		if !ok {
			return Unknown, fmt.Errorf("Function not found: %s ()", tok) //nolint:staticcheck // Rhai's text
		}
		return v, nil
	case tok == "":
		return Unknown, &SyntaxError{"unexpected end of expression"}
	}
	return Unknown, &SyntaxError{fmt.Sprintf("unexpected %q", p.tok)}
}
