//go:build tools

// Package tools pins etcd for the envtest-driven cluster tests.
package tools

import _ "go.etcd.io/etcd/server/v3"
