# make install  -> .venv/ with the project and its dev tools, exact versions from requirements.lock
# make lock     -> requirements.lock re-resolved from pyproject.toml (newest allowed versions)
# make demo     -> offline replica + crawl of every seed portal + per-site summary
# make test     -> the whole test suite (unit + end-to-end against the replica)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock

.PHONY: install lock demo test lint bench clean

install: $(STAMP)

# Every dependency at the exact version and hash in the lock, then the project itself.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve the lock (after a change of pyproject.toml's dependencies, or to upgrade).
# `make lock LOCK_FLAGS=` keeps every existing pin and only adds what is new.
LOCK_FLAGS ?= --upgrade
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--generate-hashes $(LOCK_FLAGS) --quiet -o $(LOCK)

demo: install
	$(BIN)/python -m crawler demo

# Debian packages the tests' local servers need, installed where missing (tests/tools/ensure_debs.sh).
TEST_DEBS := redis-server chromium jq

test: install
	bash tests/tools/ensure_debs.sh $(TEST_DEBS)
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
	$(BIN)/python bench/redis.py

clean:
	rm -rf $(VENV) output/*/ state/ .pytest_cache .mypy_cache .ruff_cache
