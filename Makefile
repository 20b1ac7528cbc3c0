# hltpy: one entry point for building, running the samples, testing and
# benchmarking. Everything it needs is installed into .venv by `make venv`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Outside the work tree so a later checkout on the same machine reuses the
# build; CI on a fresh machine simply creates it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/hltpy/target
ANALYZE := $(VENV)/bin/hltpy-analyze
TRACES := samples/traces

.PHONY: demo build venv test test-rust test-python bench lint clean

## demo: build everything, capture the samples, show what was captured
demo: build
	$(PY) samples/run_samples.py $(TRACES)
	$(ANALYZE) check $(TRACES)/*.parquet

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## build: the Python extension (into .venv) and hltpy-analyze (into .venv/bin)
# A real wheel install (not `maturin develop`), so hltpy-autostart.pth lands
# in site-packages as it does for users.
build: venv
	rm -rf $(CARGO_TARGET_DIR)/wheels
	cd capture && ../$(VENV)/bin/maturin build --release --quiet --out $(CARGO_TARGET_DIR)/wheels
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)/wheels/hltpy-*.whl
	cargo build --release --quiet -p hltpy-analyze
	cp $(CARGO_TARGET_DIR)/release/hltpy-analyze $(ANALYZE)

## test: every test (Rust and Python); what CI runs
test: build test-rust test-python

test-rust:
	cargo test --release --quiet -p hltpy-schema -p hltpy-analyze

test-python:
	HLTPY_ANALYZE=$(abspath $(ANALYZE)) $(PY) -m pytest -q capture/tests tests

## bench: capture benchmark, traced vs untraced side by side
bench: build
	$(PY) bench/capture_bench.py

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -p hltpy-schema -p hltpy-analyze -p hltpy-capture -- -D warnings

clean:
	rm -rf $(VENV) $(TRACES)
