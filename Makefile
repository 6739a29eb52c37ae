# Entry points of the project. Each target creates the virtual environment it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The uv that reads uv.lock; the same version is the `tooling` group in pyproject.toml, so
# every sync keeps it. Everything else the project installs comes from uv.lock.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# Never resolve: install exactly the committed lock (fails if pyproject.toml and uv.lock disagree).
SYNC := $(UV) sync --frozen
export UV_PROJECT_ENVIRONMENT := $(VENV)
# A test-only reader with a DuckDB of its own (the iceberg extension's version).
DUCKDB_READER := stock_assets_tests/readers/duckdb_iceberg
export STOCK_ASSETS_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(STOCK_ASSETS_DATA_DIR)/dagster_home

.PHONY: run test check audit dev consume dashboard home bench clean snapshots stack-up stack-down \
	stack-status \
	install install-test lock lock-check upgrade-check mutation

# The virtual environment with uv bootstrapped by pip: a fresh machine needs only Python.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "uv==$(UV_VERSION)"

## install: the package, its runtime dependencies and the aws extra (so switching to AWS mode
## is environment variables only), exactly as locked; a no-op when in sync
install: $(UV)
	$(SYNC) --extra aws

## install-test: the runtime, the deploy extra and the test tools, exactly as locked, and
## the independent DuckDB Iceberg reader's own environment (its lock beside it)
install-test: $(UV)
	$(SYNC) --extra deploy --group test
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(DUCKDB_READER)/.venv $(SYNC) --project $(DUCKDB_READER)

home:
	mkdir -p "$(DAGSTER_HOME)"
	cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

## run: install and backfill the last three months on the simulator into DuckDB
run: install home
	$(BIN)/stock-assets run

## test: install the test extras (and Debian's chromium for the UI test) and run the whole suite
test: install-test
	scripts/install-test-system-deps.sh
	$(BIN)/pytest -q --reliability-report docs/RELIABILITY.md

## snapshots: rewrite stock_assets_tests/snapshots/ from the current definitions (then commit)
snapshots: install-test
	$(BIN)/pytest -q stock_assets_tests/test_definitions_snapshot.py --update-snapshots

## mutation: mutation score of the guarantee-carrying modules (pyproject's [tool.mutmut]);
## records docs/mutation-results.json, writes docs/MUTATION.md and fails below
## docs/mutation-baseline.json. ARGS=--stale: only modules changed since measured.
mutation: install-test
	$(BIN)/python scripts/mutation.py $(ARGS)

## check: lint, validate the Dagster definitions, and fail if docs/RELIABILITY.md is stale
check: install-test home
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/dagster definitions validate -w workspace.yaml
	git diff --exit-code docs/RELIABILITY.md

## audit: known vulnerabilities in the installed dependencies (PyPI's advisory data)
audit: install-test
	scripts/audit-deps.sh

## dev: open the Dagster UI on http://127.0.0.1:3000
# Dagster's single-run backfill switches for the daemon, webserver and runs (cli.BACKFILL_ENV).
dev: export DAGSTER_EVENT_BATCH_SIZE ?= 10000
dev: export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
dev: install home
	$(BIN)/dagster dev -w workspace.yaml

## consume: the stream consumer beside `STOCK_ASSETS_STREAM_CONSUMER=on make dev` (arrivals
## ingested within seconds; with the variable on, the arrivals sensor starts stopped)
consume: install home
	$(BIN)/stock-assets consume

## dashboard: the market dashboard on http://127.0.0.1:8501 (DASHBOARD_PORT), read-only on the warehouse
DASHBOARD_PORT ?= 8501
dashboard: install home
	$(BIN)/python -m stock_assets.dashboard --port $(DASHBOARD_PORT)

## bench: the performance harness (not part of the tests); results in benchmarks/results/
bench: $(UV)
	$(SYNC) --extra deploy --group bench
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## stack-up: production-shaped local stack (Postgres, webserver, daemon, gRPC code server, moto) in AWS mode
stack-up: install-test
	$(BIN)/python deploy/local/stack.py up

## stack-down: stop the local stack
stack-down:
	$(BIN)/python deploy/local/stack.py down

## stack-status: list the stack's services (exit 1 unless all run)
stack-status:
	$(BIN)/python deploy/local/stack.py status

## lock: re-resolve uv.lock after editing pyproject.toml (keeps every other pin where it is)
lock: $(UV)
	$(UV) lock
	$(UV) lock --project $(DUCKDB_READER)

## lock-check: fail when pyproject.toml and uv.lock disagree (run by CI)
lock-check: $(UV)
	$(UV) lock --check
	$(UV) lock --check --project $(DUCKDB_READER)

## upgrade-check: refresh every pin in a temporary copy and run the whole suite against it
upgrade-check:
	scripts/upgrade-check.sh

clean:
	rm -rf data .pytest_cache .ruff_cache
