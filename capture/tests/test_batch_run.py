"""`python -m hltpy run`, the HLTPY_TRACE environment form, segments and
multiprocessing: real subprocesses, real signals, files read back."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow.parquet as pq
import pytest

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
ROOT = pathlib.Path(__file__).resolve().parents[2]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))

PROGRAM = """
import sys, time, units
d = units.metres(100.0)
t = units.seconds(9.58)
print("speed", units.speed(d, t), flush=True)
mode = sys.argv[1] if len(sys.argv) > 1 else "return"
if mode == "exit":
    sys.exit(3)
if mode == "raise":
    raise RuntimeError("boom")
if mode == "wait":
    print("ready", flush=True)
    x = units.metres(0.0)
    while True:
        x = x + units.metres(1.0)
        time.sleep(0.001)
if mode == "blocked":
    # The main thread never sees SIGTERM (blocked) and sleeps in C: the
    # Python handler cannot run, as in a pool worker that the signal
    # reached just before it waited on a semaphore.
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    print("ready", flush=True)
    time.sleep(120)
if mode == "busy":
    print("ready", flush=True)
    x = units.metres(0.0)
    while True:
        x = x + units.metres(1.0)
"""


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "units.py").write_text((SAMPLES / "units.py").read_text())
    (tmp_path / "prog.py").write_text(textwrap.dedent(PROGRAM))
    return tmp_path


def hltpy_run(workdir, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "hltpy", "run", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        **kwargs,
    )


def metadata(path):
    return {k.decode(): v.decode() for k, v in pq.read_metadata(path).metadata.items()}


def assert_complete(path):
    meta = metadata(path)
    assert meta["hltpy.closed_cleanly"] == "true", meta
    assert int(meta["hltpy.node_count"]) == pq.read_metadata(path).num_rows > 0
    return meta


def test_run_keeps_argv_and_exit_code_and_records_modules(workdir):
    done = hltpy_run(workdir, "-t", "units", "-o", "out.parquet", "prog.py", "exit")
    assert done.returncode == 3, done.stderr
    assert "speed 10.43" in done.stdout
    meta = assert_complete(workdir / "out.parquet")
    assert json.loads(meta["hltpy.traced_modules"]) == ["units"]
    assert json.loads(meta["hltpy.argv"]) == ["prog.py", "exit"]
    assert meta["hltpy.end_reason"] == "the program called sys.exit(3)"


def test_run_of_a_raising_script_keeps_its_traceback_and_a_complete_file(workdir):
    done = hltpy_run(workdir, "-t", "units", "-o", "out.parquet", "prog.py", "raise")
    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stderr
    assert (
        assert_complete(workdir / "out.parquet")["hltpy.end_reason"] == "raised RuntimeError: boom"
    )


def test_run_with_dash_m_runs_a_module_as_main(workdir):
    done = hltpy_run(workdir, "-t", "units", "-o", "m.parquet", "-m", "prog", "return")
    assert done.returncode == 0, done.stderr
    assert json.loads(metadata(workdir / "m.parquet")["hltpy.argv"])[1:] == ["return"]


def start_looping(workdir, *args):
    """Starts `python -m hltpy run -t units ARGS` on a looping mode of the
    program and returns once its loop is running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hltpy", "run", "-t", "units", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A child inherits an ignored SIGINT (`make test &`, nohup), and
        # CPython then installs no KeyboardInterrupt handler: give it the
        # default disposition, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in process.stdout:  # ends at EOF: a child that died is reported, not waited for
        if "ready" in line:
            return process
    process.wait(timeout=30)
    raise AssertionError(
        f"the child ended ({process.returncode}) before its loop ran: {process.stderr.read()}"
    )


@pytest.mark.parametrize(
    "sig, code, reason",
    [
        (signal.SIGINT, -signal.SIGINT, "interrupted by SIGINT"),
        (signal.SIGTERM, -signal.SIGTERM, "terminated by SIGTERM"),
    ],
)
def test_signals_still_give_a_complete_trace(workdir, sig, code, reason):
    process = start_looping(workdir, "-o", "sig.parquet", "prog.py", "wait")
    time.sleep(0.2)
    process.send_signal(sig)
    process.communicate(timeout=30)
    assert process.returncode == code
    meta = assert_complete(workdir / "sig.parquet")
    assert meta["hltpy.end_reason"] == reason


def test_sigterm_finishes_the_trace_while_the_main_thread_waits_in_c(workdir):
    # Python runs signal handlers on the main thread only, when it next runs
    # bytecode; the session's watcher thread acts on SIGTERM at once. Without
    # it this run slept on for two minutes (and a Pool worker that
    # `Pool.terminate()` reached just before its semaphore wait, forever).
    process = start_looping(workdir, "-o", "blocked.parquet", "prog.py", "blocked")
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("SIGTERM did not end the program while its main thread waited")
    assert process.returncode == -signal.SIGTERM
    assert (
        assert_complete(workdir / "blocked.parquet")["hltpy.end_reason"] == "terminated by SIGTERM"
    )


def test_ctrl_c_inside_traced_work_stops_the_program_every_time(workdir):
    # Without sleeping, SIGINT mostly lands inside hltpy's own calls (a
    # __repr__, a type name); it must still stop the program. It used to be
    # lost there about once in twenty runs, leaving the program spinning.
    for attempt in range(10):
        process = start_looping(workdir, "-o", "busy.parquet", "prog.py", "busy")
        time.sleep(0.05 + 0.01 * attempt)
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"attempt {attempt}: SIGINT was lost; the program kept running")
        assert process.returncode == -signal.SIGINT
        assert (
            assert_complete(workdir / "busy.parquet")["hltpy.end_reason"] == "interrupted by SIGINT"
        )


def test_twenty_concurrent_runs_write_twenty_files(workdir):
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hltpy",
                "run",
                "-t",
                "units",
                "-o",
                "traces/{script}-{pid}-{time}.parquet",
                "prog.py",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(20)
    ]
    pids = set()
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        pids.add(process.pid)
    files = sorted((workdir / "traces").glob("*.parquet"))
    assert len(files) == 20
    assert {int(f.name.split("-")[1]) for f in files} == pids
    rows = {pq.read_metadata(f).num_rows for f in files}
    assert len(rows) == 1  # the same program traced the same way every time
    for f in files:
        assert_complete(f)


def test_environment_form_traces_a_process_whose_command_line_is_unchanged(workdir):
    env = dict(
        os.environ, HLTPY_TRACE="env-{pid}.parquet", HLTPY_MODULES="units", HLTPY_VALUES="scalars"
    )
    done = subprocess.run(
        [sys.executable, "prog.py", "exit"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    files = list(workdir.glob("env-*.parquet"))
    assert len(files) == 1
    meta = assert_complete(files[0])
    assert json.loads(meta["hltpy.argv"]) == ["prog.py", "exit"]
    # values="scalars" from the environment: no printed values at all.
    assert (
        pq.read_table(files[0]).column("value_repr").null_count
        == pq.read_metadata(files[0]).num_rows
    )


def test_nothing_traced_is_said_clearly_and_writes_no_empty_file(workdir):
    done = hltpy_run(workdir, "-t", "not_a_module", "-o", "none.parquet", "prog.py")
    assert done.returncode == 0
    assert "nothing was traced" in done.stderr and "not_a_module were never imported" in done.stderr
    assert not (workdir / "none.parquet").exists()
    assert not (workdir / "none.parquet.partial").exists()
    done = hltpy_run(workdir, "-t", "units", "-t", "typo_mod", "-o", "some.parquet", "prog.py")
    assert "typo_mod were never imported" in done.stderr
    assert (workdir / "some.parquet").exists()


def test_bad_command_lines_are_explained(workdir):
    assert "no such script" in hltpy_run(workdir, "missing.py").stderr
    assert (
        "bad output template"
        in hltpy_run(workdir, "-t", "units", "-o", "{nope}.parquet", "prog.py").stderr
    )
    unwritable = hltpy_run(workdir, "-t", "units", "-o", "prog.py/x.parquet", "prog.py")
    assert unwritable.returncode == 2 and "prog.py/x.parquet" in unwritable.stderr


def test_segments_survive_sigkill_and_read_as_one_trace(workdir):
    process = start_looping(workdir, "--segment-nodes", "500", "-o", "segs", "prog.py", "wait")
    deadline = time.time() + 60
    while len(list((workdir / "segs").glob("part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    parts = sorted((workdir / "segs").glob("part-*.parquet"))
    assert len(parts) >= 3
    for index, part in enumerate(parts):
        meta = assert_complete(part)
        assert meta["hltpy.segment"] == str(index) and meta["hltpy.last_segment"] == "false"
    checked = subprocess.run(
        [ANALYZE, "check", str(workdir / "segs")], capture_output=True, text=True
    )
    assert checked.returncode == 1, checked.stderr  # read, but the run did not end
    total = sum(pq.read_metadata(p).num_rows for p in parts)
    assert f"{total} nodes in {len(parts)} segments" in checked.stdout
    assert "last segment is missing" in checked.stdout


def test_segments_of_a_finished_run_end_with_the_last_one(workdir):
    done = hltpy_run(workdir, "-t", "units", "--segment-nodes", "20", "-o", "segs", "prog.py")
    assert done.returncode == 0, done.stderr
    parts = sorted((workdir / "segs").glob("part-*.parquet"))
    assert len(parts) > 2
    assert metadata(parts[-1])["hltpy.last_segment"] == "true"
    checked = subprocess.run(
        [ANALYZE, "check", str(workdir / "segs")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Node ids run on across segments: the run is one trace.
    ids = [i for p in parts for i in pq.read_table(p).column("id").to_pylist()]
    assert sorted(ids) == list(range(len(ids)))


CHILDREN = """
import multiprocessing, sys, units

def work(v):
    return units.speed(units.metres(v), units.seconds(2.0)).value

if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1])
    with multiprocessing.Pool(2) as pool:
        print(pool.map(work, [10.0, 20.0]))
    print(work(30.0))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_write_their_own_traces(workdir, method):
    (workdir / "children.py").write_text(textwrap.dedent(CHILDREN))
    done = hltpy_run(
        workdir, "-t", "units", "-o", "mp/trace.parquet", "children.py", method, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "[5.0, 10.0]" in done.stdout
    parent = workdir / "mp" / "trace.parquet"
    assert_complete(parent)
    children = [p for p in (workdir / "mp").glob("trace.*.parquet")]
    assert len(children) >= 1, list((workdir / "mp").iterdir())
    for child in children:
        meta = assert_complete(child)
        assert json.loads(meta["hltpy.traced_modules"]) == ["units"]
    kinds = {k for c in children for k in pq.read_table(c).column("kind").to_pylist()}
    assert "Call" in kinds
