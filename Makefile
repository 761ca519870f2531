# Stent for Go. `make` (or `make help`) lists the targets.
#
# Tests that need PostgreSQL or Redis read STENT_TEST_POSTGRES_DSN and
# STENT_TEST_REDIS_URL from the environment and skip when they are unset
# (unless STENT_REQUIRE_SERVICES=1). .ci/run sets all three.

GO    ?= go
GOFMT ?= gofmt
# VERSION is stamped into the binaries (-X main.version) and tags the image.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help

.PHONY: help build build-bin image test chaos demo run lint fmt generate verify bench bench-quick bench-latency fuzz-quick

help: ## List the targets
	@echo 'Usage: make <target>'
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## Build every package
	$(GO) build ./...

# deploy/Dockerfile runs this same command (tests/packaging checks it).
build-bin: ## Build static stentd, stent and stent-healthcheck into bin/ (VERSION=... stamps them)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/ ./cmd/stentd ./cmd/stent ./deploy/stent-healthcheck

image: ## Build the container image stent:VERSION from deploy/Dockerfile (needs a Docker engine)
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t stent:$(VERSION) .

test: ## Run every test with the race detector (set STENT_TEST_POSTGRES_DSN / STENT_TEST_REDIS_URL for the service tests)
	@echo "PostgreSQL tests: $${STENT_TEST_POSTGRES_DSN:-skipped (STENT_TEST_POSTGRES_DSN is unset)}"
	@echo "Redis tests:      $${STENT_TEST_REDIS_URL:-skipped (STENT_TEST_REDIS_URL is unset)}"
	$(GO) test -race -count=1 -timeout 20m ./...

chaos: ## Long fault soaks (500 workflows per store, 3 worker processes, a SIGKILL every 2-4 s; PostgreSQL outages and Redis kills mixed in); figures in tests/chaos/results/ (needs STENT_TEST_POSTGRES_DSN)
	STENT_CHAOS=long STENT_CHAOS_REPORT=$(CURDIR)/tests/chaos/results $(GO) test -race -count=1 -timeout 30m -v -run 'TestKillsCostNothing|TestOneKillWithTheDefaultLease|TestScheduleTicksOnceAcrossAKill|TestOutagesCostNothing' ./tests/chaos

demo: ## Run the example workflows end to end on an embedded SQLite file (demo.sqlite)
	$(GO) run ./examples/demo

run: ## Start stentd on the embedded SQLite default (stent.sqlite; http://127.0.0.1:8080, Ctrl-C stops it)
	$(GO) run ./cmd/stentd

lint: ## Check gofmt, go vet and staticcheck (runs all three, fails if any fails)
	@status=0; \
	echo '$(GOFMT) -l .'; \
	unformatted=$$($(GOFMT) -l .) || status=1; \
	if [ -n "$$unformatted" ]; then \
		echo 'gofmt: these files are not formatted (run make fmt):'; \
		echo "$$unformatted"; \
		status=1; \
	fi; \
	echo '$(GO) vet ./...'; $(GO) vet ./... || status=1; \
	echo '$(GO) tool staticcheck ./...'; $(GO) tool staticcheck ./... || status=1; \
	exit $$status

fmt: ## Format every Go file with gofmt
	$(GOFMT) -w .

generate: ## Regenerate the mocks (go generate ./...)
	$(GO) generate ./...

verify: generate ## Fail if the committed mocks are stale or go.mod/go.sum are not tidy
	@generated=$$(grep -rl --include='*.go' '^// Code generated .* DO NOT EDIT\.$$' . | sort); \
	if [ -z "$$generated" ]; then echo 'verify: no generated files found (expected the mocks in ports/portsmock)'; exit 1; fi; \
	echo "git diff --exit-code --" $$generated; \
	git --no-pager diff --exit-code -- $$generated || { echo 'verify: generated files differ from the committed ones: run make generate and commit them'; exit 1; }; \
	untracked=$$(git ls-files --others --exclude-standard -- $$generated); \
	if [ -n "$$untracked" ]; then echo "verify: generated files are not committed:" $$untracked; exit 1; fi
	$(GO) mod tidy -diff

FUZZTIME ?= 30s

fuzz-quick: ## Fuzz the HTTP API for FUZZTIME (default 30s) on SQLite, and PostgreSQL when STENT_TEST_POSTGRES_DSN is set: no 5xx, no panic
	$(GO) test -run '^$$' -fuzz FuzzAPI -fuzztime $(FUZZTIME) ./adapters/httpapi

BENCH_BIN := bin/bench

bench: ## Benchmark Stent against River and DBOS (about 25 min with W8); writes bench/results/latest.md, latest.json and a history.jsonl row
	cd bench && $(GO) build -o $(BENCH_BIN) ./cmd/bench && ./$(BENCH_BIN) -out results

bench-quick: ## Reduced benchmark (< 2 min, CI smoke; writes bench/results/quick/); fails if Stent's W1/W2 drop below half of River's/DBOS's
	cd bench && $(GO) build -o $(BENCH_BIN) ./cmd/bench && ./$(BENCH_BIN) -quick -guard -out results/quick

bench-latency: ## Print Stent's dispatch -> result / -> start latency per notifier, then `stent dispatch --wait` against stentd on SQLite
	cd bench && $(GO) build -o $(BENCH_BIN) ./cmd/bench && ./$(BENCH_BIN) -latency
	cd bench && $(GO) run ./cmd/clilatency
