# evalkit — every target that needs Python depends on `setup`, so any target
# works as the first command on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVALKIT := $(BIN)/evalkit
PROTOCOLS ?= protocols/demo.yaml $(sort $(wildcard protocols/examples/*.yaml))
LANGS ?= nl en
# Same inputs, same bytes. Bundles and reports no longer depend on the string-hash
# seed (the TWFE fits absorb one factor, see evalkit/did/regression.py; checked with
# seeds 1 and 6); the seed stays fixed so that no future set ordering can creep in.
export PYTHONHASHSEED := 0
# Let Python cache compiled modules (__pycache__, git-ignored) even where the machine
# sets PYTHONDONTWRITEBYTECODE: otherwise every `make report` compiles evalkit in the
# main process, each analysis worker and each report kernel again.
unexport PYTHONDONTWRITEBYTECODE

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
