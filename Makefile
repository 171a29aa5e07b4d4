# make run   - set up from nothing and run web + Celery worker + beat (SQLite, filesystem broker)
# make test  - install test requirements and run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format messages translations vendor clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

translations: $(VENV)/.runtime
	$(PY) manage.py compiletranslations

run: $(VENV)/.runtime translations
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo_deals
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo_risk
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) bash scripts/run-dev.sh

test: $(VENV)/.dev translations
	$(PY) -m pytest $(PYTEST_ARGS)

# Style, the layers (import-linter: config -> risk -> funnel -> customers -> crm) and types (mypy).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs GNU gettext (xgettext). Extracts new strings into locale/zh_Hans/LC_MESSAGES/django.po.
messages: $(VENV)/.runtime
	$(PY) manage.py makemessages --locale zh_Hans --ignore ".venv/*" --ignore "static/vendor/*" --ignore "tests/*" --no-obsolete

# Refresh the vendored front-end files from the npm registry (versions in static/vendor/VERSIONS).
vendor:
	bash scripts/vendor.sh

clean:
	rm -rf $(VENV) var staticfiles
