# newsflow: `make run` starts everything and shows a search; `make test` runs every test.
# Both set themselves up on a fresh machine: virtualenv, dependencies, services.

VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
NEWSFLOW := $(VENV)/bin/newsflow
STAMP    := $(VENV)/.installed
LOCK     := requirements.lock

# The shared data (the seed article's text, the corpora) sits beside the checkout, ../shared.
# A clone made elsewhere (a temp folder) finds it beside the repository it was cloned from.
ifeq ($(NEWSFLOW_SHARED_DIR),)
_SHARED := $(shell if [ -d ../shared ]; then cd ../shared && pwd; \
	else o=$$(git remote get-url origin 2>/dev/null); \
	[ -d "$$o/../shared" ] && cd "$$o/../shared" && pwd; fi)
ifneq ($(_SHARED),)
export NEWSFLOW_SHARED_DIR := $(_SHARED)
endif
endif

.PHONY: run deploy test unit faults cluster ner-models stories-model lint check-layers check-chart status down install clean audit-deps lock

# Dependencies come from the lock file only, each checked against its SHA-256 (--require-hashes);
# then the project itself, without dependencies.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r $(LOCK)
	$(VENV)/bin/pip install --quiet --no-deps -e ".[dev]"
	touch $(STAMP)

## lock: regenerate requirements.lock (with hashes) after changing pyproject.toml's dependencies
# (uv keeps the versions already in the lock where they still fit.)
lock:
	$(VENV)/bin/uv pip compile --quiet pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 -o $(LOCK)

## audit-deps: pip-audit on the lock; fails on known vulnerabilities not in pip-audit-exceptions.txt
# (Fails too when the vulnerability data cannot be fetched; `make test` passes
# --allow-unreachable, which then prints "AUDIT NOT DONE" instead of failing.)
audit-deps: install
	$(PY) scripts/audit_deps.py $(AUDIT_FLAGS)

install: $(STAMP)

## ner-models: retrain the Dutch and Italian NER models of the entities stage into
## workers/data/ner from the training splits in ../shared (scripts/train_ner.py; about N min)
ner-models: install
	$(PY) scripts/train_ner.py nl it

## stories-model: refit the stories similarity (workers/data/stories/similarity.json) on the
## rated pairs in ../shared by cross-validation, and print its scores (scripts/fit_stories.py)
stories-model: install
	$(PY) scripts/fit_stories.py

## run: start the stack, deploy the stage workers on Prefect, publish the seeds, wait, search
run: deploy
	$(NEWSFLOW) publish --seeds --wait
	$(NEWSFLOW) search "*"

## deploy: the stack, then every deployment on the Prefect work pool (and host 1's Prefect
## worker), one flow run per stage
deploy: install
	$(NEWSFLOW) stack up --no-workers
	$(NEWSFLOW) deploy

## test: unit and integration tests against the real local services (the fault-injection
## suite included, on a stack of its own, with FAULTS_ARTICLES articles per scenario; the
## cluster suite on three hosts of its own, CLUSTER_ARTICLES per scenario), lint (ruff, mypy,
## the layer check), and the dependency audit. `make faults` and `make cluster` run those alone.
FAULTS_ARTICLES ?= 2000
CLUSTER_ARTICLES ?= 3000
test: install
	$(NEWSFLOW) stack up --no-workers
	NEWSFLOW_FAULTS_ARTICLES=$(FAULTS_ARTICLES) NEWSFLOW_CLUSTER_ARTICLES=$(CLUSTER_ARTICLES) \
		$(PY) -m pytest
	$(MAKE) lint
	$(MAKE) audit-deps AUDIT_FLAGS=--allow-unreachable

unit: install
	$(PY) -m pytest tests/unit

faults: install
	NEWSFLOW_FAULTS_ARTICLES=2000 $(PY) -m pytest -m faults tests/integration/faults

## cluster: host loss and return, rolling restart, ES master and Kafka controller loss, on three
## local hosts of the suite's own (ports 29092.., 29200..; .stack-cluster/), printing recovery times
cluster: install
	NEWSFLOW_CLUSTER_ARTICLES=$(CLUSTER_ARTICLES) $(PY) -m pytest -s -m cluster tests/integration/cluster

lint: install check-layers
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## check-chart: render deploy/helm/newsflow with the pinned Helm and check every object against
## the Kubernetes schemas and its operator's CRD (offline; tools cached in .stack/tools/). The
## unit tests (tests/unit/deploy) run the same check, so `make test` does too.
check-chart: install
	$(PY) scripts/check_chart.py

## check-layers: fail on an upward import (newsflow -> flows -> workers -> schemas, never back)
check-layers:
	$(PYTHON) scripts/check_layers.py

status: install
	$(NEWSFLOW) stack status

down: install
	$(NEWSFLOW) stack down

# clean: stop everything and delete the stack's downloads, data and logs
clean: install
	$(NEWSFLOW) stack clean
	rm -rf .stack
