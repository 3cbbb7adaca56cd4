# Two commands: `make run` (the pipeline on params.yaml) and `make test` (the test suite).
# Both create the virtual environment on first use.
VENV := .venv
PYTHON ?= python3
PYTHON_NEEDED := 3.11
BIN := $(abspath $(VENV))/bin
PIP_FLAGS := --disable-pip-version-check --quiet
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run repro flow validate test test-fast lint bench bench-variants bench-repeat gc verify clean

# The pins (torch's wheel included) are tested on Linux x86-64 with CPython 3.11 only: another
# version stops here with what to do, before anything is installed.
$(VENV)/.installed: requirements.txt requirements-assets.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v == "$(PYTHON_NEEDED)" else "error: make needs Python $(PYTHON_NEEDED) (the version the pins are tested on); $(PYTHON) is " + v + " (" + sys.executable + "); install $(PYTHON_NEEDED) and run e.g. make PYTHON=python$(PYTHON_NEEDED) ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -r requirements.txt
	$(BIN)/pip install $(PIP_FLAGS) --no-deps -r requirements-assets.txt
	touch $@

# Run the pipeline as a Prefect flow (each stage a `dvc repro` of it). JOBS=2: two independent stages at once.
# PROFILE=mpnet selects profiles/mpnet.yaml, only when params.yaml has no uncommitted edits (flows/profile.py).
run: $(VENV)/.installed
	@if [ -n "$(PROFILE)" ]; then python -m flows.profile $(PROFILE); fi
	python -m flows.pipeline --jobs $(or $(JOBS),1)

# The same DAG driven by DVC alone.
repro: $(VENV)/.installed
	@if [ -n "$(PROFILE)" ]; then python -m flows.profile $(PROFILE); fi
	python -m tasks.validate
	dvc repro

validate: $(VENV)/.installed
	python -m tasks.validate

# The whole suite (what CI runs); test-fast: the unit tier alone (no pipeline, server, training or browser: minutes).
# The suite runs on TEST_WORKERS pytest-xdist workers: one leaves the cores idle part of the time (processes
# starting, waits for a server or a schedule); two on 2 cores take about a sixth less (results/test-suite.md).
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder tests

test-fast: $(VENV)/.installed
	python -m pytest tests/unit

lint: $(VENV)/.installed
	ruff check .
	ruff format --check .

bench: $(VENV)/.installed
	python -m bench.embedding_cache

# Speed of every built model against the teacher, timed again (after make run): the benchmark stage, forced.
bench-variants: $(VENV)/.installed
	dvc repro -f -s benchmark
	dvc repro report

# Do the speed figures repeat? The benchmark stage twice in fresh processes, every model's median speed-up
# compared; exit 1 when one differs by more than 10% (bench/repeat_benchmark.py; metrics/benchmark.json is put back).
bench-repeat: $(VENV)/.installed
	python -m bench.repeat_benchmark

# Free disk: embedding-cache fingerprints and DVC cache entries the current results do not use (flows/gc.py).
gc: $(VENV)/.installed
	python -m flows.gc

# Re-hash every output DVC tracks and the cache objects they use; name what is damaged, remove damaged objects
# from the cache and say what to rerun (flows/verify.py). Exit 0 when all is whole, 2 otherwise.
verify: $(VENV)/.installed
	python -m flows.verify

clean:
	rm -rf .work .prefect
