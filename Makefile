# make run  — create .venv, install, measure the default harness under LoadGen, analyse it
# make test — create .venv, install with every runtime and the test tools, run the tests
#             (also creates .venv-mlserver: the MLServer that the remote-backend tests drive)
PYTHON ?= python3
VENV := .venv
# MLServer lives in its own environment: it cannot share a process with tritonclient.grpc
# (both register the inference.* protobuf symbols) and pins protobuf below TensorFlow's.
SERVER_VENV := .venv-mlserver
BIN := $(VENV)/bin
RUN_DIR := runs/digits-$(shell date +%Y%m%d-%H%M%S)
MAX_PASSES ?= 30

.PHONY: run test bench mlserver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when the package metadata changes; editable, so code edits need nothing.
$(VENV)/.installed-run: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[torch,report,pandas]'
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,torch,tensorflow,onnx,text,report,remote,pandas]'
	touch $@ $(VENV)/.installed-run

$(SERVER_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(SERVER_VENV)
	$(SERVER_VENV)/bin/python -m pip install -q -e '.[mlserver]'
	touch $@

mlserver: $(SERVER_VENV)/.installed

# The main job: the reduced-inference tail-quality estimate of the default harness (the
# digits CNN in PyTorch, trained and cached on first use) under LoadGen, then its summary
# and the HTML report (figures in report_files/ beside it). MAX_PASSES=N for a shorter run.
run: $(VENV)/.installed-run
	$(BIN)/tailq estimate --harness digits-torch --scenario SingleStream \
	    --thresholds p90,p95,p99 --max-passes $(MAX_PASSES) \
	    --user_conf mlperf_configs/user.conf --experiment mlperf_configs/experiment.yaml \
	    --out $(RUN_DIR)
	$(BIN)/tailq show $(RUN_DIR)
	$(BIN)/tailq report $(RUN_DIR) --html $(RUN_DIR)/report.html
	@echo "report: $(RUN_DIR)/report.html"

test: $(VENV)/.installed-test $(SERVER_VENV)/.installed
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/capture_overhead.py
	$(BIN)/python benchmarks/analysis_speed.py
	$(BIN)/python benchmarks/tq_calibration.py
	$(BIN)/python benchmarks/routing.py
