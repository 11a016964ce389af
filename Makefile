# Everything a fresh clone needs, from python3 and make alone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DAYS   ?= 14

.PHONY: help venv demo test test-fast bench lint clean local-stack

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned dependencies

demo: $(STAMP) ## local stack + seeded fleet + $(DAYS) nights; results under out/
	$(BIN)/mlmon --log-level WARNING demo --days $(DAYS) --out out

test: lint ## lint, then the whole suite (unit, integration against the local stack, end-to-end)
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff (lint and format) and mypy with the boto3 stubs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP) ## speed and memory targets (ratios against baselines measured in the same run)
	$(BIN)/python -m benchmarks

local-stack: $(STAMP) ## serve the local AWS emulator until interrupted
	$(BIN)/mlmon local-stack

clean: ## remove the venv and demo output
	rm -rf $(VENV) out .pytest_cache
