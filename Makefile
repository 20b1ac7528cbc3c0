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
CLUSTER_ANALYZE := $(VENV)/bin/hltpy-analyze-cluster
# Fresh captures of the samples go to DEMO_TRACES; the committed traces in
# samples/traces (what the analyzer's snapshot tests read) change only
# through `make samples`.
DEMO_TRACES := samples/out
# The crates built with the analyzer's profile (capture is built by maturin).
RUST_PACKAGES := -p hltpy-schema -p hltpy-graph -p hltpy-analyze

.PHONY: demo samples build venv tools readers versions dist test test-rust test-python test-versions test-dist cluster test-cluster test-real bench bench-instructions bench-analyze bench-cluster bench-smoke lint clean

## demo: build everything, capture the samples, show what was captured and
## what the analyzer makes of it
demo: build tools
	$(PY) samples/run_samples.py $(DEMO_TRACES)
	$(ANALYZE) check $(DEMO_TRACES)
	$(ANALYZE) summary $(DEMO_TRACES)/units.parquet
	$(ANALYZE) query "SELECT trace, name, count(*) AS calls FROM calls GROUP BY trace, name ORDER BY calls DESC, name LIMIT 8" $(DEMO_TRACES)
	$(ANALYZE) expr $(DEMO_TRACES)/units.parquet --node 125
	$(ANALYZE) eval $(DEMO_TRACES)
	$(ANALYZE) eval $(DEMO_TRACES)/addx.parquet --set add_to.y=6
	$(ANALYZE) query "SELECT kind, from_kind, from_name, to_kind, to_name FROM constraints WHERE from_id <= 14 ORDER BY from_id, kind" $(DEMO_TRACES)/addx.parquet
	$(ANALYZE) infer $(DEMO_TRACES)/addx.parquet --stubs $(DEMO_TRACES)/stubs
	cat $(DEMO_TRACES)/stubs/addx.pyi
	# the units sample's deliberate mistake is a finding: exit code 1
	$(ANALYZE) infer $(DEMO_TRACES)/units.parquet --dimension-attr unit > $(DEMO_TRACES)/units-infer.txt; test $$? -eq 1
	sed -n '/^dimensions/,$$p' $(DEMO_TRACES)/units-infer.txt
	$(ANALYZE) compile $(DEMO_TRACES)/kernels.parquet --node 3 --name horner
	$(ANALYZE) render $(DEMO_TRACES)/seed_graph.parquet -o $(DEMO_TRACES)/seed_graph.svg
	@echo "drawn: $(DEMO_TRACES)/seed_graph.svg"
	$(ANALYZE) report $(DEMO_TRACES)/units.parquet -o $(DEMO_TRACES)/units.html
	@echo "report: $(DEMO_TRACES)/units.html (open it in a browser)"
	$(ANALYZE) compile $(DEMO_TRACES)/kernels.parquet --node 3 --check --python $(PY)
	# two versions of one program: a finding (exit code 1), shown
	$(ANALYZE) diff $(DEMO_TRACES)/diff/before.parquet $(DEMO_TRACES)/diff/after.parquet --limit 4; test $$? -eq 1

## samples: refresh the committed sample traces (then review the snapshot diffs)
samples: build tools
	$(PY) samples/run_samples.py samples/traces
	$(ANALYZE) render samples/traces/seed_graph.parquet -o samples/seed_graph.svg

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## tools: graphviz's `dot` (drawings as SVG and PNG), Chromium (the
## report's test opens the page in it), Java (Spark, in the reader
## matrix) and valgrind (the instruction benchmark, run small by the
## tests), installed with apt-get when this runs as root on Debian;
## otherwise a note says how
SYSTEM_TOOLS := dot:graphviz chromium:chromium java:openjdk-17-jre-headless valgrind:valgrind
tools:
	@missing=""; \
	for tool in $(SYSTEM_TOOLS); do command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing fonts-dejavu-core >/dev/null \
	      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing fonts-dejavu-core >/dev/null; }; \
	  else \
	    echo "missing:$$missing (apt-get install$$missing): SVG/PNG drawings need graphviz, the report's test chromium, Spark java, the instruction benchmark valgrind"; \
	  fi; \
	fi

## build: the Python extension (into .venv) and hltpy-analyze (into .venv/bin)
# hltpy-analyze is built with --tests: features resolve as for `make test`,
# so the tests reuse this build of DataFusion instead of compiling another.
# A real wheel install (not `maturin develop`), so hltpy-autostart.pth lands
# in site-packages as it does for users.
build: venv
	rm -rf $(CARGO_TARGET_DIR)/wheels
	cd capture && ../$(VENV)/bin/maturin build --release --quiet --out $(CARGO_TARGET_DIR)/wheels
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)/wheels/hltpy-*.whl
	cargo build --profile analyze --quiet --tests $(RUST_PACKAGES)
	cp $(CARGO_TARGET_DIR)/analyze/hltpy-analyze $(ANALYZE)

## readers: the pinned Parquet readers of the interop matrix
## (tests/interop/readers.py), each in a venv of its own under
## ~/.cache/hltpy/readers, installed when missing
readers: venv
	$(PY) tests/interop/readers.py install

## dist: the wheels users install, into dist/: hltpy (the capture, for
## this CPython) and hltpy-analyze (the analyzer's binary, for any CPython),
## with their sizes; both reuse `make build`'s compilation
dist: build
	rm -rf dist
	cd capture && ../$(VENV)/bin/maturin build --release --quiet --out ../dist
	cd analyze && ../$(VENV)/bin/maturin build --quiet --out ../dist
	@ls -l dist/*.whl | awk '{printf "%6.1f MiB  %s\n", $$5 / 1048576, $$NF}'

## test-dist: dist/'s wheels installed into a clean venv with no Rust on
## PATH: a capture, a query, an eval --set and a render from them alone
test-dist: dist tools
	$(PY) tests/dist_check.py --dist dist

## cluster: hltpy-analyze built with the cargo feature `cluster` (Apache
## DataFusion Ballista: queries and passes on a cluster, and the cluster's
## processes), as .venv/bin/hltpy-analyze-cluster; its own build of
## DataFusion, ~18 minutes the first time
cluster: build
	cargo build --profile analyze --quiet --tests -p hltpy-analyze --features cluster
	cp $(CARGO_TARGET_DIR)/analyze/hltpy-analyze $(CLUSTER_ANALYZE)

## test-cluster: the analyzer's tests built with the feature, among them
## the cluster tests (local clusters of real Ballista processes), and the
## scale-out benchmark at a small size; CI's third step
test-cluster: cluster
	cargo test --profile analyze --quiet -p hltpy-analyze --features cluster
	$(PY) bench/cluster_bench.py --traces 8 --items 20 --executors 1,2 --repeat 1 --analyze $(CLUSTER_ANALYZE)

## bench-cluster: a query and the eval table over 200 traces (2M nodes)
## locally and on local clusters of 1, 2 and 4 executors
bench-cluster: cluster
	$(PY) bench/cluster_bench.py --analyze $(CLUSTER_ANALYZE)

## test: every test (Rust and Python), and the wheels; what CI runs
test: build tools readers versions test-rust test-python test-versions test-dist

## versions: the extension built for each CPython of EXTRA_PYTHONS (pyenv's,
## as this machine has them) and installed with what the capture tests
## need into .venv-3.X; each version builds in a target directory of its
## own, so switching versions rebuilds nothing
EXTRA_PYTHONS := 3.12 3.13
versions: venv
	@for v in $(EXTRA_PYTHONS); do \
	  python=$$(ls -d $${PYENV_ROOT:-$(HOME)/.pyenv}/versions/$$v.*/bin/python$$v 2>/dev/null | tail -1); \
	  [ -n "$$python" ] || python=$$(command -v python$$v); \
	  if [ -z "$$python" ] && command -v pyenv >/dev/null; then \
	    echo "installing CPython $$v with pyenv"; pyenv install --skip-existing $$v >/dev/null || exit 1; \
	    python=$$(ls -d $$(pyenv root)/versions/$$v.*/bin/python$$v | tail -1); \
	  fi; \
	  if [ -z "$$python" ]; then echo "CPython $$v is missing (pyenv install $$v): the capture tests run on it"; exit 1; fi; \
	  [ -x .venv-$$v/bin/python ] || $$python -m venv .venv-$$v || exit 1; \
	  .venv-$$v/bin/python -m pip install --quiet pytest pytest-timeout pyarrow hypothesis || exit 1; \
	  rm -rf $(CARGO_TARGET_DIR)-py$$v/wheels; \
	  (cd capture && CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-py$$v ../$(VENV)/bin/maturin build --release --quiet \
	    -i ../.venv-$$v/bin/python --out $(CARGO_TARGET_DIR)-py$$v/wheels) || exit 1; \
	  .venv-$$v/bin/python -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)-py$$v/wheels/hltpy-*.whl || exit 1; \
	done

## test-versions: the capture tests on each CPython of EXTRA_PYTHONS
test-versions: versions
	@for v in $(EXTRA_PYTHONS); do \
	  echo "capture tests on CPython $$v"; \
	  .venv-$$v/bin/python -X faulthandler -m pytest -q -p no:cacheprovider capture/tests || exit 1; \
	done

## test-rust: the analyzer's crates, and the capture crate's own tests in
## an interpreter they start (linked to the venv's CPython)
test-rust:
	PYO3_PYTHON=$(abspath $(PY)) cargo test --profile analyze --quiet $(RUST_PACKAGES) -p hltpy-capture

test-python:
	HLTPY_ANALYZE=$(abspath $(ANALYZE)) $(PY) -X faulthandler -m pytest -q capture/tests tests

## test-real: the pyperformance suite (pinned sdist from PyPI) traced whole
## vs untraced, on 3.11 and each of EXTRA_PYTHONS: same result?, nodes,
## traced/untraced time, nodes/s (tests/test_pyperformance.py runs it on
## 3.11 within `make test`)
test-real: build versions
	$(PY) bench/pyperformance_suite.py
	@for v in $(EXTRA_PYTHONS); do .venv-$$v/bin/python bench/pyperformance_suite.py || exit 1; done

## bench: capture benchmark, traced vs untraced side by side, then its
## figures on 3.11, 3.12 and 3.13 side by side
bench: build versions
	$(PY) bench/capture_bench.py
	$(PY) bench/versions_bench.py

## bench-instructions: the capture cases in instructions per operation,
## program and writer thread, traced vs untraced (valgrind; stable where
## timings on a shared machine are not)
bench-instructions: build
	$(PY) bench/capture_instructions.py

## bench-analyze: hltpy-analyze vs DuckDB on a 10M-node synthetic trace, and
## eval vs a CPython replay on a 10M-node captured trace, compile and diff on 1M-node ones,
## render and report on 1M- and 10M-node traces, then every pass over the
## pyperformance suite's traces together (nodes/s per pass)
bench-analyze: build
	$(PY) bench/analyze_bench.py
	$(PY) bench/eval_bench.py
	$(PY) bench/compile_bench.py
	$(PY) bench/diff_bench.py
	$(PY) bench/render_bench.py
	$(PY) bench/passes_bench.py

## bench-smoke: every benchmark script at a small size, checking what it
## prints (about two minutes; the same tests run in test-python, so CI runs them)
bench-smoke: build versions
	$(PY) -m pytest -q -p no:cacheprovider tests/test_benchmarks.py

## lint: rustfmt, clippy (with the feature `cluster`, whose code is a
## superset), mypy's stubtest of the native module's .pyi, and ruff (check
## and format) over the project's Python (ruff.toml)
lint: build
	cargo fmt --all -- --check
	PYO3_PYTHON=$(abspath $(PY)) cargo clippy --profile analyze --all-targets -p hltpy-schema -p hltpy-graph -p hltpy-analyze -p hltpy-capture --features hltpy-analyze/cluster -- -D warnings
	$(PY) -m mypy.stubtest hltpy._hltpy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(VENV)-3.* $(DEMO_TRACES) bench/out dist
