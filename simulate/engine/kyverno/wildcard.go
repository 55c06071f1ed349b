package kyverno

import "github.com/kubectl-verify/kubectl-verify/internal/wildcard"

func match(pattern, s string) bool              { return wildcard.Match(pattern, s) }
func matchAny(patterns []string, s string) bool { return wildcard.Any(patterns, s) }
