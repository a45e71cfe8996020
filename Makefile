# make run  — create .venv, install, run the default harness under LoadGen
# make test — create .venv, install with test tools, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_DIR := runs/run-$(shell date +%Y%m%d-%H%M%S)

.PHONY: run test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when the package metadata changes; editable, so code edits need nothing.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/tailq run --harness sleep --scenario SingleStream --passes 3 \
	    --user_conf mlperf_configs/user.conf --experiment mlperf_configs/experiment.yaml \
	    --out $(RUN_DIR)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/capture_overhead.py
