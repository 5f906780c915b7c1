# Entry points for a fresh machine with Python 3.11 (see README):
#   make repro               set up .venv (or reuse it) and run the DVC pipeline (profile from
#                            params.yaml); on a fresh clone every stage is up to date
#   make rerun [STAGE=name]  re-run one stage (or all of them) even if up to date, every cell
#                            retrained (REPRO_RECOMPUTE=1: the stored cells are not used)
#   make rejudge STAGE=name [PROFILE=quick]  re-judge a stage's stored run with today's report
#                            layer (verdicts, tables, figures), training nothing; then
#                            `dvc commit STAGE` records it
#   make test                set up .venv (or reuse it) and run the test suite (what CI runs)
#   make setup-gpu           add requirements-gpu.txt (JAX with CUDA) to .venv
#   make repro DEVICE=gpu    the pipeline on the GPU: KERAS_BACKEND=jax, REPRO_DEVICE=gpu
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# Real MNIST/USPS copies: a folder list (os.pathsep-separated) searched after data/raw.
export REPRO_DATA_MIRRORS ?= $(abspath ../shared/data)
export PYTHONUNBUFFERED := 1

DEVICE ?= cpu
ifeq ($(DEVICE),gpu)
GPU_ENV := KERAS_BACKEND=jax REPRO_DEVICE=gpu
SETUP   := setup-gpu
else
GPU_ENV :=
SETUP   := setup
endif

.PHONY: setup setup-gpu repro rerun rejudge test
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup-gpu: $(VENV)/.installed-gpu

$(VENV)/.installed-gpu: requirements-gpu.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-gpu.txt
	touch $@

repro: $(SETUP)
	$(GPU_ENV) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

STAGE ?=
rerun: $(SETUP)
	$(GPU_ENV) REPRO_RECOMPUTE=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro --force $(if $(STAGE),--single-item $(STAGE),)

PROFILE ?= quick
rejudge: $(SETUP)
	@test -n "$(STAGE)" || { echo "name the stage: make rejudge STAGE=gapdcec"; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m repro stage $(STAGE) --profile $(PROFILE) --rejudge

test: setup
	PATH="$(abspath $(BIN)):$$PATH" REPRO_OFFLINE=1 $(BIN)/python -m pytest
