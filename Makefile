# Everything a fresh clone needs, from python3 and make alone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := uv==0.13.9
NOT_IMPORTED := /(tests?|testing)/|/site-packages/(pip|setuptools|_distutils_hack|mypy|mypyc|pygments/lexers|sympy/(physics|combinatorics|stats))/|/plotly/graph_objs/
DAYS   ?= 14
# make deploy / destroy (README, "Deploying to AWS"): STACK, CONFIG and ARTIFACTS; REGION defaults to the config's lake.region
STACK     ?=
CONFIG    ?=
ARTIFACTS ?=
REGION    ?=

.PHONY: help venv demo test suite typecheck test-fast bench lint clean local-stack deploy destroy

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	# uv installs the wheels in parallel (5 s instead of pip's ~30 s for the ~115 wheels); pip stays the fallback
	# (uv reads no pip.conf: an index configured only there is reached through pip).
	{ $(BIN)/python -m pip install --quiet $(UV) && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements.lock -e '.[test]'; } || \
	  { $(BIN)/python -m pip install --quiet --upgrade pip && \
	    $(BIN)/python -m pip install --quiet --no-compile -c requirements.lock -e '.[test]'; }
	# Bytecode for every installed module, on every core (neither installer is asked to compile: pip does it on one).
	# Left out, a third of the source that nothing here imports (a module left out still loads, compiled in memory):
	# packages' own tests; pip, setuptools and mypy (mypy runs its compiled .so modules); the Pygments lexers; the
	# SymPy parts GE never reaches; plotly's Python figure types (the preview builds plotly.js's JSON itself).
	$(BIN)/python -m compileall -q -j 0 -x "$(NOT_IMPORTED)" $(VENV)/lib
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned dependencies

demo: $(STAMP) ## local stack + seeded fleet + $(DAYS) nights; results under out/
	$(BIN)/mlmon --log-level WARNING demo --days $(DAYS) --out out

# One pytest worker a core. (A worker more paid when tests slept through botocore's backoff; with those sleeps gone,
# four alternating pairs on a warm venv took the same wall either way, 220 s on average, and 2 workers on 2 cores
# used 8 % less CPU than 3: 379 against 411 CPU-s, a stack, imports and contention fewer; docs/benchmarks.md.)
WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1)")

# ruff first (a second; a lint error stops here), then mypy beside the suite: mypy runs on one core for ~10 s, which
# the suite's workers fill otherwise idle.
test: $(STAMP) ## lint, then the whole suite (unit, integration against the local stack, end-to-end)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory -j 2 typecheck suite

# Our own modules' bytecode first (~0.4 s; only what changed since): this environment sets PYTHONDONTWRITEBYTECODE, so
# each of the ~45 processes a run starts (workers, CLI runs, shards, the demo) compiled the package again (~0.2 s each).
suite: $(STAMP)
	@$(BIN)/python -m compileall -q pipelines tests
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadscope --no-loadscope-reorder

typecheck: $(STAMP)
	$(BIN)/mypy

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

deploy: $(STAMP) ## build the wheel, upload it, create or update the stack: STACK=ml-lake CONFIG=prod.yaml ARTIFACTS=s3://bucket/mlmon/
	$(BIN)/python glue_jobs/deploy_stack.py deploy --stack "$(STACK)" --config "$(CONFIG)" --artifacts "$(ARTIFACTS)" $(if $(REGION),--region $(REGION))

destroy: $(STAMP) ## delete the stack (the lake bucket is kept): STACK=ml-lake CONFIG=prod.yaml (or REGION=...)
	$(BIN)/python glue_jobs/deploy_stack.py destroy --stack "$(STACK)" $(if $(CONFIG),--config "$(CONFIG)") $(if $(REGION),--region $(REGION))

clean: ## remove the venv and demo output
	rm -rf $(VENV) out .pytest_cache
