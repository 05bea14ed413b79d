# radimpress: `make demo` runs the whole capstone DAG locally; `make test` runs the tests.
SHELL := /bin/bash
export RADIMPRESS_DATA_DIR ?= $(CURDIR)/data

.PHONY: install lock up down demo test lint

install:  ## create .venv and install requirements.lock (re-runs only when it or pyproject.toml changes)
	@scripts/install.sh

lock:  ## re-resolve pyproject.toml + requirements.in into requirements.lock (after changing a dependency)
	@scripts/install.sh lock

up: install  ## start Prefect server, MLflow server, worker; create pool, GPU limit, deployment
	@scripts/services.sh up

down:  ## stop the services `make up` started
	@scripts/services.sh down

demo: install  ## services up, run capstone/full on the smoke profile, print the comparison
	@scripts/demo.sh

test: install  ## unit, stage and full-flow tests (real Prefect server and worker, real MLflow)
	@.venv/bin/python -m pytest

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .
