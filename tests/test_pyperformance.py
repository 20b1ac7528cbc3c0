"""The pyperformance suite, traced whole vs untraced (bench/pyperformance_suite.py):
every benchmark gives the same result, none fails or crashes, the traced
runs really traced something; and every pass runs over the real traces:
eval recomputes every trace without a difference, check, infer (stubs
mypy accepts), render, report and diff run on the smaller ones, and
compile turns each function's first traced call into a function that
passes --check, or refuses naming the construct and the line."""

import collections
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
# The passes other than eval run on the traces up to this size (13 of the
# 24 that traced something); `make test-real` keeps the whole suite's traces.
SMALLER = 2_000_000


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The suite run once: its outcomes, what it printed, its traces."""
    out = tmp_path_factory.mktemp("pyperformance")
    report, traces = out / "suite.json", out / "traces"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pyperformance_suite.py"), "--json", str(report), "--traces", str(traces)],
        capture_output=True, text=True, timeout=3000, check=False,
    )
    return json.loads(report.read_text()), done, traces


def analyze(*args):
    return subprocess.run([ANALYZE, *map(str, args)], capture_output=True, text=True, check=False)


def node_count(trace):
    done = analyze("query", "--format", "csv", "SELECT count(*) FROM nodes", trace)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


@pytest.fixture(scope="module")
def smaller_traces(suite):
    _, _, traces = suite
    found = [t for t in sorted(traces.glob("*.parquet")) if 0 < node_count(t) <= SMALLER]
    assert len(found) >= 10, found
    return found


def test_every_pyperformance_benchmark_gives_the_untraced_result(suite):
    outcomes, done, _ = suite
    failed = {o["name"]: o.get("traced", {}).get("stderr") or o.get("untraced", {}).get("stderr") for o in outcomes
              if not o["same"]}
    assert not failed, done.stdout + json.dumps(failed, indent=1)[-6000:]
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert len(outcomes) == 24
    # The digests compare real work: results of the benchmark functions
    # and the module's data, different between benchmarks.
    assert len({o["untraced"]["digest"] for o in outcomes}) == 24
    traced_nodes = {o["name"]: o["traced"]["nodes"] for o in outcomes}
    assert sum(n > 100_000 for n in traced_nodes.values()) >= 15, traced_nodes
    assert "24 of 24 give the same result traced" in done.stdout


def test_eval_recomputes_every_trace_without_a_difference(suite):
    """What eval cannot recompute is opaque, with its reason; nothing differs."""
    _, _, traces = suite
    evaluated = {}
    for trace in sorted(traces.glob("*.parquet")):
        done = analyze("eval", "--progress", "never", trace)
        assert done.returncode in (0, 1), done.stderr
        evaluated[trace.stem] = done.stdout.splitlines()[0]
    assert len(evaluated) == 24
    differing = {name: line for name, line in evaluated.items() if " 0 differed" not in line}
    assert not differing, json.dumps(differing, indent=1)


def test_check_infer_render_report_and_diff_run_on_real_traces(smaller_traces, tmp_path):
    for trace in smaller_traces:
        name = trace.stem
        assert analyze("check", "--progress", "never", trace).returncode == 0, name
        stubs = tmp_path / name
        done = analyze("infer", "--progress", "never", trace, "--stubs", stubs)
        assert done.returncode in (0, 1), done.stderr
        mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *stubs.glob("*.pyi")],
                              capture_output=True, text=True, check=False)
        assert mypy.returncode == 0, f"{name}: {mypy.stdout[-2000:]}"
        done = analyze("render", "--progress", "never", trace, "--depth", "2", "-o", tmp_path / f"{name}.svg")
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith(("<?xml", "<svg")), name
        done = analyze("report", "--progress", "never", trace, "-o", tmp_path / f"{name}.html")
        assert done.returncode == 0, f"{name}: {done.stderr}"
        done = analyze("diff", "--progress", "never", trace, trace)
        assert done.returncode == 0 and "equivalent: all" in done.stdout, f"{name}: {done.stdout[-1000:]}"


# What compile gets wrong on these traces today, found by --check (README,
# "compile" limits): hexiom's cells are lists its `__init__` makes with a
# comprehension of untraced values and `remove` changes item by item later;
# the trace does not tie those lists to their later reads.
KNOWN_MISMATCHES = {("hexiom", "remove_unfixed")}


def test_compile_passes_its_check_or_refuses_naming_the_line_on_each_functions_first_call(smaller_traces):
    outcomes = collections.Counter()
    mismatches = set()
    for trace in smaller_traces:
        name = trace.stem
        done = analyze("query", "--format", "csv",
                       "SELECT min(id) AS first, name FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') "
                       "GROUP BY kind, name ORDER BY first", trace)
        firsts = dict(line.split(",", 1) for line in done.stdout.splitlines()[1:])
        nodes = [argument for first in firsts for argument in ("--node", first)]
        # The benchmark's modules (and the suite's pyperf stand-in) are
        # where the trace's files are: --check imports them from there.
        done = analyze("compile", "--progress", "never", trace, *nodes, "--skip-refused", "--check",
                       "--python", sys.executable)
        assert done.returncode in (0, 1, 2), done.stderr
        refusals = [line for line in done.stderr.splitlines()
                    if not line.startswith("compile --check imports") and "could be compiled" not in line]
        for line in refusals:
            assert "cannot compile node" in line and re.search(r"\.py:\d+", line), f"{name}: {line}"
            assert "before it is computed" not in line and "not in the trace" not in line, f"{name}: {line}"
        outcomes["refused"] += len(refusals)
        for line in done.stdout.splitlines():
            function, _, result = line.partition(": ")
            if result.endswith("(as recorded)"):
                outcomes["passed"] += 1
                continue
            assert "MISMATCH" in result, f"{name}: {line}"
            first = function.removeprefix("compiled_") if len(firsts) > 1 else next(iter(firsts))
            mismatches.add((name, firsts[first]))
    assert mismatches == KNOWN_MISMATCHES
    assert outcomes["passed"] >= 90, outcomes
