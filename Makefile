# Two commands matter: `make run` (set up + REPL over knowledge/) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-fast test-slow lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing pulls the multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/quotebot repl

lint: $(STAMP)
	$(BIN)/ruff check bot tests $(wildcard bench)
	$(BIN)/ruff format --check bot tests $(wildcard bench)
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest

# The inner loop: no model, no child process, no PostgreSQL, no 1,000-example property test.
# Markers come from the fixtures a test uses (tests/conftest.py) and from the test files.
# Two workers (pytest-xdist): both cores, and the lane's waits (retry back-offs) overlap.
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow and not model and not subprocess and not postgres and not thorough"

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf .quotebot .pytest_cache .mypy_cache .ruff_cache
