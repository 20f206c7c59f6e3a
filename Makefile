# The two commands: `make run` (embedded default, no services) and `make test` (Postgres + Redis).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test test-faults test-e2e lint format bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/musicgw db upgrade
	$(BIN)/musicgw demo
	LOG_FORMAT=$${LOG_FORMAT:-text} $(BIN)/musicgw serve

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not faults_slow"

# The fault-injection rows that restart Postgres or Redis or take minutes (tests/faults).
test-faults: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/faults -m faults_slow

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api worker common

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(DEV_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var
