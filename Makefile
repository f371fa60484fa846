# `make run` and `make test` bootstrap what they need (a .venv from the lock), then run.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced

.PHONY: run test lint format bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Re-sync whenever the lock or the project metadata changes.
$(STAMP): $(UV) uv.lock pyproject.toml
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --all-extras --inexact --python $(VENV)/bin/python
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/jetdeck up

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check shared services tests bench
	$(VENV)/bin/ruff format --check shared services tests bench
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format shared services tests bench
	$(VENV)/bin/ruff check --fix shared services tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
