# One Makefile for every module in go.work. CI calls only these targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BINARY   := mcp-cloudrun-proxy
BIN_DIR  := bin
PREFIX   ?= /usr/local
ROOT_PKG := github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

GOTESTSUM_VERSION := v1.13.0
GOTESTSUM := go run gotest.tools/gotestsum@$(GOTESTSUM_VERSION)
# Every module directory listed in go.work.
MODULES := $(shell go list -m -f '{{.Dir}}')
TEST_FLAGS ?= -race -count=1 -timeout=12m

.PHONY: all build test test-clients lint tidy demo bench soak fuzz install uninstall dist vendorhash clean

all: build

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/$(BINARY) .

## test: every package of every module, with the race detector.
test:
	$(GOTESTSUM) --format pkgname-and-test-fails -- $(TEST_FLAGS) $(addsuffix /...,$(MODULES))

## test-clients: real MCP clients, installed with npm at pinned versions into CLIENTS_DIR
## (their native binaries come in platform packages, so no install script runs), check with
## their own health check (claude mcp list, gemini mcp list, Codex's app-server
## mcpServerStatus/list, opencode mcp list) that an entry written by install-config connects
## through the built binary to the e2e fake Cloud Run, and how a start-up failure shows
## (e2e/clients_test.go, build tag "clients").
CLIENTS_DIR ?= .cache/clients
CLIENT_PACKAGES := @anthropic-ai/claude-code@2.1.332 @google/gemini-cli@0.61.0 @openai/codex@0.169.0 opencode-ai@1.18.33
test-clients: build
	mkdir -p '$(CLIENTS_DIR)'
	[ -f '$(CLIENTS_DIR)/package.json' ] || echo '{"private": true}' > '$(CLIENTS_DIR)/package.json'
	cd '$(CLIENTS_DIR)' && npm install --no-audit --no-fund --ignore-scripts --loglevel=error $(CLIENT_PACKAGES)
	cd e2e && CLIENTS_DIR='$(abspath $(CLIENTS_DIR))' E2E_PROXY_BIN='$(abspath $(BIN_DIR)/$(BINARY))' \
	  $(GOTESTSUM) --format standard-verbose -- -tags clients -count=1 -timeout=10m -run '^TestClients' .

## lint: gofmt must list nothing; go vet every module; the root module must build without go.work.
lint:
	@unformatted=$$(gofmt -l $(MODULES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet $(addsuffix /...,$(MODULES))
	cd e2e && go vet -tags clients .
	for m in $(MODULES); do (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...); done

tidy:
	for m in $(MODULES); do (cd $$m && GOWORK=off go mod tidy); done

## demo: build, start the fake Cloud Run (e2e/cmd/fakecloudrun), run `debug` against it, then a
## scripted MCP session through `run`; stops everything and exits 0 when every step worked.
demo: build
	cd e2e && go build -o ../$(BIN_DIR)/fakecloudrun ./cmd/fakecloudrun && go build -o ../$(BIN_DIR)/demo ./cmd/demo
	$(BIN_DIR)/demo --proxy $(BIN_DIR)/$(BINARY) --fakecloudrun $(BIN_DIR)/fakecloudrun

## bench: the proxy against a direct go-sdk client on one in-process fake Cloud Run (e2e/cmd/bench):
## latency, throughput, 8 MiB, cold start, RSS; prints a markdown table. BENCH_FLAGS=--help lists knobs.
BENCH_FLAGS ?=
bench: build
	cd e2e && go run ./cmd/bench --proxy ../$(BIN_DIR)/$(BINARY) $(BENCH_FLAGS)

## soak: SOAK_DURATION (10m) of 16 callers through the built proxy with 8 s tokens, 503s, SSE
## cuts and session expiry every minute (e2e TestSoak), alongside the in-process relay soak
## (proxy TestSoakInProcess: goroutines back to baseline). `make test` runs both for 60 s / 20 s.
SOAK_DURATION ?= 10m
soak:
	cd proxy && E2E_SOAK_DURATION=$(SOAK_DURATION) go test -race -count=1 -timeout=30m -run '^TestSoakInProcess$$' -v . & inproc=$$!; \
	rc=0; (cd e2e && E2E_SOAK_DURATION=$(SOAK_DURATION) go test -count=1 -timeout=30m -run '^TestSoak$$' -v .) || rc=$$?; \
	wait $$inproc && exit $$rc

## fuzz: every Fuzz target of every module, one after the other, FUZZTIME (30s) each.
FUZZTIME ?= 30s
FUZZ_FLAGS ?=
fuzz:
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' $(MODULES) | sort -u); do \
	  d=$$(dirname "$$f"); \
	  for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' "$$f" | cut -d' ' -f2); do \
	    echo "fuzz: $$fn in $$d for $(FUZZTIME)"; \
	    (cd "$$d" && go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $(FUZZ_FLAGS) .); \
	  done; \
	done

## install: build, then copy the binary to $(DESTDIR)$(BINDIR); PREFIX=~/.local needs no root.
BINDIR ?= $(PREFIX)/bin
install: build
	install -d '$(DESTDIR)$(BINDIR)'
	install -m 0755 '$(BIN_DIR)/$(BINARY)' '$(DESTDIR)$(BINDIR)/$(BINARY)'
	@echo "installed $$('$(DESTDIR)$(BINDIR)/$(BINARY)' --version 2>&1) as $(DESTDIR)$(BINDIR)/$(BINARY)"

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/$(BINARY)'

## dist: static release binaries for each of DIST_PLATFORMS in dist/, with SHA256SUMS. Built
## with GOWORK=off, like `go install` and Nix, so they use the root go.mod's versions; the
## host's binary must then print the stamped version and commit.
DIST_DIR       := dist
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
SHA256SUM      := $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum || echo 'shasum -a 256')
dist:
	rm -rf '$(DIST_DIR)' && mkdir -p '$(DIST_DIR)'
	for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; if [ "$$os" = windows ]; then ext=.exe; fi; \
	  out='$(DIST_DIR)/$(BINARY)_$(VERSION)_'"$${os}_$${arch}$$ext"; \
	  echo "go build $$out"; \
	  GOWORK=off CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch \
	    go build -trimpath -ldflags '$(LDFLAGS) -buildid=' -o "$$out" . ; \
	done
	cd '$(DIST_DIR)' && $(SHA256SUM) $(BINARY)_* > SHA256SUMS && cat SHA256SUMS
	host='$(DIST_DIR)/$(BINARY)_$(VERSION)_'"$$(go env GOOS)_$$(go env GOARCH)$$(go env GOEXE)"; \
	if [ -x "$$host" ]; then \
	  got=$$("$$host" --version 2>&1); echo "$$host --version: $$got"; \
	  case "$$got" in *" $(VERSION) (commit $(COMMIT), go"*) ;; \
	  *) echo "make dist: $$host --version does not show version $(VERSION) and commit $(COMMIT)" >&2; exit 1;; esac; \
	fi

## vendorhash: recompute flake.nix's vendorHash, the hash of the Go modules Nix downloads for
## the root module (see the comments in flake.nix). Run it after changing any go.mod/go.sum.
vendorhash:
	go run ./scripts/vendorhash -flake flake.nix -modroot .

clean:
	rm -rf $(BIN_DIR) dist
