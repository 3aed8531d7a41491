# Pacta — the two commands: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
DEMO_SERVE ?= 1
DEMO_DIR ?= var/demo
DEMO_ACCOUNTS ?= 2000
DEMO_EVENTS ?= 120000
DEMO_SEED ?= 7
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: venv demo test lint bench check-deploy clean

# The virtualenv is rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make demo: install, migrate, seed a realistic scenario and serve the UI at 127.0.0.1:8000
demo: venv
	$(MANAGE) migrate --no-input
	$(MANAGE) seed_demo --out $(DEMO_DIR) --accounts $(DEMO_ACCOUNTS) --events $(DEMO_EVENTS) --seed $(DEMO_SEED)
ifeq ($(DEMO_SERVE),1)
	@echo "Serving Pacta at http://$(HOST):$(PORT)/ — sign in as counsel / pacta-demo (Ctrl-C stops)."
	@set -m; \
	  $(VENV)/bin/celery -A casework worker --loglevel=WARNING --concurrency=1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	  $(MANAGE) runserver $(HOST):$(PORT) --noreload --insecure
else
	@echo "Demo prepared (DEMO_SERVE=0: not serving)."
endif

## make test: the whole suite, on the embedded PostgreSQL unless DATABASE_URL is set
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

bench: venv
	$(PY) -m tests.benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/demo var/broker
