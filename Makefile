# kubectl-verify. `make test` is the test command (unit tests, then the end-to-end suite).

GO        ?= go
BIN       := bin/kubectl-verify
TOOLS_BIN := hack/bin
COSIGN    := $(TOOLS_BIN)/cosign
CRANE     := $(TOOLS_BIN)/crane
KYVERNO   := $(TOOLS_BIN)/kubectl-kyverno
KYVERNO_AC := $(TOOLS_BIN)/kyverno
GOLANGCI  := $(TOOLS_BIN)/golangci-lint
ETCD      := $(TOOLS_BIN)/etcd
APISERVER := $(TOOLS_BIN)/kube-apiserver
REFREG    := $(TOOLS_BIN)/referrers-registry
PCTESTER  := $(TOOLS_BIN)/policy-tester
GORELEASER := $(TOOLS_BIN)/goreleaser
# krew as a kubectl plugin (kubectl krew), which is how validate-krew-manifest calls it.
KREW      := $(TOOLS_BIN)/kubectl-krew
KREW_VALIDATE := $(TOOLS_BIN)/validate-krew-manifest
E2E_TOOLS := $(COSIGN) $(CRANE) $(KYVERNO) $(KYVERNO_AC) $(ETCD) $(APISERVER) $(REFREG) $(PCTESTER) $(KREW) $(KREW_VALIDATE)

# The e2e suite sets up one registry per scenario, runs kubectl verify, the Kyverno CLI and the
# Kyverno admission controller.
E2E_TIMEOUT ?= 30m
E2E_FLAGS   ?=

.PHONY: all build tools test unit fuzz-short e2e lint demo bench fuzz dist dist-all clean clean-tools

all: build

# Built as the release build is (.goreleaser.yaml: static, -trimpath), so that `make dist`
# reuses these compiled packages instead of building the tree a second time.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/kubectl-verify

# Each tool is built from its own module under hack/tools (so the product's go.mod stays
# clean), and only when missing: delete hack/bin/<tool> or run `make clean-tools` to rebuild.
tools: $(E2E_TOOLS) $(GOLANGCI) $(GORELEASER)

$(COSIGN):
	cd hack/tools/cosign && $(GO) build -o ../../bin/cosign github.com/sigstore/cosign/v3/cmd/cosign

$(CRANE):
	cd hack/tools/cosign && $(GO) build -o ../../bin/crane github.com/google/go-containerregistry/cmd/crane

# Kyverno CLI v1.19.1, the oracle of the differential tests (about 7 minutes on 2 cores).
$(KYVERNO):
	cd hack/tools/kyverno && $(GO) build -o ../../bin/kubectl-kyverno github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno

# policy-controller v0.15.1's policy-tester, the ClusterImagePolicy oracle (about 2.5 min on 2 cores).
$(PCTESTER):
	cd hack/tools/policy-controller && $(GO) build -o ../../bin/policy-tester github.com/sigstore/policy-controller/cmd/tester

# The Kyverno 1.19.1 admission controller, the oracle of TestKyvernoAdmission (run against the
# envtest API server). Same tools module as the CLI, so it reuses the CLI's compiled packages:
# about 1 minute more once the CLI is built.
$(KYVERNO_AC):
	cd hack/tools/kyverno && $(GO) build -o ../../bin/kyverno github.com/kyverno/kyverno/cmd/kyverno

# The real API server for the cluster tests (envtest drives it): about 4 minutes on 2 cores.
# The e2e registry for `registry: referrers` scenarios (crane's has no OCI 1.1 referrers API).
# Part of this module, so it is rebuilt when its source changes (a second or two).
$(REFREG): hack/referrers-registry/main.go internal/ocireg/ocireg.go go.mod go.sum
	$(GO) build -o $@ ./hack/referrers-registry

$(ETCD):
	cd hack/tools/etcd && $(GO) build -o ../../bin/etcd go.etcd.io/etcd/server/v3

$(APISERVER):
	cd hack/tools/kube && $(GO) build -o ../../bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

$(GOLANGCI):
	cd hack/tools/lint && $(GO) build -o ../../bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint

# GoReleaser v2.17.0, which builds the release archives (.goreleaser.yaml): about 3 minutes.
$(GORELEASER):
	cd hack/tools/goreleaser && $(GO) build -o ../../bin/goreleaser github.com/goreleaser/goreleaser/v2

# krew v0.4.3 and krew-index's manifest validator, for the krew install test.
$(KREW):
	cd hack/tools/krew && $(GO) build -o ../../bin/kubectl-krew sigs.k8s.io/krew/cmd/krew

$(KREW_VALIDATE):
	cd hack/tools/krew && $(GO) build -o ../../bin/validate-krew-manifest sigs.k8s.io/krew/cmd/validate-krew-manifest

# Release archives and checksums.txt in dist/, in snapshot mode (no tag needed, nothing
# published, no network): `dist` the linux/amd64 archive only (what the krew install test
# installs), `dist-all` every platform .krew.yaml names (a cross build per platform).
DIST_ENV = KUBECTL_VERIFY_COMMIT=$$(git rev-parse HEAD)
dist: $(GORELEASER)
	$(DIST_ENV) KUBECTL_VERIFY_DIST=local $(GORELEASER) release --snapshot --clean

dist-all: $(GORELEASER)
	$(DIST_ENV) $(GORELEASER) release --snapshot --clean

test: unit fuzz-short e2e

# A short run of every fuzzer (CI's; `make fuzz` runs the long ones).
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s FUZZMINIMIZETIME=2s

unit:
	$(GO) test ./...

e2e: $(E2E_TOOLS) build dist
	KUBECTL_VERIFY_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) $(E2E_FLAGS) ./e2e/...

lint: $(GOLANGCI)
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './hack/tools/*' | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	$(GOLANGCI) run ./...

demo:
	$(GO) run ./hack/demo

# The benchmark harness (docs/performance.md): workloads of PODS/IMAGES on a crane registry
# behind a request-counting proxy; kubectl verify beside kyverno apply and a cosign verify
# loop; the same with 20 ms per request; Pods listed from a real API server beside kubectl.
# Then the Go benchmarks. BENCH_FLAGS passes flags to the harness (go run ./hack/bench -h).
BENCH_FLAGS ?=
bench: $(E2E_TOOLS) build
	$(GO) run ./hack/bench $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench . -benchmem ./simulate/...
	E2E_SCENARIO='^signed$$' KUBECTL_VERIFY_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -run '^$$' -bench . -benchtime 3x ./e2e/

# The fuzz tests, one after another, each for FUZZTIME: the long runs, outside CI (`go test
# ./...` runs only their seeds: f.Add and testdata/fuzz/FuzzXxx). hack/fuzz.sh says how a
# finding is told apart from Go 1.26's fuzztime race. FUZZMINIMIZETIME bounds how long a worker
# shrinks each new input: the seeds are whole policy files, and Go's default (60s) would leave
# the workers minimizing instead of fuzzing.
FUZZTIME         ?= 10m
FUZZMINIMIZETIME ?= 10s
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) ./hack/fuzz.sh

clean:
	rm -rf bin dist

clean-tools:
	rm -f $(COSIGN) $(CRANE) $(KYVERNO) $(KYVERNO_AC) $(GOLANGCI) $(ETCD) $(APISERVER) $(REFREG) $(PCTESTER) $(GORELEASER) $(KREW) $(KREW_VALIDATE)
