# Systole: a thin wrapper. Every target bootstraps what it needs (virtual environment, pip packages,
# Debian packages) so that a fresh clone needs nothing but `make test` or `make demo`.
#
# Knobs: SIM=icarus|verilator|both (default: both), TEST=<pytest -k expression>, SEED=<int >= 0>, WAVES=0|1,
#        TESTCASE=<cocotb test name>, JOBS=<pytest-xdist workers >= 1>, DEMO_ARGS="--epochs 2 ...",
#        MODEL=<.onnx> INPUT=<.npy> LABELS=<.npy> RUN_ARGS="--array-size 4 ..." (make run).
#        SHARD=<i>/<n> (make test: shard i of n, pytest-split), JUNIT=<file> (make test: JUnit XML),
#        VIZ_ARGS="--only step ..." (make viz), SYNTH_ARGS="--p 4 --pnr-p 4 ..." (make synth),
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

# The knobs are checked when the Makefile is read, before anything is installed, built or simulated: a
# bad value stops make with one line naming it (scripts/knobs.py; exit status 2).
KNOB_PY    := $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,$(PYTHON))
knob_quote = '$(subst ','\'',$(1))'
KNOB_ERROR := $(shell SIM=$(call knob_quote,$(SIM)) SEED=$(call knob_quote,$(SEED)) \
                JOBS=$(call knob_quote,$(JOBS)) WAVES=$(call knob_quote,$(WAVES)) \
                TEST=$(call knob_quote,$(TEST)) $(KNOB_PY) scripts/knobs.py 2>&1)
ifneq ($(KNOB_ERROR),)
$(error $(KNOB_ERROR))
endif

PYTEST_K := $(if $(TEST),-k "$(TEST)",)
# SHARD=i/n: pytest-split's shard i of n, balanced by the checked-in durations (tb/test_durations.json).
SPLIT    := $(if $(SHARD),--splits $(word 2,$(subst /, ,$(SHARD))) --group $(word 1,$(subst /, ,$(SHARD))) \
              --durations-path tb/test_durations.json --splitting-algorithm least_duration,)
PYTEST_N := -q -n $(JOBS) --dist loadgroup

.PHONY: help bootstrap sysdeps venv demo lint test test-models sim waves bench viz run formal coverage soak \
        synth gls clean distclean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  knobs: SIM=icarus|verilator|both (default both)  TEST=<pytest -k expr>  SEED=<int >= 0>  JOBS=<int >= 1>"
	@echo "         WAVES=0|1  TESTCASE=<cocotb test>  (checked before anything runs: a bad value stops make, status 2)"
	@echo "         SHARD=<i>/<n> JUNIT=<file> (make test)  SEEDS=<n> SOAK_SEED=<int> (make soak)  VIZ_ARGS=\"...\" (make viz)"

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
test: lint ## Lint, then the whole regression (models, testbenches, formal proofs) on SIM; SHARD=i/n: one shard
	@$(PY) -m pytest $(PYTEST_N) models tb --build-only --timing-summary -rfE $(PYTEST_K) $(SPLIT)
	@$(PY) -m pytest $(PYTEST_N) models tb --timing-summary $(PYTEST_K) $(SPLIT) $(if $(JUNIT),--junitxml=$(JUNIT),)

sim: bootstrap ## Run testbenches only (no lint, no model tests): make sim TEST=array SIM=icarus
	@$(PY) -m pytest $(PYTEST_N) tb --ignore=tb/formal $(PYTEST_K)

coverage: bootstrap ## Code coverage (Verilator) and functional coverage (both simulators): out/coverage/
	@JOBS=$(JOBS) $(PY) scripts/coverage.py $(if $(TEST),-k "$(TEST)",)

soak: bootstrap ## Every randomized test with SEEDS seeds (SOAK_SEED: master seed) on SIM; out/soak/ + a table
	@$(PY) scripts/soak.py --seeds $(SEEDS) --jobs $(JOBS) $(if $(SOAK_SEED),--master-seed $(SOAK_SEED),) \
	  $(if $(TEST),-k "$(TEST)",)

waves: bootstrap ## Run one test with FST tracing and open it in GTKWave: make waves TEST=array
	@$(PY) scripts/waves.py $(if $(TEST),--test "$(TEST)",) $(if $(TESTCASE),--testcase "$(TESTCASE)",)

bench: bootstrap ## Benchmarks: print a table and write out/bench.json
	@$(PY) scripts/bench.py

# make viz: pictures drawn from traced simulations (docs/viz.md); SIM=verilator traces with Verilator
# (default: Icarus, which builds in seconds). Also refreshes the copies in docs/img/.
VIZ_ARGS ?=
viz: bootstrap ## Pictures from real traces: staircase, double buffer, training step, roofline (out/viz/)
	@$(PY) scripts/viz.py --docs-img $(VIZ_ARGS)

# make run: an ONNX MLP on the simulated chip (docs/onnx.md); without MODEL, an skl2onnx digits MLP.
MODEL    ?=
INPUT    ?=
LABELS   ?=
RUN_ARGS ?=
RUN_SIM  := $(if $(filter both,$(SIM)),verilator,$(SIM))
EXAMPLE  := out/onnx

run: bootstrap ## Run an ONNX MLP on chip vs onnxruntime: make run MODEL=m.onnx INPUT=x.npy [LABELS=y.npy]
	@$(if $(MODEL),,$(PY) scripts/systole.py example --out $(EXAMPLE))
	@$(PY) scripts/systole.py run $(or $(MODEL),$(EXAMPLE)/digits_mlp.onnx) \
	  --input $(or $(INPUT),$(EXAMPLE)/digits_x.npy) --sim $(RUN_SIM) \
	  $(if $(MODEL),$(if $(LABELS),--labels $(LABELS)),--labels $(EXAMPLE)/digits_labels.npy) $(RUN_ARGS)

formal: bootstrap ## SymbiYosys proofs + covers (table, out/formal/summary.json), then the broken-RTL checks
	@$(PY) scripts/formal.py $(if $(TEST),-k "$(TEST)",)
	@$(PY) -m pytest $(PYTEST_N) tb/formal/test_formal.py -k "mutant$(if $(TEST), and ($(TEST)),)"

# make synth: ECP5 resources, post-route Fmax, per-module cells (docs/synth.md); not part of make test.
SYNTH_ARGS ?=

synth: bootstrap ## ECP5 LFE5U-85F: resources at P=4/8, array Fmax, cells per module (out/synth/, ~10 CPU min)
	@$(PY) scripts/synth.py $(SYNTH_ARGS)

# make gls: the array, VPU and core testbenches, unchanged, on their gate-level netlists at P=4 (Icarus).
gls: bootstrap ## Gate-level simulation of the synthesized netlists (array, VPU, core at P=4, Icarus)
	@GLS=1 SIM=icarus $(PY) -m pytest $(PYTEST_N) tb/array tb/vpu tb/core -k "icarus and 4]$(if $(TEST), and ($(TEST)),)"

clean: ## Remove simulation builds and outputs
	rm -rf sim_build out .pytest_cache .ruff_cache

distclean: clean ## Also remove the virtual environment
	rm -rf $(VENV)
