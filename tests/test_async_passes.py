"""Every pass over the trace of an asyncio program (capture's
`programs/asyncs/workers.py`, traced whole): check accepts it, eval
recomputes the coroutines' results through their Awaited nodes, infer's
stubs write `async def` and `AsyncIterator` and pass `mypy --strict`,
expr shows `await`, render draws it, diff finds a changed start value,
and compile refuses a coroutine with a message naming it."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
PROGRAMS = ROOT / "capture" / "tests" / "programs"

RUN = """
import asyncio, sys
sys.path.insert(0, {programs!r})
import hltpy
hltpy.trace_modules(["asyncs.workers"])
from asyncs import workers
with hltpy.capture(sys.argv[1], allow_mutation=True):
    asyncio.run(workers.main(hltpy.trace(int(sys.argv[2]))))
"""


def analyze(*args, expect=(0,)):
    done = subprocess.run(
        [ANALYZE, *map(str, args)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode in expect, done.stderr
    return done


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    directory = tmp_path_factory.mktemp("async-passes")
    paths = []
    for start in (5, 6):
        path = directory / f"workers-{start}.parquet"
        done = subprocess.run(
            [
                sys.executable,
                "-X",
                "faulthandler",
                "-c",
                RUN.format(programs=str(PROGRAMS)),
                str(path),
                str(start),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        paths.append(path)
    return directory, paths


def query(trace, sql):
    rows = analyze("query", sql, trace, "--format", "csv").stdout.strip().splitlines()
    return [row.split(",") for row in rows[1:]]


def test_check_and_eval_read_coroutines(traces):
    _, (trace, _) = traces
    assert "Awaited" in analyze("check", trace).stdout
    analyze("eval", trace, expect=(0, 1))
    # eval's table: each scale(5, k) run's Awaited is recomputed from the
    # body's product, not copied from the file.
    rows = query(
        trace,
        "SELECT e.status, e.recomputed FROM eval e JOIN nodes n ON e.id = n.id "
        "WHERE n.kind = 'Awaited' AND n.name = 'scale' ORDER BY n.id",
    )
    assert rows == [["matched", "10"], ["matched", "0"], ["matched", "5"], ["matched", "10"]]


def test_stubs_write_async_defs_that_mypy_accepts(traces, tmp_path):
    _, (trace, _) = traces
    analyze("infer", trace, "--stubs", tmp_path, expect=(0, 1))
    stub = (tmp_path / "asyncs" / "workers.pyi").read_text()
    assert "    async def deposit(self, amount: int) -> int: ..." in stub
    assert "    async def __aenter__(self) -> Session: ..." in stub
    assert "async def scale(x: int, factor: int) -> int: ..." in stub
    assert "def entries(items: list[Any]) -> AsyncIterator[int]: ..." in stub
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            str(tmp_path / "asyncs" / "workers.pyi"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_expr_shows_await_and_render_draws_the_run(traces, tmp_path):
    _, (trace, _) = traces
    [[audit]] = query(trace, "SELECT id FROM nodes WHERE kind = 'Awaited' AND name = 'audit'")
    shown = analyze("expr", trace, "--node", audit).stdout
    assert "await " in shown and "audit(" in shown
    analyze("render", trace, "-o", tmp_path / "workers.svg", "--depth", "4", "--node", audit)
    assert (tmp_path / "workers.svg").read_text().startswith("<?xml")


def test_diff_finds_the_changed_start(traces):
    _, (before, after) = traces
    done = analyze("diff", before, after, expect=(1,))
    assert "workers.py" in done.stdout


def test_compile_refuses_a_coroutine_naming_it(traces):
    _, (trace, _) = traces
    [[awaited]] = query(
        trace, "SELECT min(id) FROM nodes WHERE kind = 'Awaited' AND name = 'scale'"
    )
    done = analyze("compile", trace, "--node", awaited, expect=(2,))
    assert f"node {awaited} (Awaited scale at " in done.stderr
    assert "compile writes synchronous functions" in done.stderr
