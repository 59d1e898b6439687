# The two front-door commands (see README):
#   make run    set up and run the app on embedded defaults (the embedded PostgreSQL in
#               .pgdata/, started and stopped with it; the in-memory layer)
#   make test   set up and run the whole test suite, in TEST_PROCESSES processes (on the
#               embedded PostgreSQL too, which the tests start themselves; on the servers
#               DATABASE_URL/REDIS_URL name when set, as CI does)
#   make cluster  the production topology on this machine, in the foreground: nginx on
#               CLUSTER_PORT in front of CLUSTER_PROCESSES app processes (README)
# Each installs what it needs first, and only what changed since the last time.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
CLUSTER_PORT ?= 8080
CLUSTER_PROCESSES ?= 2
# `make test` runs the suite in this many processes (pytest-xdist); 0: in this one. Two
# on a 2-core machine: with four, timing-bound browser and fault tests starved for CPU
# failed now and then.
TEST_PROCESSES ?= 2

# With no DATABASE_URL, a command runs with the embedded PostgreSQL (inswing_realtime/
# embedded_db.py): started before it, DATABASE_URL set for it, stopped when it ends.
WITH_DB := $(if $(DATABASE_URL),,$(PY) -m inswing_realtime.embedded_db --)

.PHONY: setup run serve cluster test lint bench clean clean-db

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
	@$(WITH_DB) $(MAKE) --no-print-directory serve

# `make run` on the database DATABASE_URL names (run sets it).
serve:
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	@echo "Open http://$(HOST):$(PORT)/ and log in with an account above."
	$(PY) -m inswing_realtime.serve -e tcp:port=$(PORT):interface=$(HOST):backlog=4096 --websocket_connect_timeout 30 \
		inswing_realtime.asgi:application

# nginx on CLUSTER_PORT, the app processes on the ports after it; DATABASE_URL and REDIS_URL
# unset: the embedded PostgreSQL and a redis-server of its own (inswing_realtime/cluster.py).
cluster: setup
	@bash scripts/ensure-nginx.sh
	@bash scripts/ensure-coturn.sh
	$(PY) -m inswing_realtime.cluster --port $(CLUSTER_PORT) --processes $(CLUSTER_PROCESSES) \
		--host $(HOST) --seed

test: setup
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-nginx.sh
	@bash scripts/ensure-coturn.sh
	$(PY) -m pytest -n $(TEST_PROCESSES) $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(WITH_DB) $(PY) bench/run.py $(if $(ARGS),$(ARGS),--workload W1,W2,W3,W4 --servers 1,2)

# Removes the embedded PostgreSQL's data (refused while it runs); the next run starts anew.
clean-db:
	@if test -x $(PY); then $(PY) -m inswing_realtime.embedded_db --reset; else rm -rf .pgdata; fi

clean: clean-db
	rm -rf $(VENV) node_modules staticfiles
