# isaclearn: `make demo` runs the main job, `make test` runs the checks and tests.
# Both create .venv on first use: torch==2.13.0 first (the local CPU wheel), then the package.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,onnx,distributed

.PHONY: demo test test-slow lint typecheck clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The front door: trains the structured temiz_unsup network (rho = 1 and 0.5, <= 35 s each) and
# scores it beside MRT, ZF, MMSE, WMMSE, the SDR boundary and the DPC bound (about 2 minutes).
demo: $(STAMP)
	rm -rf runs/demo
	OMP_NUM_THREADS=1 $(BIN)/isaclearn run temiz_unsup.demo --profile quick --out runs/demo

lint: $(STAMP)
	$(BIN)/ruff check src tests tools

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
