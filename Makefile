# Embassy's entry points. `make demo` and `make test` work on a fresh
# machine with Go installed; nothing else is needed.

GO      ?= go
BIN     := $(CURDIR)/bin
GOFLAGS ?=

.PHONY: all build demo demo-ha test test-re2 test-proto test-spire test-k8s screenshots proto proto-tools vet fmt-check unit e2e bench envoy-validate clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/... ./examples/quickstart/cmd/...

## demo: the control plane with examples/quickstart applied, two echo
## versions and a proxyless client, the traffic split, proxy status and the
## dry-run policy's would-denies, on free ports; prints the dashboard's URL.
## DEMO_KEEP=1 keeps it running until Ctrl-C.
demo: build
	@BIN=$(BIN) bash scripts/demo.sh

## demo-ha: three embassy-cp replicas, each running a member of one etcd
## cluster (--etcd-embedded), serving the quickstart's agents and proxyless
## apps under steady traffic; kills -9 the apps' replica, then the etcd
## leader's, and prints calls made and failed, when writes resumed, when a
## change applied after each kill reached every proxy, and the new leaders.
## About 30 s; everything it starts is stopped and removed when it ends.
demo-ha: build
	@$(BIN)/embassy-demo-ha --bin $(BIN) --examples examples/quickstart

## test: formatting, vet, and every test (unit, golden, conformance, e2e,
## the fuzz seed corpora).
test: fmt-check vet
	$(GO) test -count=1 -timeout 20m ./...

## test-re2: the differential test of pkg/re2size's bound of RE2's
## program size (the number Envoy refuses regexes by) against the real RE2
## library. Needs libre2-dev and a C++ compiler (.ci/run installs them).
test-re2:
	$(GO) test -count=1 -tags re2 ./pkg/re2size/...

## proto: regenerate the identity API's Go code (pkg/identity/wire) from
## its .proto with protoc (Debian's protobuf-compiler) and the plugins
## below, installed into bin/proto-tools. PROTO_OUT writes elsewhere.
## protoc-gen-go is installed without a version, so it is the
## google.golang.org/protobuf that go.mod requires and cannot drift from it;
## protoc-gen-go-grpc is a module of its own, pinned here: its generated
## code needs grpc >= 1.64, and go.mod's grpc is newer.
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTO_TOOLS := $(BIN)/proto-tools
PROTO_OUT   ?= $(CURDIR)
PROTOS      := pkg/identity/wire/identity.proto

proto-tools:
	@command -v protoc >/dev/null || { echo "protoc is not installed: apt-get install -y protobuf-compiler"; exit 1; }
	@GOBIN=$(PROTO_TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go
	@GOBIN=$(PROTO_TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

proto: proto-tools
	@mkdir -p $(PROTO_OUT)
	protoc -I . \
		--plugin=protoc-gen-go=$(PROTO_TOOLS)/protoc-gen-go --go_out=$(PROTO_OUT) --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=$(PROTO_TOOLS)/protoc-gen-go-grpc --go-grpc_out=$(PROTO_OUT) --go-grpc_opt=paths=source_relative \
		$(PROTOS)

## test-proto: fails when the checked-in generated code is not what
## `make proto` makes from the .proto. Needs protoc (.ci/run installs it).
test-proto: proto-tools
	$(GO) test -count=1 -tags proto -run TestGeneratedCodeIsCurrent ./pkg/identity/wire/

## test-spire: the SPIRE-backed mesh end to end against a real spire-server
## and spire-agent. Builds SPIRE from source into .spire/ first (minutes, a
## few GB of memory; later runs reuse it), which is why `make test` runs the
## same test against a Workload API stand-in instead.
test-spire:
	@dir=$$(bash scripts/build-spire.sh | tail -1) && \
	EMBASSY_SPIRE_BIN=$$dir $(GO) test -count=1 -tags spire -run 'TestRealSPIRE' -v ./e2e

## screenshots: regenerate docs/screenshots/*.png, the dashboard's pages
## as TestDashboard leaves them in headless Chromium (Debian's chromium,
## which .ci/run installs) against a running mesh.
screenshots:
	EMBASSY_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestDashboard$$' -v ./e2e

## test-k8s: the Kubernetes tests (discovery, service-account attestation,
## the ServiceAccount's RBAC) against a real kube-apiserver with an
## embedded etcd on loopback. The API server is built from
## k8s.io/kubernetes once into $${XDG_CACHE_HOME:-~/.cache}/embassy/ (about
## 6 minutes on 2 cores, longer on a busy machine; later runs reuse it);
## if it cannot be built the target fails and says why.
test-k8s:
	@dir=$$(bash scripts/build-kube-apiserver.sh) && \
	EMBASSY_KUBE_BIN=$$dir $(GO) test -count=1 -tags kube -timeout 20m -run 'TestKube' -v ./e2e

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags kube ./e2e ./internal/kubetest/...

## bench: 500 simulated proxies over real ADS streams against a mesh of
## 1,000 services, served by embassy-cp and by a bare go-control-plane
## snapshot-cache server in turn, 3 runs each; prints every run and the
## medians with embassy's ratio to the baseline, then the identity and
## authorization sections. A few minutes on 2 idle cores (the xDS part
## took 15 on 2 cores other builds kept busy). BENCH_FLAGS adds flags:
## --proxies, --services, --sweep (250 to 5,000 proxies × 1,000 and 5,000
## services), --scoped (config scoping), --replicas 3 (one control plane
## beside three sharing one etcd member, each in its own process; this
## comparison alone), --identity=false --authz=false; see docs/benchmarks.md.
bench:
	$(GO) run ./bench/cmd/embassy-bench $(BENCH_FLAGS)

## envoy-validate: `envoy --mode validate` on the generated bootstraps when an
## envoy binary is on PATH; says so plainly when there is none.
envoy-validate:
	@bash scripts/envoy-validate.sh

clean:
	rm -rf $(BIN)
