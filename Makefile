# The two front-door commands (see README):
#   make run    set up and run the app on embedded defaults (SQLite, in-memory layer)
#   make test   set up and run the whole test suite (PostgreSQL/Redis when
#               DATABASE_URL/REDIS_URL are set, as CI does)
# Each installs what it needs first, and only what changed since the last time.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: setup
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	@echo "Open http://$(HOST):$(PORT)/ and log in with an account above."
	$(PY) -m inswing_realtime.serve -e tcp:port=$(PORT):interface=$(HOST):backlog=4096 --websocket_connect_timeout 30 \
		--websocket-max-message-size 1048576 inswing_realtime.asgi:application

test: setup
	@bash scripts/ensure-chromium.sh
	$(PY) -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) bench/run.py $(if $(ARGS),$(ARGS),--workload W1,W2,W3,W4 --servers 1,2)

clean:
	rm -rf $(VENV) node_modules db.sqlite3 .test-db-*.sqlite3 staticfiles
