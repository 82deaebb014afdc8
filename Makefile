# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_CUSTOMERS ?= 100000
DEMO_PORT ?= 8000

WEB_STAMP := web/node_modules/.installed
WEB_BUILD := src/overture/server/static/index.html

.PHONY: install demo test test-spark bench lint constraints clean web browser jdbc

install: $(STAMP) $(WEB_BUILD) browser jdbc

# The browser tests (tests/web) and bench/canvas.py drive Debian's chromium through
# Playwright's Python package (never `playwright install`, which downloads its own).
# Installed with apt-get when missing and we are root; otherwise one line says how,
# and those tests are listed as NOT RUN at the end of `make test`.
CHROMIUM := /usr/bin/chromium
CHROMIUM_APT := apt-get install -y --no-install-recommends chromium chromium-driver

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium for the browser tests: $(CHROMIUM_APT)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(CHROMIUM_APT) >/dev/null || { apt-get update -q >/dev/null && $(CHROMIUM_APT) >/dev/null; } \
	  || echo "NOTE: installing chromium failed: the browser tests (tests/web) and bench/canvas.py" \
	          "will not run; install it with: $(CHROMIUM_APT)"; \
	else \
	  echo "NOTE: $(CHROMIUM) is missing: the browser tests (tests/web) and bench/canvas.py will not run;" \
	       "install it with: sudo $(CHROMIUM_APT)"; \
	fi

# The Spark data plane reads the message log from PostgreSQL through Debian's JDBC driver
# (libpostgresql-jdbc-java, 1 MB); installed like chromium above. PySpark itself is the
# `spark` extra, installed with the rest (docs/decisions.md says why).
JDBC_JAR := /usr/share/java/postgresql.jar
JDBC_APT := apt-get install -y --no-install-recommends libpostgresql-jdbc-java

jdbc:
	@if [ -f $(JDBC_JAR) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing the PostgreSQL JDBC driver for the Spark tests: $(JDBC_APT)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(JDBC_APT) >/dev/null || { apt-get update -q >/dev/null && $(JDBC_APT) >/dev/null; } \
	  || echo "NOTE: installing libpostgresql-jdbc-java failed: the Spark tests will not run"; \
	else \
	  echo "NOTE: $(JDBC_JAR) is missing: the Spark tests will not run;" \
	       "install it with: sudo $(JDBC_APT)"; \
	fi

# The web app: npm ci from the lock, then built into the package's static files,
# which `overture serve` serves at /.
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

$(WEB_BUILD): $(WEB_STAMP) $(shell find web/src web/index.html web/vite.config.ts -type f 2>/dev/null)
	cd web && npm run build --silent

web: $(WEB_BUILD)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

demo: install
	$(BIN)/python examples/demo.py --dir $(DEMO_DIR) --customers $(DEMO_CUSTOMERS) --serve --port $(DEMO_PORT)

# `make test`: DuckDB and PostgreSQL; the same suites on Spark (local[2]) are `make
# test-spark` (README.md: CI runs both).
test: install
	cd web && npx vitest run
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not spark" $(PYTEST_ARGS)

test-spark: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m spark $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/targeting.py $(BENCH_ARGS)
	$(BIN)/python bench/delivery.py $(DELIVERY_ARGS)
	$(BIN)/python bench/tracking.py $(TRACKING_ARGS)
	$(BIN)/python bench/canvas.py $(CANVAS_ARGS)
	$(BIN)/python bench/scale.py $(SCALE_ARGS)

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

# Refresh the pins after changing pyproject.toml's dependencies.
constraints: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^overture' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache web/node_modules src/overture/server/static
