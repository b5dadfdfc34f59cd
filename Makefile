# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Build the 福兴 demo community (first run only) and serve it at http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/wuzhi demo

## The whole test suite (SQLite by default; set WUZHI_DATABASE_URL=postgres://… for PostgreSQL)
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy wuzhi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
