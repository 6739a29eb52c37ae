# Entry points of the project. Each target creates the virtual environment it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export STOCK_ASSETS_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(STOCK_ASSETS_DATA_DIR)/dagster_home

.PHONY: run test check audit dev home bench clean stack-up stack-down stack-status

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

home:
	mkdir -p "$(DAGSTER_HOME)"
	cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

## run: install and backfill the last three months on the simulator into DuckDB
run: $(VENV)/.installed home
	$(BIN)/stock-assets run

## test: install the test extras (and Debian's chromium for the UI test) and run the whole suite
test: $(VENV)/.installed-test
	scripts/install-test-system-deps.sh
	$(BIN)/pytest -q --reliability-report docs/RELIABILITY.md

## check: lint, validate the Dagster definitions, and fail if docs/RELIABILITY.md is stale
check: $(VENV)/.installed-test home
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/dagster definitions validate -w workspace.yaml
	git diff --exit-code docs/RELIABILITY.md

## audit: known vulnerabilities in the installed dependencies (PyPI's advisory data)
audit: $(VENV)/.installed-test
	scripts/audit-deps.sh

## dev: open the Dagster UI on http://127.0.0.1:3000
# Dagster's single-run backfill switches for the daemon, webserver and runs (cli.BACKFILL_ENV).
dev: export DAGSTER_EVENT_BATCH_SIZE ?= 10000
dev: export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
dev: $(VENV)/.installed home
	$(BIN)/dagster dev -w workspace.yaml

## bench: the performance harness (not part of the tests); results in benchmarks/results/
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## stack-up: production-shaped local stack (Postgres, webserver, daemon, gRPC code server, moto) in AWS mode
stack-up: $(VENV)/.installed-test
	$(BIN)/python deploy/local/stack.py up

## stack-down: stop the local stack
stack-down:
	$(BIN)/python deploy/local/stack.py down

## stack-status: list the stack's services (exit 1 unless all run)
stack-status:
	$(BIN)/python deploy/local/stack.py status

clean:
	rm -rf data .pytest_cache .ruff_cache
