# perron — the two front doors: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.perron-installed
DEMO_DB ?= demo/perron-demo.db

.PHONY: setup demo test lint bench train eval clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "perron needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	@bash scripts/demo.sh $(DEMO_DB)

test: setup
	@bash scripts/ensure-test-deps.sh
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check perron tests bench train eval

bench: setup
	@bash scripts/ensure-test-deps.sh
	$(PY) bench/run_all.py

train: setup
	$(PY) train/train_models.py
	$(PY) train/train_audit.py

eval: setup
	$(PY) eval/eval_spikes.py

clean:
	rm -rf $(VENV) demo/perron-demo.db* .pytest_cache
