# Fapiao workbench. `make demo` and `make test` are the quick start; every target bootstraps .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-data
export FAPIAO_STORE ?= embedded:workspace

LOCK   := tools/lock/requirements.txt
FAST   := -m "not slow and not neo4j and not browser"

.PHONY: demo test test-fast test-min lint bench neo4j lock licences wheel-check clean help

help:
	@echo "make demo   - generate demo data with planted rings, load, detect, start the workbench"
	@echo "make test   - run every test (starts a real local Neo4j; browser tests use Debian chromium)"
	@echo "make test-fast - the fast lane: no slow, Neo4j or browser tests (markers: tests/conftest.py)"
	@echo "make lint   - ruff + mypy --strict"
	@echo "make bench  - speed and quality benchmarks (prints tables)"
	@echo "make neo4j  - run a local Neo4j Community 5.26 in the foreground (Bolt on 127.0.0.1)"
	@echo "make lock   - refresh tools/lock/*.txt after changing dependencies in pyproject.toml"
	@echo "make test-min    - the fast lane on the lowest allowed version of every direct dependency"
	@echo "make licences    - licence report (docs/licences.md) and allow-list check"
	@echo "make wheel-check - build the wheel, install it in a fresh venv, prepare the demo and run the fast lane from it"

# (Re)create the virtualenv when it is missing or the dependencies changed: the exact versions and hashes
# of the lock file, then the project itself (editable). A lock that no longer matches pyproject.toml stops here.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python tools/lock/lock.py check
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fapiao demo --data $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest $(FAST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install -q '.[bench]' || echo "bench: snapml peer unavailable, its rows are skipped"
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/quality.py

neo4j: $(STAMP)
	$(BIN)/fapiao neo4j

lock: $(STAMP)
	$(BIN)/python tools/lock/lock.py refresh

test-min:
	@test -x .venv-min/bin/python || $(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install -q --upgrade pip
	.venv-min/bin/python -m pip install -q -r tools/lock/requirements-min.txt
	.venv-min/bin/python -m pip install -q --no-deps -e .
	.venv-min/bin/python -m pytest $(FAST) -p no:cacheprovider

licences: $(STAMP)
	$(BIN)/python tools/licence_check.py

wheel-check: $(STAMP)
	bash tools/wheel_check.sh

clean:
	rm -rf $(VENV) .venv-min dist workspace $(DEMO_DIR) tools/neo4j-local/target .pytest_cache .mypy_cache .ruff_cache
