"""Bad input never breaks the user's program or the trace: the file is
valid, its node count matches its rows, and nothing is lost."""

import math
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading

import hltpy
import pyarrow.parquet as pq
import pytest


def test_unwritable_path_fails_before_tracing_and_names_the_path(tmp_path):
    target = tmp_path / "missing-dir" / "trace.parquet"
    with pytest.raises(OSError) as err:
        with hltpy.capture(target):
            raise AssertionError("the block must not run")
    assert str(target) in str(err.value)
    assert not hltpy._hltpy.capturing()
    with pytest.raises(OSError, match="is a directory"):
        hltpy.capture(tmp_path).start()


def test_repr_that_raises_is_recorded_not_raised(captured):
    class Grumpy:
        def __repr__(self):
            raise ValueError("no repr for you")

    with captured() as run:
        g = hltpy.trace(Grumpy())
        same = g.__class__
    assert same is Grumpy
    const = run.trace.nodes[0]
    assert const.value.startswith("<repr of") and "raised ValueError" in const.value


def test_repr_that_uses_traced_values_records_nothing_extra(captured):
    class Chatty:
        def __init__(self):
            self.inner = hltpy.trace(1)

        def __repr__(self):
            return f"Chatty({self.inner + 1})"

    with captured() as run:
        hltpy.trace(Chatty())
    # One Const from trace(1) in __init__, one for the object; the repr's
    # own `self.inner + 1` is hltpy's doing and is not recorded.
    assert run.trace.nodes[1].value == "Chatty(2)"


def test_arrays_and_deques_print_as_far_as_they_fit(captured):
    import array
    import collections

    short = [
        array.array("d", [1.5, 2.0]),
        array.array("b"),
        collections.deque([1, "a"], maxlen=3),
        collections.deque(),
    ]
    long = [array.array("d", range(100_000)), collections.deque(range(100_000))]
    with captured(max_repr=60) as run:
        for value in short + long:
            hltpy.trace(value)
    recorded = [n.value for n in run.trace.nodes]
    # Short ones exactly as Python prints them; long ones cut, never whole.
    assert recorded[:4] == [repr(v) for v in short]
    assert recorded[4].startswith("array('d', [0.0, 1.0, 2.0,") and len(recorded[4]) <= 64
    assert recorded[5].startswith("deque([0, 1, 2,") and len(recorded[5]) <= 64


def test_big_ints_nan_infinities_and_lone_surrogates(captured):
    with captured() as run:
        big = hltpy.trace(2**100) + 1
        hltpy.trace(2**100_000)
        for v in (math.nan, math.inf, -math.inf):
            hltpy.trace(v)
        odd = hltpy.trace("a\ud800b")
        long_text = hltpy.trace("x" * 10_000)
    assert hltpy.from_traced(big) == 2**100 + 1
    nodes = run.trace.nodes
    assert nodes[2].value == str(2**100 + 1) and nodes[2].row["value_int"] is None
    assert nodes[3].value == "<int of 100001 bits>"
    floats = [n.row["value_float"] for n in nodes[4:7]]
    assert math.isnan(floats[0]) and floats[1:] == [math.inf, -math.inf]
    assert nodes[7].row["value_str"] is None and "\\ud800" in nodes[7].value
    assert nodes[8].row["value_str"] is None and len(nodes[8].value) <= 201
    assert hltpy.from_traced(odd) == "a\ud800b" and len(hltpy.from_traced(long_text)) == 10_000


def test_file_is_complete_when_the_block_raises(captured):
    run = captured()
    with pytest.raises(KeyError):
        with run:
            x = hltpy.trace({"a": 1})
            x["b"]
    assert run.trace.metadata["hltpy.closed_cleanly"] == "true"
    assert run.trace.metadata["hltpy.end_reason"].startswith("raised KeyError")
    # The failed lookup is recorded with the exception as its value.
    assert [n.kind for n in run.trace.nodes] == ["Const", "Const", "GetItem"]
    assert run.trace.nodes[2].value == "raised KeyError('b')"


def test_two_threads_tracing_at_once_lose_nothing(captured):
    steps = 20000
    results = {}
    # Both threads are alive for the whole run, so their ids differ and
    # their operations interleave (CPython switches threads every 5 ms).
    started, finished = threading.Barrier(2), threading.Barrier(2)

    def work(name, start):
        started.wait()
        x = hltpy.trace(start)
        for _ in range(steps):
            x = x + 1
        results[name] = hltpy.from_traced(x)
        finished.wait()

    with captured(flush_every=500) as run:
        threads = [threading.Thread(target=work, args=(n, s)) for n, s in (("a", 0), ("b", 10**6))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {"a": steps, "b": 10**6 + steps}
    trace = run.trace
    # Per thread: the traced start, one Const `1` for the loop's line (per
    # thread), and the adds.
    assert len(trace.nodes) == 2 * (2 + steps)
    by_thread = {}
    for node in trace.nodes:
        by_thread.setdefault(node.thread, []).append(node)
    assert len(by_thread) == 2
    for nodes in by_thread.values():
        adds = [n for n in nodes if n.kind == "UDispatch"]
        assert len(adds) == steps
        # Each add consumes the previous result of its own thread.
        for before, after in zip(adds, adds[1:]):
            assert after.input("self") == before.id
            assert trace[after.input("self")].thread == after.thread


def run_python(code, tmp_path, **kwargs):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, **kwargs
    )


def test_capture_left_running_at_exit_is_written_and_marked_unclean(tmp_path):
    done = run_python(
        """
        import hltpy
        hltpy.capture("left.parquet").start()
        x = hltpy.trace(1) + 2
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    metadata = pq.read_metadata(tmp_path / "left.parquet").metadata
    assert metadata[b"hltpy.closed_cleanly"] == b"false"
    assert pq.read_metadata(tmp_path / "left.parquet").num_rows == 3


def test_killed_process_leaves_no_half_written_trace_under_the_name(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import hltpy, time\n"
            "with hltpy.capture('killed.parquet', flush_every=10):\n"
            "    x = hltpy.trace(0)\n"
            "    for _ in range(100): x = x + 1\n"
            "    print('ready', flush=True)\n"
            "    time.sleep(60)\n",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed.parquet").exists()
    assert (tmp_path / "killed.parquet.partial").exists()


def test_trace_reads_back_with_the_rust_reader_contract(captured):
    # The metadata keys FORMAT.md promises are all present.
    with captured() as run:
        hltpy.trace(1) + 1
    keys = set(run.trace.metadata)
    for key in [
        "hltpy.format",
        "hltpy.format_version",
        "hltpy.version",
        "hltpy.python_version",
        "hltpy.argv",
        "hltpy.traced_modules",
        "hltpy.start_time",
        "hltpy.end_time",
        "hltpy.node_count",
        "hltpy.closed_cleanly",
        "hltpy.end_reason",
    ]:
        assert key in keys, key
    assert run.trace.metadata["hltpy.format"] == "hltpy-trace"
    assert os.path.basename(sys.argv[0]) in run.trace.metadata["hltpy.argv"]
    assert pathlib.Path(run.path).stat().st_size > 0
