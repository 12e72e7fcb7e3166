# Two commands are all a newcomer needs:
#   make demo   set up, then train + test a tiny RISAM on the generated RefShapes benchmark (CPU)
#   make test   set up, then run the test suite
# Set-up is idempotent: a virtualenv in $(VENV) with the pinned stack and this
# package installed editable.  Give WHEELHOUSE=DIR to take mmcv 2.1.0 from a
# prebuilt wheel; otherwise tools/build_mmcv.sh builds it (~20 min on 2 cores).
PYTHON     ?= python3
VENV       ?= .venv
WHEELHOUSE ?=
PYTEST_ARGS ?=
DEMO_CONFIG ?= configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py
DEMO_DATA   ?= data/refshapes
DEMO_WORK   ?= work_dirs/demo
# make demo-generalized: the same on RefShapes with multi- and no-target sentences
GDEMO_CONFIG ?= configs/risam/risam_tiny-vit_1xb16-5500it_grefshapes-128x128.py
GDEMO_DATA   ?= data/grefshapes
GDEMO_WORK   ?= work_dirs/demo-generalized

BIN   := $(VENV)/bin
STAMP := $(VENV)/.risam-setup

.PHONY: setup demo demo-generalized test test-fast lint mutation

setup: $(STAMP)

$(STAMP): setup.py pyproject.toml requirements/*.txt tools/setup_env.sh
	VENV=$(VENV) PYTHON=$(PYTHON) WHEELHOUSE=$(WHEELHOUSE) bash tools/setup_env.sh
	@touch $@

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the lint gate (ruff; settings in pyproject.toml, hook in .pre-commit-config.yaml)
lint: setup
	$(BIN)/ruff check .

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

demo: setup
	PYTHON=$(BIN)/python CONFIG=$(DEMO_CONFIG) DATA=$(DEMO_DATA) WORK_DIR=$(DEMO_WORK) \
		bash tools/run_demo.sh

demo-generalized: setup
	PYTHON=$(BIN)/python CONFIG=$(GDEMO_CONFIG) DATA=$(GDEMO_DATA) WORK_DIR=$(GDEMO_WORK) \
		DATA_ARGS=--generalized bash tools/run_demo.sh

# Mutation testing of the core modules (not in CI; see docs/testing.md).
# MUTATION_ARGS, e.g. "--module losses --module evaluation" or "--rev HEAD".
MUTATION_ARGS ?=
mutation: setup
	$(BIN)/python -m pip --disable-pip-version-check -q install -r requirements/mutation.txt
	$(BIN)/python .dev_scripts/mutation.py $(MUTATION_ARGS)
