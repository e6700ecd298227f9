# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
DATA_DIR ?= ../shared/datasets
DEMO_OUT ?= demo-output
BENCH_OUT ?= bench-output

.PHONY: demo test bench lint format typecheck install install-dev clean help

help:
	@echo "make demo   - set up .venv and run the main job on the built-in simulated plant"
	@echo "make test   - set up .venv with dev extras and run the whole test suite"
	@echo "make bench  - run the benchmarks (simulator, windows, public datasets when present)"
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
	$(BIN)/omnimaint demo --out $(DEMO_OUT)

test: install-dev
	$(BIN)/python -m pytest -q

bench: install-dev
	$(BIN)/python -m pytest -q -m bench tests/bench -p no:cacheprovider -s --override-ini="addopts=-ra" --data-dir $(DATA_DIR) --bench-out $(BENCH_OUT)
	@echo "public-dataset results: $(BENCH_OUT)/results.md (a JSON record per run beside it; datasets in $(BENCH_OUT)/datasets)"

lint: install-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(DEMO_OUT) $(BENCH_OUT) .pytest_cache .mypy_cache .ruff_cache
