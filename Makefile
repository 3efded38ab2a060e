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
ACTIONLINT_VERSION  := v1.7.12
STATICCHECK_VERSION := v0.8.2
# GoReleaser is large (about 2.6 GB of modules, minutes to compile on a fresh machine), so it is
# built once per version into a cache outside the clone (go install at the pinned version,
# no global install) and reused by `make release-snapshot` and the packaging tests.
GORELEASER_VERSION := v2.15.1
TOOLS_DIR  ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mcp-cloudrun-proxy/tools
GORELEASER := $(TOOLS_DIR)/goreleaser-$(GORELEASER_VERSION)/goreleaser
# The Claude Desktop extension CLI, from npm, to validate dist/mcpb manifests in the tests.
MCPB_VERSION := 2.1.2
MCPB := $(TOOLS_DIR)/mcpb-$(MCPB_VERSION)/node_modules/.bin/mcpb
# Every module directory listed in go.work.
MODULES := $(shell go list -m -f '{{.Dir}}')
TEST_FLAGS ?= -race -count=1 -timeout=12m

.PHONY: all build test test-clients lint tidy demo bench soak fuzz install uninstall dist release-snapshot goreleaser tools vendorhash clean

all: build

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/$(BINARY) .

## test: every package of every module, with the race detector. The release tests
## (release_test.go) get the mcpb CLI (installed once, seconds) and GoReleaser when `make
## tools` built it before: building GoReleaser takes about 20 minutes on a fresh machine, too
## long for CI, so TestGoreleaserCheck and TestReleaseSnapshot skip without it (saying so) and
## TestChannelsWithoutGoreleaser packs and installs npm, wheels and extensions from go build.
test: $(MCPB)
	MCP_CLOUDRUN_PROXY_GORELEASER="$$(test -x '$(GORELEASER)' && echo '$(GORELEASER)')" MCP_CLOUDRUN_PROXY_MCPB="$$(test -x '$(MCPB)' && echo '$(MCPB)')" \
	  $(GOTESTSUM) --format pkgname-and-test-fails -- $(TEST_FLAGS) $(addsuffix /...,$(MODULES))

## test-clients: real MCP clients, installed with npm at pinned versions into CLIENTS_DIR
## (their native binaries come in platform packages, so no install script runs), check with
## their own health check (claude mcp list, gemini mcp list, Codex's app-server
## mcpServerStatus/list, opencode mcp list) that an entry written by install-config connects
## through the built binary to the e2e fake Cloud Run, and how a start-up failure shows
## (e2e/clients_test.go, build tag "clients"); and the MCP conformance suite's client
## scenarios through the proxy (e2e/conformance_test.go); the MCP Inspector's CLI through the
## proxy to server-everything, the TypeScript reference server (e2e/everything_test.go).
CLIENTS_DIR ?= .cache/clients
# The conformance suite: 0.1.14 and later need Node 22 (fs.globSync); this machine has Node 20.
CLIENT_PACKAGES := @anthropic-ai/claude-code@2.1.332 @google/gemini-cli@0.61.0 @openai/codex@0.169.0 opencode-ai@1.18.33 @modelcontextprotocol/conformance@0.1.13 @modelcontextprotocol/inspector@0.15.0 @modelcontextprotocol/server-everything@2026.8.31
test-clients: build
	mkdir -p '$(CLIENTS_DIR)'
	[ -f '$(CLIENTS_DIR)/package.json' ] || echo '{"private": true}' > '$(CLIENTS_DIR)/package.json'
	cd '$(CLIENTS_DIR)' && npm install --no-audit --no-fund --ignore-scripts --loglevel=error $(CLIENT_PACKAGES)
	cd e2e && CLIENTS_DIR='$(abspath $(CLIENTS_DIR))' E2E_PROXY_BIN='$(abspath $(BIN_DIR)/$(BINARY))' \
	  $(GOTESTSUM) --format standard-verbose -- -tags clients -count=1 -timeout=10m -run '^TestClients' .

## lint: gofmt must list nothing; go vet and staticcheck every module; the root module must
## build without go.work; actionlint on the GitHub workflows.
lint:
	@unformatted=$$(gofmt -l $(MODULES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet $(addsuffix /...,$(MODULES))
	cd e2e && go vet -tags clients .
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(addsuffix /...,$(MODULES))
	for m in $(MODULES); do (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...); done
	go run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) -no-color

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

## release-snapshot: what a release tag publishes, built into dist/ and published nowhere
## (.goreleaser.yaml): archives for linux/darwin/windows x amd64/arm64 with README, LICENSE and
## shell completions, checksums.txt, .deb and .rpm, the Homebrew formula
## (dist/homebrew/Formula/), then scripts/channels: npm packages (dist/npm/*.tgz), Python wheels
## (dist/pypi/*.whl) and Claude Desktop extensions (dist/mcpb/*.mcpb). SBOMs and signatures
## need syft and cosign with an OIDC identity: release.yml makes them.
release-snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean --skip=sign,sbom
	go run ./scripts/channels -dist dist
	@cd dist && ls -1 *.tar.gz *.zip *.deb *.rpm checksums.txt homebrew/Formula/*.rb npm/*.tgz pypi/*.whl mcpb/*.mcpb

## dist: the former name of release-snapshot.
dist: release-snapshot

## tools: build the pinned GoReleaser and install the mcpb CLI into TOOLS_DIR, once.
tools: $(GORELEASER) $(MCPB)

## goreleaser: print the path of the pinned GoReleaser, building it first when needed.
goreleaser: $(GORELEASER)
	@echo '$(GORELEASER)'

$(GORELEASER):
	GOBIN='$(dir $@)' go install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

# Without npm the mcpb checks are skipped (and say so); everything else still runs.
$(MCPB):
	if command -v npm >/dev/null; then \
	  npm install --prefix '$(TOOLS_DIR)/mcpb-$(MCPB_VERSION)' --no-audit --no-fund --silent @anthropic-ai/mcpb@$(MCPB_VERSION); \
	else echo "npm is not installed: the release tests skip npm and mcpb" >&2; fi

## vendorhash: recompute flake.nix's vendorHash, the hash of the Go modules Nix downloads for
## the root module (see the comments in flake.nix). Run it after changing any go.mod/go.sum.
vendorhash:
	go run ./scripts/vendorhash -flake flake.nix -modroot .

clean:
	rm -rf $(BIN_DIR) dist
