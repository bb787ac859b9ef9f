# Two commands for a fresh machine: `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# Debian packages the tests need: Chromium (browser tests), CJK fonts and Pango (PDF reports)
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0

.PHONY: setup system-deps demo test lint bench scale

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/trustledger demo
	$(BIN)/trustledger serve

lint: setup
	$(BIN)/ruff check trustledger tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

# installs SYSTEM_PACKAGES with apt-get when missing (as root); a no-op when present
system-deps:
	@scripts/system-deps.sh $(SYSTEM_PACKAGES)

test: system-deps lint
	$(BIN)/pytest -n 2

bench: setup
	$(BIN)/python bench/run_all.py

# the benchmarks behind docs/scale.md, then the page's figures, model and plots
scale: setup
	$(BIN)/python bench/scale_model.py
