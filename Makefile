# gwlb-lab build and test entry points. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin/gwlb-lab
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A count, not a duration: duration-based -fuzztime can fail spuriously with
# "context deadline exceeded" at its boundary in Go 1.26 (go.dev/issue/75804).
FUZZTIME ?= 50000x
LAB ?= default
PREFIX ?= /usr/local
# The example user suite: a module of its own, which `go test ./...` here
# does not enter.
EXAMPLE := examples/appliance-suite
EXAMPLE_TEST = cd $(EXAMPLE) && GWLB_LAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 10m ./...

.PHONY: help build images test-images install lab-up lab-down lab-deps test unit e2e example fuzz-smoke bench reliability lint deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

build: ## build bin/gwlb-lab (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gwlb-lab

images: build ## build the images (gwlb-lab FROM scratch, Debian base by debootstrap, Suricata appliance, gwlb-lab-box for docker-compose.yml); cached (root)
	@bash scripts/images.sh $(BIN) $(VERSION) all

lab-up: build lab-deps ## build and bring up the default lab (root)
	./$(BIN) up --name $(LAB)

lab-deps: ## install what the README's quickstart runs (tcpdump, curl), when missing
	@bash scripts/deps.sh lab

lab-down: build ## remove the default lab (root); not up is not an error here
	./$(BIN) down --name $(LAB) || [ $$? -eq 3 ]

install: build ## copy bin/gwlb-lab to $(PREFIX)/bin (default /usr/local)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gwlb-lab

deps: ## install the Debian packages the tests need, when missing (waits for apt's lock)
	@bash scripts/deps.sh test

test: deps lint build test-images ## every test: fuzz smoke, unit, e2e, the example suite (root for e2e)
	@bash scripts/fuzz-smoke.sh $(FUZZTIME)
	GWLB_LAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./...
	$(EXAMPLE_TEST)

# The images the container suites run, under their content tags only (a test
# run never moves :latest). Built here, before the suites, so that the first
# build (debootstrap, minutes) is shown as it goes and is not counted against
# a suite's timeout; later runs find them. Without a Docker engine the
# container suites skip, and so does this.
test-images: build
	@if docker info >/dev/null 2>&1; then \
		IMAGES_CONTENT_ONLY=1 bash scripts/images.sh $(BIN) test gwlb-lab suricata box; \
	else echo "test-images: no Docker engine answers; the container suites will skip"; fi

unit: ## unit tests only (no root needed)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: deps build test-images ## the Ginkgo suites that run labs for real (root)
	GWLB_LAB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./e2e/...

example: build ## the example user suite, examples/appliance-suite, against bin/gwlb-lab (root)
	$(EXAMPLE_TEST)

fuzz-smoke: ## run every fuzz target for FUZZTIME each
	@bash scripts/fuzz-smoke.sh $(FUZZTIME)

bench: build ## benchmarks: micro (any user), lab scale and data path (root); see docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /e2e/)
	GWLB_LAB_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 2x -timeout 30m ./e2e/bench/

reliability: build ## kill up (SIGKILL) at 50 moments, down after each, check nothing is left (root)
	$(GO) run ./scripts/reliability -bin $(BIN)

lint: ## gofmt check and go vet (the example suite's module too)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(EXAMPLE) && $(GO) vet ./...

clean: ## remove build output
	rm -rf bin
