# Embassy's entry points. `make demo` and `make test` work on a fresh
# machine with Go installed; nothing else is needed.

GO      ?= go
BIN     := $(CURDIR)/bin
GOFLAGS ?=

.PHONY: all build demo test test-re2 test-spire vet fmt-check unit e2e bench envoy-validate clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/... ./examples/quickstart/cmd/...

## demo: the control plane with examples/quickstart applied, two echo
## versions and a proxyless client, the traffic split and proxy status.
## DEMO_KEEP=1 keeps it running until Ctrl-C.
demo: build
	@BIN=$(BIN) bash scripts/demo.sh

## test: formatting, vet, and every test (unit, golden, conformance, e2e,
## the fuzz seed corpora).
test: fmt-check vet
	$(GO) test -count=1 -timeout 20m ./...

## test-re2: the differential test of pkg/re2size's bound of RE2's
## program size (the number Envoy refuses regexes by) against the real RE2
## library. Needs libre2-dev and a C++ compiler (.ci/run installs them).
test-re2:
	$(GO) test -count=1 -tags re2 ./pkg/re2size/...

## test-spire: the SPIRE-backed mesh end to end against a real spire-server
## and spire-agent. Builds SPIRE from source into .spire/ first (minutes, a
## few GB of memory; later runs reuse it), which is why `make test` runs the
## same test against a Workload API stand-in instead.
test-spire:
	@dir=$$(bash scripts/build-spire.sh | tail -1) && \
	EMBASSY_SPIRE_BIN=$$dir $(GO) test -count=1 -tags spire -run 'TestRealSPIRE' -v ./e2e

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: N simulated proxies over real ADS streams against a mesh of M
## services; prints a table. BENCH_PROXIES and BENCH_SERVICES override.
bench:
	$(GO) run ./bench/cmd/embassy-bench $(BENCH_FLAGS)

## envoy-validate: `envoy --mode validate` on the generated bootstraps when an
## envoy binary is on PATH; says so plainly when there is none.
envoy-validate:
	@bash scripts/envoy-validate.sh

clean:
	rm -rf $(BIN)
