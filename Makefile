# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest clean

install: $(STAMP)

# pip takes torch==2.14.1 / torchvision==0.29.1 from the local wheel cache; both are pinned.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m client_trainer demo

pytest: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

test: pytest lint typecheck

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
