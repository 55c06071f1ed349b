// Package e2e holds the end-to-end and differential tests (build tag e2e): every scenario under
// testdata/scenarios is run through the built binary as `kubectl verify simulate` against a
// real registry process with images signed by the real cosign CLI, and compared with the
// scenario's expected.yaml and with what the real Kyverno CLI (`kyverno apply -p`) reports.
//
// Run with `make e2e`, or `go test -tags e2e ./e2e/...` once `make tools` has built
// hack/bin/{cosign,crane,kubectl-kyverno,kyverno,etcd,kube-apiserver}. TestKyvernoAdmission
// replays every scenario through the real Kyverno admission controller (hack/bin/kyverno) on
// a real API server. Environment:
//
//	KUBECTL_VERIFY_BIN  use this binary instead of building bin/kubectl-verify (a relative
//	                    path is taken from the repository root)
//	KUBECTL             the kubectl to run plugins through (default: kubectl on PATH)
//	E2E_KEEP=1          keep the work directory (registries' logs, keys, substituted files,
//	                    every command's output) and print its path
//	E2E_SCENARIO=REGEX  only set up and run the scenarios whose folder name matches
package e2e
