# ejecta: see README.md. `make demo` runs a real experiment; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):$(HOME)/.cargo/bin:$(shell $(GO) env GOPATH)/bin
# Sandboxed builds mount their own /tmp, so test job dirs live under /var/tmp.
TEST_FLAGS ?= -count=1 -timeout 25m
DATA ?= $(CURDIR)/.data

.PHONY: all build test test-short bench vet setup demo up clean

all: build

build:
	$(GO) build -o bin/ejecta ./cmd/ejecta

vet:
	$(GO) vet ./...

setup:
	bash scripts/setup.sh

# Installs what is missing (as root), then runs every test. Under
# EJECTA_REQUIRE_ALL=1 (as .ci/run sets it) a missing dependency fails.
test: setup vet
	$(GO) test $(TEST_FLAGS) ./...

test-short: vet
	$(GO) test -short -count=1 ./...

# Figures beside their goals, on a quiet machine: the report lag and CPU per
# result at 1k and 100k results; a 1 GiB log through one uploader (peak
# memory); 10k small objects pooled versus one at a time over a slow link.
bench:
	set -o pipefail; EJECTA_BENCH=1 $(GO) test -count=1 -timeout 30m -v -run 'TestReportFigures' ./reporter/ | grep '^report figures'
	EJECTA_BENCH=1 $(GO) test -count=1 -timeout 30m -v -run 'TestBigLogBoundedMemory|TestCopyPoolBeatsSerial' ./uploader/ ./store/

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
