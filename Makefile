# The two commands of the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
HOST ?= localhost

.PHONY: run test lint check-generated system-deps js-deps js-client react-example web web-deps web-check bench docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -c "import ensurepip, venv" 2>/dev/null || sh scripts/install-system-deps.sh venv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[chat,crypto,redis]"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev,chat,crypto,redis,mcp,otel]"
	touch $@

## run: serve the weather example agent on ws://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(PY) -m myagent.cli.server server examples/weather_agent.py --host $(HOST) --port $(PORT)

## test: install dev and system dependencies, then ruff, mypy and the whole pytest suite
test: $(VENV)/.dev-installed system-deps js-deps js-client react-example web-check
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

system-deps:
	sh scripts/install-system-deps.sh

js-deps: tests/js/node_modules/.package-lock.json

tests/js/node_modules/.package-lock.json: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund

# @myagent/client (clients/js): its pinned dev tools, then its build (dist/: ESM, CJS and .d.ts).
JS_CLIENT := clients/js
JS_CLIENT_SOURCES := $(wildcard $(JS_CLIENT)/src/*.ts $(JS_CLIENT)/src/*/*.ts $(JS_CLIENT)/src/*/*.tsx) $(JS_CLIENT)/tsup.config.ts

js-client: $(JS_CLIENT)/dist/index.js

$(JS_CLIENT)/node_modules/.package-lock.json: $(JS_CLIENT)/package.json $(JS_CLIENT)/package-lock.json
	npm ci --prefix $(JS_CLIENT) --no-audit --no-fund

$(JS_CLIENT)/dist/index.js: $(JS_CLIENT)/node_modules/.package-lock.json $(JS_CLIENT_SOURCES)
	npm run build --prefix $(JS_CLIENT)

# The React example (examples/react): Vite build on @myagent/client/react, driven in Chromium by
# tests/browser/test_react_example.py. Its @myagent/client is a file: link to clients/js (built above).
REACT_EXAMPLE := examples/react

react-example: $(REACT_EXAMPLE)/dist/index.html

$(REACT_EXAMPLE)/node_modules/.package-lock.json: $(REACT_EXAMPLE)/package.json $(REACT_EXAMPLE)/package-lock.json
	npm ci --prefix $(REACT_EXAMPLE) --no-audit --no-fund

$(REACT_EXAMPLE)/dist/index.html: $(REACT_EXAMPLE)/node_modules/.package-lock.json $(JS_CLIENT)/dist/index.js $(wildcard $(REACT_EXAMPLE)/src/*) $(REACT_EXAMPLE)/index.html $(REACT_EXAMPLE)/vite.config.ts
	npm run build --prefix $(REACT_EXAMPLE)

# The web console's build-time npm packages (ECharts to vendor, TypeScript to check clients/typescript).
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund

## web: copy the console's vendored files into src/myagent/ui/static/vendor: ECharts from web/node_modules,
## the browser build of @myagent/client (the console's protocol layer) from clients/js/dist
web: web-deps js-client
	node web/vendor.mjs

## web-check: the vendored files are exactly what web/package-lock.json and a fresh clients/js build give
web-check: web-deps js-client
	node web/vendor.mjs --check

## docs: regenerate docs/protocol.md, schema/events.schema.json and the TypeScript types from the event catalog
docs: $(VENV)/.installed
	$(PY) -m myagent.protocol.render

bench: $(VENV)/.dev-installed
	$(PY) bench/load.py
	$(PY) bench/idle_sessions.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/js/node_modules web/node_modules $(JS_CLIENT)/node_modules $(JS_CLIENT)/dist $(REACT_EXAMPLE)/node_modules $(REACT_EXAMPLE)/dist
