# The README's two commands: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
DB     ?= var/socialwork.db
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

export SOCIALWORK_DB := $(abspath $(DB))

.PHONY: run mcp test build install clean load rebuild-under-load failover slow-query fuzz-deep cache-check bench bench-cache bench-mcp

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

# Swagger UI (served from here, never fetched at run time) and the test-time JavaScript tools, pinned by package-lock.json.
# No install scripts: the lock's only one is @scarf/scarf's telemetry postinstall (swagger-ui-dist depends on it), and
# SCARF_ANALYTICS=false in case a later npm runs it anyway (tests/system/test_supply_chain.py).
$(NODE_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "make: installing Node.js and npm (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; fi
	@command -v npm >/dev/null || { echo "make: npm is missing: install Node.js 18+ (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Rebuilt when anything in data/, seeds/ or the build code is newer than the database.
# The build's code is api/build/ and api/dataset/ (it imports nothing else: tests/test_layout.py).
$(DB): $(STAMP) $(shell find data seeds api/build api/dataset -type f -not -name '*.pyc' 2>/dev/null)
	$(BIN)/python -m api.build --db $(DB)

build: $(DB)

run: $(DB) $(NODE_STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py "api.app:create_app()"

# The MCP server over stdio, for a desktop assistant (README "For AI assistants"). Its stdout is the protocol: the
# set-up's output goes to stderr, and `make -s --no-print-directory -C <repo> mcp` keeps make's own lines off it too.
mcp:
	@$(MAKE) -s --no-print-directory build >&2
	@exec $(BIN)/python -m api.agents

test: $(DB) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Operations (README "Operations"): each script is bounded, talks to 127.0.0.0/8 only and prints its figures.
load: $(DB)
	$(BIN)/python -m ops.load

rebuild-under-load: $(DB)
	$(BIN)/python -m ops.rebuild_under_load

failover: $(DB)
	$(BIN)/python -m ops.failover

slow-query: $(DB)
	$(BIN)/python -m ops.slow_query

fuzz-deep: $(DB)
	$(BIN)/python -m ops.fuzz_deep

# The cache tier (deploy/nginx.conf): builds its own database from a copy of data/, so only the venv is needed.
cache-check: $(STAMP)
	$(BIN)/python -m ops.cache_check

# Performance (docs/PERFORMANCE.md).
bench: $(DB)
	$(BIN)/python -m bench.run --db $(DB)

bench-cache: $(DB)
	$(BIN)/python -m bench.cache --db $(DB)

bench-mcp: $(DB)
	$(BIN)/python -m bench.mcp --db $(DB)

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
