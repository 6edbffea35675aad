# Quick start: `make run` (the daemon on config/escalatord.toml, SQLite under ./var/)
#              `make test` (the whole suite). Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
CONFIG ?= config/escalatord.toml
BIN    := $(VENV)/bin
# Test worker processes (pytest-xdist); TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 4

.PHONY: run test lint format check-config bench clean

$(BIN)/escalatord: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.test-extras: $(BIN)/escalatord
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

run: $(BIN)/escalatord
	@mkdir -p var
	$(BIN)/escalatord run --config $(CONFIG)

check-config: $(BIN)/escalatord
	$(BIN)/escalatord check-config --config $(CONFIG)

test: $(VENV)/.test-extras
	$(BIN)/pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.test-extras
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports pyproject.toml  # the layering contracts (docs/design.md, "Layout")

format: $(VENV)/.test-extras
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(VENV)/.test-extras
	$(BIN)/python bench/checks.py --checks 1000 --seconds 30

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
