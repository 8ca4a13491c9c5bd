# ejecta: see README.md. `make demo` runs a real experiment; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):$(HOME)/.cargo/bin:$(shell $(GO) env GOPATH)/bin
# Sandboxed builds mount their own /tmp, so test job dirs live under /var/tmp.
TEST_FLAGS ?= -count=1 -timeout 25m
DATA ?= $(CURDIR)/.data

.PHONY: all build test test-short bench faults vet setup demo up clean

all: build

build:
	$(GO) build -o bin/ejecta ./cmd/ejecta

# vet also fails on a file gofmt would change, naming it.
vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt'd (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

setup:
	bash scripts/setup.sh

# Installs what is missing (as root), then runs every test. Under
# EJECTA_REQUIRE_ALL=1 (as .ci/run sets it) a missing dependency fails.
test: setup vet
	$(GO) test $(TEST_FLAGS) ./...

test-short: vet
	$(GO) test -short -count=1 ./...

# Every hot path beside a baseline measured in the same run (package bench):
# prints one markdown table and writes BENCHMARKS.md. BENCH=name[,name] runs
# some alone and only prints them: logs, rss, pool, report, tail, sandbox,
# jobs, scaling. The ordinary test suite runs a smoke version.
BENCH ?=
bench:
	EJECTA_BENCH=1 EJECTA_BENCH_ONLY=$(BENCH) $(GO) test -count=1 -timeout 90m -v -run '^TestBench$$' ./bench/

# The fault suite alone (`make test` runs it too): one small real experiment
# per fault (components SIGKILLed, MinIO down, NATS restarted, a node of a
# 3-node TLS cluster SIGKILLed, containerd restarted, disk full), each
# compared with a fault-free run. See e2e/faults_test.go.
faults: setup
	$(GO) test -count=1 -timeout 40m -v -run '^TestFaults$$' ./e2e/

demo: build
	bash scripts/demo.sh

# Everything in one process on an embedded NATS server; store under $(DATA).
up: build setup
	sock=$$(bash scripts/containerd.sh $(DATA)/containerd) && \
	./bin/ejecta up --data $(DATA) --containerd $$sock

clean:
	rm -rf bin
	-[ -f $(DATA)/containerd/containerd.pid ] && kill $$(cat $(DATA)/containerd/containerd.pid)
	rm -rf $(DATA)
