"""asyncio programs traced: the same results as untraced, real coroutines
handed to asyncio (never a proxy), and the runs recorded as Coroutine /
Awaited nodes (async generators as Generator / Generation)."""

import json
import pathlib
import subprocess
import sys

import pytest
from conftest import Trace, untraced_and_traced

PROGRAMS = pathlib.Path(__file__).resolve().parent / "programs"

RUN = """
import asyncio, json, sys
sys.path.insert(0, {programs!r})
import hltpy
mode, path = sys.argv[1:3]
if mode == "traced":
    hltpy.trace_modules(["asyncs.workers"])
from asyncs import workers
if mode == "traced":
    with hltpy.capture(path, allow_mutation=True):
        result = hltpy.from_traced(asyncio.run(workers.main(hltpy.trace(5))))
else:
    result = asyncio.run(workers.main(5))
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def workers_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("asyncs") / "workers.parquet"
    code = RUN.format(programs=str(PROGRAMS))
    untraced, traced = untraced_and_traced(code, path)
    return untraced, traced, Trace(path)


def test_an_asyncio_program_computes_the_same_traced(workers_run):
    untraced, traced, _ = workers_run
    assert traced == untraced
    # The program really exercised what it claims to.
    assert untraced["timed_out"] and untraced["cancelled"]
    assert untraced["errors"] == ["ValueError('bad 5')", 10]
    assert untraced["events"][-1] == "exit inner after KeyError"


def test_each_coroutine_run_is_a_coroutine_node_ended_by_an_awaited(workers_run):
    _, _, trace = workers_run
    coroutines = trace.of_kind("Coroutine")
    awaited = trace.of_kind("Awaited")
    assert {c.name for c in coroutines} >= {
        "main",
        "deposit",
        "audit",
        "scale",
        "slow",
        "failing",
        "__aenter__",
    }
    for node in awaited:
        coroutine = trace[node.input("coroutine")]
        assert coroutine.kind == "Coroutine" and coroutine.name == node.name
        assert node.id > coroutine.id
    # scale(5, k) in the TaskGroup: each run returns 5 * k, computed in
    # its own frame (the Awaited's id), traced from the argument.
    scaled = sorted((n for n in awaited if n.name == "scale"), key=lambda n: n.id)
    values = [n.value for n in scaled]
    assert values == [10, 0, 5, 10]
    for node in scaled:
        returned = trace[node.input("return")]
        assert returned.kind == "UDispatch" and returned.name == "__mul__"
        assert returned.frame == node.id
    # Cancelled and failing runs end in an Awaited that records the error.
    raised = {n.name: n.value for n in awaited if str(n.value).startswith("raised")}
    assert raised["failing"] == "raised ValueError('bad 5')"
    assert raised["slow"].startswith("raised CancelledError")
    # Every run ends where its coroutine was made, whatever stepped it
    # last (a task is stepped by the event loop's callbacks).
    for node in awaited:
        coroutine = trace[node.input("coroutine")]
        assert (node.file, node.line) == (coroutine.file, coroutine.line), (node, coroutine)
        assert "asyncio" not in node.file
    # A coroutine awaited directly ends where the program awaited it.
    audit = trace.one("Awaited", "audit")
    assert audit.file.endswith("workers.py")
    assert (
        "await account.audit()" in pathlib.Path(audit.file).read_text().splitlines()[audit.line - 1]
    )


def test_async_generator_items_are_generations_of_its_call(workers_run):
    _, _, trace = workers_run
    generators = [n for n in trace.of_kind("Generator") if n.type == "async_generator"]
    assert {g.name for g in generators} == {"entries", "squares"}
    entries = trace.one("Generator", "entries")
    items = sorted(
        (n for n in trace.of_kind("Generation") if n.input("generator") == entries.id),
        key=lambda n: n.id,
    )
    assert [n.value for n in items] == [5, 6, 7, 8]
    assert [n.inputs[0][1] for n in items] == ["0", "1", "2", "3"]
    # Each item's body step ran inside its Generation.
    for item in items:
        assert any(n.frame == item.id for n in trace.nodes)


CHECKS = """
import asyncio, gc, inspect, json, sys, warnings
sys.path.insert(0, {programs!r})
import hltpy
hltpy.trace_modules(["asyncs.workers"])
from asyncs import workers
out = {{}}
with hltpy.capture(sys.argv[1], allow_mutation=True):
    x = hltpy.trace(3)
    coroutine = workers.scale(x, 2)
    out["iscoroutine"] = inspect.iscoroutine(coroutine) and asyncio.iscoroutine(coroutine)
    out["name"] = [coroutine.__name__, coroutine.__qualname__]
    out["result"] = hltpy.from_traced(asyncio.run(coroutine))
    out["traced_result"] = hltpy.is_traced(asyncio.run(workers.scale(x, 2)))
    async def both():
        return await asyncio.gather(workers.scale(x, 1), asyncio.create_task(workers.scale(x, 4)))
    out["gathered"] = hltpy.from_traced(asyncio.run(both()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forgotten = workers.scale(x, 3)
        del forgotten
        gc.collect()
    out["warnings"] = [str(w.message) for w in caught]
print(json.dumps(out))
"""


def test_a_traced_coroutine_is_a_real_coroutine_asyncio_accepts(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-c",
            CHECKS.format(programs=str(PROGRAMS)),
            str(tmp_path / "t.parquet"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["iscoroutine"] is True
    assert out["name"] == ["scale", "scale"]
    assert out["result"] == 6 and out["traced_result"] is True
    assert out["gathered"] == [3, 12]
    # Never awaited: one warning naming the function, as untraced.
    assert out["warnings"] == ["coroutine 'scale' was never awaited"]


AWAITABLE = """
import warnings, sys, types
mod = types.ModuleType("awaitables")
exec('''
class Later:
    def __init__(self, v):
        self.v = v
    def __await__(self):
        yield
        return self.v

class Plain:
    def __init__(self, v):
        self.v = v
''', mod.__dict__)
mod.Later.__module__ = mod.Plain.__module__ = "awaitables"
sys.modules["awaitables"] = mod
import hltpy
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    hltpy.trace_modules(["awaitables"])
print([str(w.message) for w in caught])
print(type(mod.Later).__name__, type(mod.Plain).__name__)
"""


def test_a_class_an_event_loop_steps_is_left_untraced_with_a_reason():
    done = subprocess.run(
        [sys.executable, "-c", AWAITABLE], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    warned, kinds = done.stdout.splitlines()
    assert warned == (
        "['hltpy: class awaitables.Later is left untraced: it defines __await__: "
        "objects an event loop steps cannot be traced']"
    )
    assert kinds == "type TracedClass"


def test_a_coroutine_started_in_one_capture_and_ended_in_the_next_leaves_no_foreign_frames(
    tmp_path,
):
    program = f"""
import sys
sys.path.insert(0, {str(PROGRAMS)!r})
import hltpy
hltpy.trace_modules(["asyncs.workers"])
from asyncs import workers
with hltpy.capture({str(tmp_path / "first.parquet")!r}):
    running = workers.scale(hltpy.trace(2), 3)
    running.send(None)
with hltpy.capture({str(tmp_path / "second.parquet")!r}):
    x = hltpy.trace(1) + 1
    try:
        running.send(None)
    except StopIteration as done:
        print(hltpy.from_traced(done.value))
"""
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6"
    second = Trace(tmp_path / "second.parquet")
    ids = {n.id for n in second.nodes}
    assert all(n.frame is None or n.frame in ids for n in second.nodes), [
        (n.id, n.frame) for n in second.nodes
    ]
    assert not second.of_kind("Awaited")
