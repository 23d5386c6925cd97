# evalkit — every target that needs Python depends on `setup`, so any target
# works as the first command on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVALKIT := $(BIN)/evalkit
PROTOCOLS ?= protocols/demo.yaml $(sort $(wildcard protocols/examples/*.yaml))
LANGS ?= nl en
# Same inputs, same bytes: pyfixest orders fixed effects by iterating a set of their
# names, so the order of its alternating projections (and results at the 1e-6 level)
# would follow Python's per-process string-hash seed. Fix the seed for every target.
export PYTHONHASHSEED := 0

.PHONY: setup report monitor test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# Byte-compile the venv once: where PYTHONDONTWRITEBYTECODE is set (as on this
	@# machine) pip writes no .pyc, and every process and report kernel would then
	@# compile pandas, scipy, pyfixest and matplotlib from source again (seconds each).
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $(STAMP)

report: setup
	$(EVALKIT) run $(PROTOCOLS) --lang $(LANGS)

monitor: setup
	$(EVALKIT) run $(PROTOCOLS) --lang $(LANGS) --documents monitor

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check evalkit tests
	$(BIN)/ruff format --check evalkit
	$(BIN)/mypy evalkit

bench: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf build data/raw/demo data/raw/examples .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
