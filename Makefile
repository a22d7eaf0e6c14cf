# make install  -> .venv/ with the project and its dev tools
# make demo     -> offline replica + crawl of every seed portal + per-site summary
# make test     -> the whole test suite (unit + end-to-end against the replica)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m crawler demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/dedup.py --sizes 10000 100000
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) output/*/ state/ .pytest_cache .mypy_cache .ruff_cache
