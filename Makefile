# Featreg: `make demo` sets everything up and starts the demo; `make test` sets up and runs
# the whole test suite (this is what CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := graphviz chromium chromium-driver

.PHONY: setup system-packages demo test test-fast lint bench bench-quick bench-peers clean

setup: system-packages $(STAMP)

# Debian packages the product and its tests use (dot, headless Chromium); installed when missing.
system-packages:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "Installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/featreg --db sqlite:///demo.db demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -n 2 -m "not browser" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The benchmark suite (benchmarks/run_all.py): `make bench` at full size, `make bench-quick`
# (or `make bench ARGS=--quick`) as a smoke run; figures go to benchmarks/results/*.json.
bench: setup
	$(BIN)/python benchmarks/run_all.py $(ARGS)

bench-quick: setup
	$(BIN)/python benchmarks/run_all.py --quick $(ARGS)

# Featreg against Feast (benchmarks/peers_feast.py): Feast in its own virtualenv, N = 10, 50,
# 200, 500 feature views of 20 features; table on stdout, figures in benchmarks/results/.
FEAST_VENV := .bench-venv-feast
FEAST_VERSION ?= 0.67.0

$(FEAST_VENV)/.installed:
	test -d $(FEAST_VENV) || $(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/pip install -q "feast==$(FEAST_VERSION)"
	touch $@

bench-peers: setup $(FEAST_VENV)/.installed
	$(BIN)/python benchmarks/peers_feast.py --feast-venv $(FEAST_VENV) $(ARGS)

clean:
	rm -rf $(VENV) demo.db* .pytest_cache
