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

VAR_DIR := $(or $(PACTA_VAR_DIR),var)
# What the test suite needs from Debian: qpdf (qpdf --check), poppler-utils (pdffonts,
# pdftotext, pdftoppm), chromium for the browser tests (Playwright drives it; never
# `playwright install`); WeasyPrint needs Pango and the DejaVu fonts the reports embed, and a
# CJK font (WenQuanYi Micro Hei) so responses quoted in Chinese, Japanese or Korean print as
# written rather than as empty boxes.
SYSTEM_COMMANDS := qpdf:qpdf pdffonts:poppler-utils pdftotext:poppler-utils pdftoppm:poppler-utils \
  chromium:chromium
# The DEMO signing identity (`manage.py demo_certificate`), for the served demo's worker, in
# demo mode: its final reports are marked DEMONSTRATION on every page (issue #18).
DEMO_SIGNING := PACTA_DEMO=1 PACTA_SIGNING_CERT=$(VAR_DIR)/signing/demo-signer.pem \
  PACTA_SIGNING_KEY=$(VAR_DIR)/signing/demo-signer-key.pem \
  PACTA_SIGNING_CHAIN=$(VAR_DIR)/signing/demo-root.pem \
  PACTA_SIGNING_TRUST_ROOTS=$(VAR_DIR)/signing/demo-root.pem

.PHONY: venv system-deps demo demo-stop test lint bench check-deploy clean

# The virtualenv is rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## make system-deps: install the Debian packages above, only those missing (apt as root or sudo)
system-deps:
	@need=""; \
	for pair in $(SYSTEM_COMMANDS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || need="$$need $${pair##*:}"; \
	done; \
	ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || need="$$need libpango-1.0-0 libpangoft2-1.0-0"; \
	fc-list 2>/dev/null | grep -qi 'DejaVu Sans' || need="$$need fonts-dejavu-core fonts-dejavu-extra"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || need="$$need fonts-wqy-microhei"; \
	need=$$(printf '%s\n' $$need | sort -u | tr '\n' ' '); \
	if [ -n "$${need// /}" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "system-deps: installing $$need"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$need; \
	fi

## make demo: install, migrate, seed a realistic scenario, build its signed report and production, serve the UI
demo: venv system-deps
	$(MANAGE) migrate --no-input
	$(MANAGE) demo_certificate
	$(DEMO_SIGNING) $(MANAGE) seed_demo --demo-mode --out $(DEMO_DIR) --accounts $(DEMO_ACCOUNTS) \
	  --events $(DEMO_EVENTS) --seed $(DEMO_SEED) --report
ifeq ($(DEMO_SERVE),1)
	@echo "Serving Pacta at http://$(HOST):$(PORT)/ — sign in as counsel / pacta-demo (Ctrl-C stops)."
	@set -m; \
	  export $(DEMO_SIGNING); \
	  $(VENV)/bin/celery -A casework worker --loglevel=WARNING --concurrency=1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null; $(STOP_EMBEDDED)' EXIT; \
	  trap 'exit 130' INT TERM; \
	  $(MANAGE) runserver $(HOST):$(PORT) --noreload --insecure
else
	@echo "Demo prepared (DEMO_SERVE=0: not serving)."
endif

# A killed process never detaches from the embedded PostgreSQL, which then runs on: the
# served demo stops it on its way out, and `make demo-stop` stops it at any time.
STOP_EMBEDDED := [ -n "$$DATABASE_URL" ] || $(MANAGE) stop_embedded_db

## make demo-stop: stop the embedded PostgreSQL in var/pgdata (nothing to do with DATABASE_URL set)
demo-stop:
	$(MANAGE) stop_embedded_db

## make test: the whole suite, on the embedded PostgreSQL unless DATABASE_URL is set
test: venv system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

bench: venv
	$(PY) -m tests.benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/demo var/broker

## make fuzz: schemathesis against the live API schema, with a counsel's read+write token
# A database of its own (`pacta_fuzz` in the embedded server; CI passes DATABASE_URL), a
# small generated record with detection run and a case, the dev server on a free loopback
# port, then every check schemathesis has, bounded in examples and time; any finding fails.
# One worker: hypothesis parses source in threads, which Python 3.11's ast.parse can crash on.
FUZZ_EXAMPLES ?= 20
FUZZ_SECONDS ?= 240
FUZZ_SEED ?=
FUZZ_DIR := $(or $(PACTA_VAR_DIR),var)/fuzz

define FUZZ_SETUP
from pathlib import Path
from casework.demo.fuzz import fuzz_record_ensure
fuzz_record_ensure(scenario_dir=Path("$(FUZZ_DIR)") / "scenario")
endef
export FUZZ_SETUP

# Requests the schema cannot tell are refused by the database's state (an unknown account or
# clause, a case window that ends before it starts): for these, a 400 is the right answer.
define FUZZ_CONFIG
[[operations]]
include-method = "POST"
include-path-regex = "^/api/v1/cases/(\\{reference\\}/(accounts|allegations)/)?$$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
endef
export FUZZ_CONFIG

.PHONY: fuzz
fuzz: venv
	@set -euo pipefail; \
	export PACTA_DATABASE_NAME=pacta_fuzz PACTA_API_TOKEN_RATE=100000/min; \
	mkdir -p $(FUZZ_DIR); \
	$(MANAGE) migrate --no-input >/dev/null; \
	$(MANAGE) shell --no-imports -c "$$FUZZ_SETUP"; \
	token=$$($(MANAGE) issue_token fuzz-counsel --scope read --scope write --days 1 --name fuzz \
	  --json | $(PY) -c 'import json, sys; print(json.load(sys.stdin)["token"])'); \
	port=$$($(PY) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(MANAGE) runserver 127.0.0.1:$$port --noreload >$(FUZZ_DIR)/server.log 2>&1 & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null || true' EXIT INT TERM; \
	up=0; for _ in $$(seq 120); do \
	  if $(PY) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
	    "http://127.0.0.1:$$port/healthz" 2>/dev/null; then up=1; break; fi; sleep 0.5; \
	done; \
	[ $$up = 1 ] || { echo "fuzz: the server did not start, see $(FUZZ_DIR)/server.log" >&2; exit 1; }; \
	printf '%s\n' "$$FUZZ_CONFIG" >$(FUZZ_DIR)/schemathesis.toml; \
	echo "fuzz: schemathesis against http://127.0.0.1:$$port/api/schema/ (server log: $(FUZZ_DIR)/server.log)"; \
	cd $(FUZZ_DIR) && $(CURDIR)/$(VENV)/bin/schemathesis --config-file schemathesis.toml run \
	  "http://127.0.0.1:$$port/api/schema/" -H "Authorization: Bearer $$token" \
	  --checks all --max-examples $(FUZZ_EXAMPLES) --max-time $(FUZZ_SECONDS) --workers 1 \
	  --request-timeout 30 --no-color $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))
