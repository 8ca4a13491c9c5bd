# ejecta: see README.md. `make demo` runs a real experiment; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):$(HOME)/.cargo/bin:$(shell $(GO) env GOPATH)/bin
# Sandboxed builds mount their own /tmp, so test job dirs live under /var/tmp.
TEST_FLAGS ?= -count=1 -timeout 25m
DATA ?= $(CURDIR)/.data

.PHONY: all build test test-short bench faults vet setup demo up clean image image-nats image-minio images image-tags

all: build

# -buildvcs=auto: `ejecta version` names the commit when built from a checkout.
build:
	$(GO) build -buildvcs=auto -o bin/ejecta ./cmd/ejecta

# vet also fails on a file gofmt would change, naming it.
vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt'd (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Everything the tests use (a container engine for the compose test,
# debootstrap for the build environment's, promtool for the alert rules'
# among it); `make demo` installs only what it uses.
setup:
	bash scripts/setup.sh test

# Installs what is missing (as root), then runs every test. Under
# EJECTA_REQUIRE_ALL=1 (as .ci/run sets it) a missing dependency fails.
test: setup vet
	$(GO) test $(TEST_FLAGS) ./...

test-short: vet
	$(GO) test -short -count=1 ./...

# Every hot path beside a baseline measured in the same run (package bench):
# prints one markdown table and writes BENCHMARKS.md. BENCH=name[,name] runs
# some alone and only prints them: logs, rss, pool, report, tail, sandbox,
# attempt, slotgap, cores, produce, jobs, scaling, grep, crates, crates-test;
# and scale, which runs only when named (crater's size: 1.4M jobs produced,
# 1.4M results reported; EJECTA_BENCH_SCALE_CRATES=N for fewer crates), and
# scale-report, its reporter rows alone (after a burst and at a trickle). The
# ordinary test suite runs a smoke version of the default set.
# scripts/setup.sh bench installs what is missing (the crates row's corpus
# among it).
BENCH ?=
bench:
	bash scripts/setup.sh bench
	EJECTA_BENCH=1 EJECTA_BENCH_ONLY=$(BENCH) $(GO) test -count=1 -timeout 90m -v -run '^TestBench$$' ./bench/

# The fault suite alone (`make test` runs it too): one small real experiment
# per fault (components SIGKILLed, MinIO down, NATS restarted, a node of a
# 3-node TLS cluster SIGKILLed, containerd restarted, disk full), each
# compared with a fault-free run. See e2e/faults_test.go.
faults: setup
	$(GO) test -count=1 -timeout 40m -v -run '^TestFaults$$' ./e2e/

# Images FROM scratch with static binaries built here, for machines that
# cannot pull from a registry (the compose test builds and runs these):
# ejecta (the Dockerfile's `prebuilt` stage), nats-server at the version
# go.mod names, MinIO at the release scripts/setup.sh pins. IMAGE_DIR
# holds their build contexts; DOCKER is the client that builds them.
IMAGE_DIR ?= bin/image
DOCKER ?= docker
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
EJECTA_IMAGE ?= ejecta:latest
NATS_IMAGE ?= ejecta/nats:$(patsubst v%,%,$(shell $(GO) list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2))
MINIO_VERSION = $(shell sed -n 's/^MINIO_VERSION=//p' scripts/setup.sh)
MINIO_IMAGE ?= ejecta/minio:$(MINIO_VERSION)

images: image image-nats image-minio

# The tags `make images` gives, as compose.yaml's variables:
# export $$(make -s image-tags)
image-tags:
	@echo EJECTA_IMAGE=$(EJECTA_IMAGE) EJECTA_NATS_IMAGE=$(NATS_IMAGE) EJECTA_MINIO_IMAGE=$(MINIO_IMAGE)

image:
	rm -rf $(IMAGE_DIR)/ejecta
	mkdir -p $(IMAGE_DIR)/ejecta/files/etc/ssl/certs $(IMAGE_DIR)/ejecta/files/tmp
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(IMAGE_DIR)/ejecta/files/usr/local/bin/ejecta ./cmd/ejecta
	cp deploy/image/etc/passwd deploy/image/etc/group $(IMAGE_DIR)/ejecta/files/etc/
	cp /etc/ssl/certs/ca-certificates.crt $(IMAGE_DIR)/ejecta/files/etc/ssl/certs/
	chmod 1777 $(IMAGE_DIR)/ejecta/files/tmp
	DOCKER_BUILDKIT=1 $(DOCKER) build -q -f Dockerfile --build-arg EJECTA_FILES=prebuilt --build-arg VERSION=$(VERSION) -t $(EJECTA_IMAGE) $(IMAGE_DIR)/ejecta

image-nats:
	rm -rf $(IMAGE_DIR)/nats
	mkdir -p $(IMAGE_DIR)/nats
	CGO_ENABLED=0 $(GO) build -trimpath -o $(IMAGE_DIR)/nats/nats-server github.com/nats-io/nats-server/v2
	DOCKER_BUILDKIT=1 $(DOCKER) build -q -f deploy/images/nats/Dockerfile -t $(NATS_IMAGE) $(IMAGE_DIR)/nats

image-minio:
	rm -rf $(IMAGE_DIR)/minio
	mkdir -p $(IMAGE_DIR)/minio/rootfs/usr/bin $(IMAGE_DIR)/minio/rootfs/tmp
	CGO_ENABLED=0 GOBIN=$(abspath $(IMAGE_DIR))/minio/rootfs/usr/bin $(GO) install github.com/minio/minio@$(MINIO_VERSION)
	chmod 1777 $(IMAGE_DIR)/minio/rootfs/tmp
	DOCKER_BUILDKIT=1 $(DOCKER) build -q -f deploy/images/minio/Dockerfile -t $(MINIO_IMAGE) $(IMAGE_DIR)/minio

# Builds bin/ejecta while it installs what the demo uses (scripts/setup.sh demo).
demo:
	GO=$(GO) bash scripts/demo.sh

# Everything in one process on an embedded NATS server; store under $(DATA).
up: build
	bash scripts/setup.sh demo
	sock=$$(bash scripts/containerd.sh $(DATA)/containerd) && \
	./bin/ejecta up --data $(DATA) --containerd $$sock

clean:
	rm -rf bin
	-[ -f $(DATA)/containerd/containerd.pid ] && kill $$(cat $(DATA)/containerd/containerd.pid)
	rm -rf $(DATA)
