# `make run` and `make test` bootstrap what they need (a .venv from the lock), then run.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced

# The web console's front-end (services/web/build_assets.py): `npm ci` when the lock changes,
# then content-hashed copies in services/web/static/dist/ when a source changes.
NODE_STAMP := node_modules/.installed
WEB_DIST := services/web/static/dist/manifest.json
WEB_SOURCES := $(wildcard services/web/static/src/*) services/web/build_assets.py

.PHONY: run test lint audit format bench clean web

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Re-sync whenever the lock or the project metadata changes.
$(STAMP): $(UV) uv.lock pyproject.toml
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --all-extras --inexact --python $(VENV)/bin/python
	touch $(STAMP)

$(NODE_STAMP): $(STAMP) package.json package-lock.json
	$(VENV)/bin/python -m services.web.build_assets --npm-only
	touch $(NODE_STAMP)

$(WEB_DIST): $(NODE_STAMP) $(WEB_SOURCES)
	$(VENV)/bin/python -m services.web.build_assets --no-npm

web: $(WEB_DIST)

run: $(STAMP) $(WEB_DIST)
	$(VENV)/bin/jetdeck up

# The suite mostly waits on servers, so two pytest-xdist workers (one test file each at a
# time) halve its wall time even on 2 cores. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: $(STAMP) $(WEB_DIST)
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) audit
	$(VENV)/bin/ruff check shared services tests bench
	$(VENV)/bin/ruff format --check shared services tests bench
	$(VENV)/bin/mypy

# Known vulnerabilities in the locked dependencies (every extra), from PyPI's advisory data.
# PIP_AUDIT_FLAGS=--strict also fails when a dependency could not be looked up.
PIP_AUDIT_FLAGS ?=
audit: $(STAMP)
	$(UV) export --frozen --all-extras --no-emit-project --format requirements-txt --quiet \
		-o $(VENV)/audit-requirements.txt
	$(VENV)/bin/pip-audit -r $(VENV)/audit-requirements.txt --disable-pip \
		--progress-spinner off $(PIP_AUDIT_FLAGS)

format: $(STAMP)
	$(VENV)/bin/ruff format shared services tests bench
	$(VENV)/bin/ruff check --fix shared services tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules services/web/static/dist
