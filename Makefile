# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_CUSTOMERS ?= 100000
DEMO_PORT ?= 8000

.PHONY: install demo test bench lint constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python examples/demo.py --dir $(DEMO_DIR) --customers $(DEMO_CUSTOMERS) --serve --port $(DEMO_PORT)

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/targeting.py $(BENCH_ARGS)
	$(BIN)/python bench/delivery.py $(DELIVERY_ARGS)
	$(BIN)/python bench/tracking.py $(TRACKING_ARGS)

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

# Refresh the pins after changing pyproject.toml's dependencies.
constraints: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^overture' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
