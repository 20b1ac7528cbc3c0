"""The pyperformance suite, traced whole vs untraced (bench/pyperformance_suite.py):
every benchmark gives the same result, none fails or crashes, the traced
runs really traced something, and eval recomputes every trace without a
difference."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))


def test_every_pyperformance_benchmark_gives_the_untraced_result(tmp_path):
    report = tmp_path / "suite.json"
    traces = tmp_path / "traces"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pyperformance_suite.py"), "--json", str(report), "--traces", str(traces)],
        capture_output=True, text=True, timeout=3000, check=False,
    )
    outcomes = json.loads(report.read_text())
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
    # eval recomputes every benchmark's trace without a single difference
    # (what it cannot recompute is opaque, with its reason).
    evaluated = {}
    for trace in sorted(traces.glob("*.parquet")):
        done = subprocess.run([ANALYZE, "eval", "--progress", "never", str(trace)], capture_output=True, text=True)
        assert done.returncode in (0, 1), done.stderr
        evaluated[trace.stem] = done.stdout.splitlines()[0]
    assert len(evaluated) == 24
    differing = {name: line for name, line in evaluated.items() if " 0 differed" not in line}
    assert not differing, json.dumps(differing, indent=1)
