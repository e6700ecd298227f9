# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
DATA_DIR ?= ../shared/datasets
DEMO_OUT ?= demo-output
BENCH_OUT ?= bench-output

EXPERIMENTS_OUT ?= experiments-output

.PHONY: demo test test-e2e bench experiments lint format install install-dev clean help

help:
	@echo "make demo   - set up .venv and run the main job on the built-in simulated plant"
	@echo "make test   - set up .venv with dev extras and run the whole test suite (but the end-to-end runs)"
	@echo "make test-e2e - the long end-to-end runs of real processes: killed server, fuzzing, workers, demo, browser"
	@echo "make bench  - run the benchmarks (simulator, windows, public datasets when present)"
	@echo "make experiments - the simulated-plant experiments behind docs/benchmarks.md (under an hour on 2 idle cores; resumable)"
	@echo "make lint   - ruff lint + format check + mypy"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build, so that no dependency resolves to a multi-GB CUDA wheel.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[all]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/omnimaint demo --out $(DEMO_OUT) --overwrite

test: install-dev
	$(BIN)/python -m pytest -q

# Minutes each: real servers killed and restarted, fuzzing, two workers, the demo, the dashboard in a browser.
test-e2e: install-dev
	$(BIN)/python -m pytest -q -m e2e

bench: install-dev
	$(BIN)/python -m pytest -q -m bench tests/bench -p no:cacheprovider -s --override-ini="addopts=-ra" --data-dir $(DATA_DIR) --bench-out $(BENCH_OUT)
	@echo "public-dataset results: $(BENCH_OUT)/results.md (a JSON record per run beside it; datasets in $(BENCH_OUT)/datasets)"

# The simulated-plant experiments of docs/benchmarks.md: modality ablation and label efficiency.
experiments: install-dev
	$(BIN)/omnimaint simulate --assets 30 --days 90 --seed 11 --fault-rate-scale 3 --out $(EXPERIMENTS_OUT)/plant --overwrite
	$(BIN)/omnimaint experiment ablation $(EXPERIMENTS_OUT)/plant --out $(EXPERIMENTS_OUT)/ablation --config configs/sim-experiment.yaml --split-seeds 0,1,2
	$(BIN)/omnimaint experiment label-efficiency $(EXPERIMENTS_OUT)/plant --out $(EXPERIMENTS_OUT)/label-efficiency --config configs/sim-experiment.yaml --fraction 0.1 --seeds 0,1,2 --split-seeds 0,1,2 --finetune-epochs 20

lint: install-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(DEMO_OUT) $(BENCH_OUT) $(EXPERIMENTS_OUT) .pytest_cache .mypy_cache .ruff_cache
