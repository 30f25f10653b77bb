# Fapiao workbench. `make demo` and `make test` are the quick start; every target bootstraps .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-data
export FAPIAO_STORE ?= embedded:workspace

.PHONY: demo test lint bench neo4j clean help

help:
	@echo "make demo   - generate demo data with planted rings, load, detect, start the workbench"
	@echo "make test   - run every test (starts a real local Neo4j; browser tests use Debian chromium)"
	@echo "make lint   - ruff + mypy --strict"
	@echo "make bench  - speed and quality benchmarks (prints tables)"
	@echo "make neo4j  - run a local Neo4j Community 5.26 in the foreground (Bolt on 127.0.0.1)"

# (Re)create the virtualenv when it is missing or pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,api]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fapiao demo --data $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/quality.py

neo4j: $(STAMP)
	$(BIN)/fapiao neo4j

clean:
	rm -rf $(VENV) workspace $(DEMO_DIR) tools/neo4j-local/target .pytest_cache .mypy_cache .ruff_cache
