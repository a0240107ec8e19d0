# newsflow: `make run` starts everything and shows a search; `make test` runs every test.
# Both set themselves up on a fresh machine: virtualenv, dependencies, services.

VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
NEWSFLOW := $(VENV)/bin/newsflow
STAMP    := $(VENV)/.installed

.PHONY: run test unit integration lint status down install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## run: start the stack and the workers, publish the seeds, wait, show a faceted search
run: install
	$(NEWSFLOW) stack up
	$(NEWSFLOW) publish --seeds --wait
	$(NEWSFLOW) search "*"

## test: lint, unit tests, then integration tests against the real local services
test: install
	$(NEWSFLOW) stack up --no-workers
	$(PY) -m pytest
	$(MAKE) lint

unit: install
	$(PY) -m pytest tests/unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

status: install
	$(NEWSFLOW) stack status

down: install
	$(NEWSFLOW) stack down

clean: down
	rm -rf .stack
