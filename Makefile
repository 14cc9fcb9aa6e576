# The quick start: `make demo` runs the whole login on this machine, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_PORT ?= 9000
NODE_RP := tests/interop/node
SPA := tests/browser/spa

APPS_VENVS ?= .venv-apps
APPS_DIR := tests/apps

.PHONY: install browser interop apache redis apps demo test serve bench bench-micro profile soak lint clean spa

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/wecom-oidc demo --port $(DEMO_PORT)

serve: $(STAMP)
	$(BIN)/wecom-oidc serve

test: $(STAMP) browser interop spa redis apps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive the distribution's Chromium (never a browser build downloaded
# by a test tool). Installed here when missing and we may; otherwise those tests skip
# outside CI and fail in CI.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-wqy-zenhei >/dev/null \
	      || echo "could not install chromium: browser tests will skip (and fail in CI)"; \
	  else \
	    echo "chromium not found and cannot be installed here: browser tests will skip"; \
	  fi; }

# Independent relying parties for tests/interop: panva's openid-client (npm, every package
# pinned with its integrity by tests/interop/node/package-lock.json) and Apache httpd with
# mod_auth_openidc (Debian's packages). Installed when missing and we may; otherwise those
# tests skip outside CI and fail in CI.
interop: $(NODE_RP)/node_modules/.package-lock.json apache

$(NODE_RP)/node_modules/.package-lock.json: $(NODE_RP)/package.json $(NODE_RP)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix $(NODE_RP) --no-audit --no-fund --loglevel=error \
	    || echo "npm ci failed: the openid-client tests will skip (and fail in CI)"; \
	else \
	  echo "npm not found: the openid-client tests will skip (and fail in CI)"; \
	fi

# The single-page app of tests/browser/test_browser_spa.py: oidc-client-ts from npm, every
# package pinned with its integrity by tests/browser/spa/package-lock.json.
spa: $(SPA)/node_modules/.package-lock.json

$(SPA)/node_modules/.package-lock.json: $(SPA)/package.json $(SPA)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix $(SPA) --no-audit --no-fund --loglevel=error \
	    || echo "npm ci failed: the single-page app test will skip (and fail in CI)"; \
	else \
	  echo "npm not found: the single-page app test will skip (and fail in CI)"; \
	fi

apache:
	@if ! { command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ]; } \
	    || [ ! -f /usr/lib/apache2/modules/mod_auth_openidc.so ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing apache2 and mod_auth_openidc for the interop tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      apache2 libapache2-mod-auth-openidc >/dev/null \
	      || echo "could not install apache2: the mod_auth_openidc tests will skip (and fail in CI)"; \
	  else \
	    echo "apache2 + mod_auth_openidc not found and cannot be installed here: those tests will skip"; \
	  fi; \
	fi

# Real apps logging in through the bridge (tests/apps): JupyterHub + oauthenticator and
# Matrix Synapse, each from PyPI into a venv of its own (their pins never meet ours), and
# JupyterHub's proxy from npm. Installed once: the stamps follow the requirement files.
apps: $(APPS_VENVS)/jupyterhub/.installed $(APPS_VENVS)/synapse/.installed \
	$(APPS_DIR)/node/node_modules/.package-lock.json

$(APPS_VENVS)/%/.installed: $(APPS_DIR)/%-requirements.txt
	@echo "installing $* for the app tests (once)"
	@$(PYTHON) -m venv $(APPS_VENVS)/$* && \
	  $(APPS_VENVS)/$*/bin/pip install --quiet --disable-pip-version-check \
	    -r $(APPS_DIR)/$*-requirements.txt && touch $@ \
	  || echo "could not install $*: its app tests will skip (and fail in CI)"

$(APPS_DIR)/node/node_modules/.package-lock.json: $(APPS_DIR)/node/package.json $(APPS_DIR)/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix $(APPS_DIR)/node --no-audit --no-fund --loglevel=error \
	    || echo "npm ci failed: the JupyterHub tests will skip (and fail in CI)"; \
	else \
	  echo "npm not found: the JupyterHub tests will skip (and fail in CI)"; \
	fi

# Store and replica tests talk to a real Redis ($$REDIS_URL, default the local server on
# 6379). Start one when none answers; install it first when missing and we may.
redis:
	@if [ -z "$$REDIS_URL" ] && ! $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null; then \
	  if ! command -v redis-server >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
	      && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      redis-server >/dev/null || true; \
	  fi; \
	  if command -v redis-server >/dev/null 2>&1; then \
	    echo "starting a local redis-server on 127.0.0.1:6379 for the tests"; \
	    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	      >/dev/null; sleep 0.5; \
	  else \
	    echo "no Redis and none can be installed: Redis tests will skip (and fail in CI)"; \
	  fi; \
	fi

# The property-based tests of every endpoint (tests/fuzz) run long: FUZZ_EXAMPLES
# generated requests per endpoint (1000 by default) from fresh random seeds, failures
# kept in .hypothesis/ and replayed first next time. Prints the requests per endpoint.
# (make test runs the same suite short and derandomized.)
fuzz: $(STAMP)
	FUZZ_PROFILE=long $(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS)

# The load benchmark (benchmarks/README.md): `wecom-oidc serve` + the WeCom emulator under
# a load driver, both stores, a table of figures and targets. Under 10 minutes.
bench: $(STAMP) redis
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The fault soak (docs/operations.md): 2 replicas on a Redis of its own + 1 on SQLite, the
# emulator's fault schedule, virtual users; prints the table, exits 1 if a target is missed.
SOAK_ARGS ?= --duration 180 --users 16
soak: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m soak.soak $(SOAK_ARGS)

# Where a login's CPU goes, in process: per endpoint and per request hook
# (PROFILE_ARGS="--top 25" adds the costliest functions). Profile before optimising.
profile: $(STAMP)
	$(BIN)/python benchmarks/profile_login.py $(PROFILE_ARGS)

# In-process CPU per login (no HTTP, pytest-benchmark): for profiling one code path.
bench-micro: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-timer=time.process_time \
		-o testpaths=benchmarks $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check wecom_oidc tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(APPS_VENVS) .pytest_cache build *.egg-info
