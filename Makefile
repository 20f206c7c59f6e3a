# The two commands: `make run` (embedded default, no services) and `make test` (Postgres + Redis).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test test-faults test-e2e lint format bench install browser clean

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

test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -m "not faults_slow"

# The page tests drive a real Chromium (browser tools cannot download their own builds): use
# CHROMIUM_PATH or the one on PATH, else install Debian's package when we may, else say how.
browser:
	@if [ -n "$${CHROMIUM_PATH:-}" ]; then \
	  [ -x "$$CHROMIUM_PATH" ] || { echo "browser: CHROMIUM_PATH=$$CHROMIUM_PATH is not an executable" >&2; exit 1; }; \
	  echo "browser: using $$CHROMIUM_PATH (CHROMIUM_PATH)"; \
	elif found=$$(command -v chromium || command -v chromium-browser); then \
	  echo "browser: found $$found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "browser: Chromium not found; installing Debian's chromium with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	    && echo "browser: installed $$(command -v chromium)"; \
	else \
	  echo "browser: Chromium is missing and the page tests need it. Install it with:" >&2; \
	  echo "    sudo apt-get install chromium" >&2; \
	  echo "or point CHROMIUM_PATH at a Chromium binary, then run make test again." >&2; \
	  exit 1; \
	fi

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
