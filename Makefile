# The quick start: `make demo` runs the whole login on this machine, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_PORT ?= 9000

.PHONY: install browser demo test serve bench lint clean

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

test: $(STAMP) browser
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

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-timer=time.process_time \
		-o testpaths=benchmarks $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check wecom_oidc tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
