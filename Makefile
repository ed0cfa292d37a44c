# Two commands matter: `make run` (set up + REPL over knowledge/) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-slow lint bench bench-quick clean

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

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf .quotebot .pytest_cache .mypy_cache .ruff_cache
