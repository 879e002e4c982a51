# Ferry — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
# Engine scenarios each start two MariaDB servers; two at a time suits a 2-core machine.
TEST_THREADS ?= 2

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the ferry binary (release).
	$(CARGO) build --release

.PHONY: deps
deps: ## Install what the tests and the demo need (MariaDB from Debian).
	scripts/install-test-deps.sh

.PHONY: k8s-tools
k8s-tools: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl, helm from Go modules (cached).
	scripts/k8s-tools.sh

.PHONY: deploy
deploy: k8s-tools ## Render deploy/ferry.yaml (plain manifests) from the Helm chart.
	mkdir -p deploy
	"$$(scripts/k8s-tools.sh | tail -1)/helm" template ferry charts/ferry --namespace ferry --include-crds --set 'worker.namespaces={default}' > deploy/ferry.yaml

.PHONY: test
test: deps k8s-tools ## Install test dependencies, then run every test (unit; end-to-end against real MariaDB and kube-apiserver).
	$(CARGO) test --all-targets -- --test-threads=$(TEST_THREADS)

.PHONY: lint
lint: ## rustfmt check and clippy with warnings as errors.
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

.PHONY: crds
crds: ## Regenerate crds/ (and the chart's copy) from the Rust types.
	$(CARGO) run --quiet -- crd > crds/synctask.yaml
	cp crds/synctask.yaml charts/ferry/crds/synctask.yaml

.PHONY: check-crds
check-crds: crds ## Fail if crds/ is not what the code generates.
	@git diff --exit-code -- crds/ charts/ferry/crds/ || { echo "crds/ is stale: run 'make crds' and commit"; exit 1; }

.PHONY: structure
structure: ## The shape of src/: no import cycle, layer boundaries, long files' reasons, docs/architecture.md in step.
	$(CARGO) test --test structure

.PHONY: check
check: lint check-crds structure ## Everything CI checks before the tests.

.PHONY: demo
demo: ## Local demo: two MariaDB servers, sample data, live writes, ferry run (Ctrl-C to stop).
	scripts/demo.sh

.PHONY: chaos
chaos: ## A longer chaos soak: 200 seeded faults under load (FERRY_CHAOS_FAULTS, FERRY_TEST_SEED to replay).
	FERRY_CHAOS_FAULTS=$${FERRY_CHAOS_FAULTS:-200} $(CARGO) test --test chaos chaos_schedule_loses_nothing -- --nocapture

.PHONY: fuzz
fuzz: ## Differential fuzzer: random schemas, workloads, DDL and worker kills until N cases (FERRY_FUZZ_CASES, default 300) or FERRY_FUZZ_MINUTES; FERRY_FUZZ_SEED replays.
	FERRY_FUZZ_CASES=$${FERRY_FUZZ_CASES:-300} FERRY_FUZZ_STATEMENTS=$${FERRY_FUZZ_STATEMENTS:-700} FERRY_FUZZ_TABLES=$${FERRY_FUZZ_TABLES:-10} \
	  $(CARGO) test --release --test fuzz_diff -- --nocapture

.PHONY: bench
bench: ## Benchmark against mariadb-dump, mydumper and a native replica; writes docs/benchmarks.md.
	scripts/bench.sh

.PHONY: demo-stop
demo-stop: ## Stop the demo's servers and remove .demo/.
	scripts/demo.sh stop

.PHONY: clean
clean: ## Remove build output and demo state.
	$(CARGO) clean
	rm -rf .demo
