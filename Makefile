# Creditgate: `make run` starts the whole stack, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format histories bench chaos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/creditgate dev

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy creditgate api messages workflows activities worker tests bench migrations chaos

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

histories: install
	$(BIN)/python -m tests.record_histories

bench: install
	$(BIN)/python -m bench.ledger

chaos: install
	$(BIN)/python -m chaos

clean:
	rm -rf $(VENV) .creditgate .pytest_cache .mypy_cache .ruff_cache
