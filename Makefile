# Systole: a thin wrapper. Every target bootstraps what it needs (virtual environment, pip packages,
# Debian packages) so that a fresh clone needs nothing but `make test` or `make demo`.
#
# Knobs: SIM=icarus|verilator (default: both), TEST=<pytest -k expression>, SEED=<int>, WAVES=1,
#        TESTCASE=<cocotb test name>, JOBS=<pytest-xdist workers>, DEMO_ARGS="--epochs 2 ...",
#        SHARD=<i>/<n> (make test: shard i of n, pytest-split), JUNIT=<file> (make test: JUnit XML),
#        SEEDS=<n> and SOAK_SEED=<int> (make soak).

SHELL        := /bin/bash
.SHELLFLAGS  := -eo pipefail -c
PYTHON       ?= $(shell command -v python3.11 || command -v python3)
VENV         := .venv
PY           := $(VENV)/bin/python
STAMP        := $(VENV)/.installed
SYS_PACKAGES := iverilog gtkwave liblz4-dev lcov ccache
SIM          ?= both
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
TEST         ?=
SEED         ?=
TESTCASE     ?=
SHARD        ?=
JUNIT        ?=
SEEDS        ?= 100
SOAK_SEED    ?=

export SIM SEED WAVES TESTCASE

PYTEST_K := $(if $(TEST),-k "$(TEST)",)
# SHARD=i/n: pytest-split's shard i of n, balanced by the checked-in durations (tb/test_durations.json).
SPLIT    := $(if $(SHARD),--splits $(word 2,$(subst /, ,$(SHARD))) --group $(word 1,$(subst /, ,$(SHARD))) \
              --durations-path tb/test_durations.json --splitting-algorithm least_duration,)
PYTEST_N := -q -n $(JOBS) --dist loadgroup

.PHONY: help bootstrap sysdeps venv demo lint test test-models sim waves bench coverage soak clean distclean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  knobs: SIM=icarus|verilator (default both)  TEST=<pytest -k expr>  SEED=<int>  WAVES=1  TESTCASE=<cocotb test>"
	@echo "         JOBS=<workers>  SHARD=<i>/<n> JUNIT=<file> (make test)  SEEDS=<n> SOAK_SEED=<int> (make soak)"

bootstrap: sysdeps venv ## Install Debian packages (if missing) and the Python virtual environment

sysdeps: ## Install iverilog, gtkwave, liblz4-dev, lcov, ccache when missing (needs root; else prints the command)
	@missing=""; \
	command -v iverilog >/dev/null 2>&1 || missing="$$missing iverilog"; \
	command -v gtkwave  >/dev/null 2>&1 || missing="$$missing gtkwave"; \
	dpkg -s liblz4-dev  >/dev/null 2>&1 || missing="$$missing liblz4-dev"; \
	command -v genhtml  >/dev/null 2>&1 || missing="$$missing lcov"; \
	command -v ccache   >/dev/null 2>&1 || missing="$$missing ccache"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "[bootstrap] installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "[bootstrap] missing Debian packages:$$missing"; \
	    echo "[bootstrap] run:  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

venv: $(STAMP)

$(STAMP): requirements.txt
	@echo "[bootstrap] creating $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements.txt 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
	@touch $@

demo: bootstrap ## Train XOR and 8x8 digits on the simulated TPU end to end (outputs in out/demo/)
	@$(PY) scripts/demo.py $(DEMO_ARGS)

lint: bootstrap ## verilator --lint-only -Wall, iverilog -g2012, slang, ruff, actionlint on everything
	@$(PY) scripts/lint.py

test-models: bootstrap ## Golden-model unit tests only (no simulator)
	@$(PY) -m pytest -q models $(PYTEST_K)

# Two passes: every HDL configuration the selected tests need is built first (in parallel, longest
# first), then the tests run longest first and find their builds done; a timing summary closes the run.
test: lint ## Lint, then the whole regression (models + every testbench) on SIM; SHARD=i/n runs one shard
	@$(PY) -m pytest $(PYTEST_N) models tb --build-only --timing-summary -rfE $(PYTEST_K) $(SPLIT)
	@$(PY) -m pytest $(PYTEST_N) models tb --timing-summary $(PYTEST_K) $(SPLIT) $(if $(JUNIT),--junitxml=$(JUNIT),)

sim: bootstrap ## Run testbenches only (no lint, no model tests): make sim TEST=array SIM=icarus
	@$(PY) -m pytest $(PYTEST_N) tb $(PYTEST_K)

coverage: bootstrap ## Line/toggle/SVA-cover coverage of the Verilator regression: out/coverage/ (html, summary.json)
	@JOBS=$(JOBS) $(PY) scripts/coverage.py $(if $(TEST),-k "$(TEST)",)

soak: bootstrap ## Every randomized test with SEEDS seeds (SOAK_SEED: master seed) on SIM; out/soak/ + a table
	@$(PY) scripts/soak.py --seeds $(SEEDS) --jobs $(JOBS) $(if $(SOAK_SEED),--master-seed $(SOAK_SEED),) \
	  $(if $(TEST),-k "$(TEST)",)

waves: bootstrap ## Run one test with FST tracing and open it in GTKWave: make waves TEST=array
	@$(PY) scripts/waves.py $(if $(TEST),--test "$(TEST)",) $(if $(TESTCASE),--testcase "$(TESTCASE)",)

bench: bootstrap ## Benchmarks: print a table and write out/bench.json
	@$(PY) scripts/bench.py

clean: ## Remove simulation builds and outputs
	rm -rf sim_build out .pytest_cache .ruff_cache

distclean: clean ## Also remove the virtual environment
	rm -rf $(VENV)
