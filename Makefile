# Two commands for a fresh machine: `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup demo test lint bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/trustledger demo
	@echo "serving the API on http://127.0.0.1:8000 (OpenAPI at /openapi.json); Ctrl-C stops it"
	$(BIN)/trustledger serve

lint: setup
	$(BIN)/ruff check trustledger tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

test: lint
	$(BIN)/pytest -n 2

bench: setup
	$(BIN)/python bench/run_all.py
