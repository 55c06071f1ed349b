package kyvernocond

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// deferred is a context entry Kyverno loads lazily: the first query that names it loads it.
type deferred struct {
	match   *regexp.Regexp
	load    func(*Context) error
	matched bool
}

// AddDeferred registers a rule context entry as Kyverno's deferred loading does (on by
// default): it is loaded when a query first names it (at a word boundary, not after a dot),
// so an entry nothing reads is never loaded, and its error surfaces in the query that reads it.
func (c *Context) AddDeferred(name string, load func(*Context) error) error {
	re, err := regexp.Compile(`(?:\A|\z|\s|[^.0-9A-Za-z])` + regexp.QuoteMeta(name) + `\b`)
	if err != nil {
		return err
	}
	c.deferred = append(c.deferred, &deferred{match: re, load: load})
	return nil
}

// loadDeferred loads, in registration order, the entries query names and that are not loaded
// or being loaded.
func (c *Context) loadDeferred(query string) error {
	for _, d := range c.deferred {
		if d.matched || !d.match.MatchString(query) {
			continue
		}
		d.matched = true
		if err := d.load(c); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceEntry is ReplaceContextEntry: name set to raw (JSON), replacing what was there.
func (c *Context) ReplaceEntry(name string, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	c.data[name] = v
	return nil
}

// Variable is a rule context `variable` entry: Value, JMESPath and Default as the policy
// gives them (nil and "" when absent).
type Variable struct {
	Name     string
	Value    any
	JMESPath string
	Default  any
}

// Load is Kyverno's variable loader: JMESPath over Value (or over the context when there is
// no Value), Default when the result is missing, and Kyverno's error texts.
func (v Variable) Load(c *Context) error {
	path := ""
	if v.JMESPath != "" {
		jp, err := c.Substitute(v.JMESPath)
		if err != nil {
			return fmt.Errorf("failed to substitute variables in context entry %s %s: %w", v.Name, v.JMESPath, err)
		}
		s, ok := jp.(string)
		if !ok {
			return fmt.Errorf("jmespath value must be a string %s %s: %v", v.Name, v.JMESPath, nil)
		}
		path = s
	}
	var def any
	if v.Default != nil {
		d, err := c.Substitute(v.Default)
		if err != nil {
			return fmt.Errorf("failed to substitute variables in context entry %s %s: %w", v.Name, jsonText(v.Default), err)
		}
		def = d
	}
	out := def
	switch {
	case v.Value != nil:
		val, err := c.Substitute(v.Value)
		if err != nil {
			return fmt.Errorf("failed to substitute variables in context entry %s %s: %w", v.Name, jsonText(v.Value), err)
		}
		if path == "" {
			out = val
			break
		}
		res, compileErr, searchErr := Search(path, val)
		switch {
		case compileErr != nil && def == nil:
			return fmt.Errorf("failed to apply jmespath %s to variable %v: %v", path, val, fmt.Errorf("failed to compile JMESPath: %s, error: %v", path, compileErr))
		case searchErr != nil && def == nil:
			return fmt.Errorf("failed to apply jmespath %s to variable %v: %v", path, val, searchErr)
		case compileErr == nil && searchErr == nil:
			out = res
		}
	case path != "":
		res, err := c.Query(path)
		switch {
		case err == nil && res != nil:
			out = res
		case err != nil && def == nil:
			return fmt.Errorf("failed to apply jmespath %s to variable %v: %w", path, nil, err)
		}
	}
	if out == nil {
		return fmt.Errorf("failed to add context entry for variable %s since it evaluated to nil", v.Name)
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("failed to add context entry for variable %s: %v", v.Name, err)
	}
	return c.ReplaceEntry(v.Name, raw)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
