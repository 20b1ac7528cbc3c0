"""Every option of `python -m hltpy run`, and every HLTPY_* variable of the
environment form, changes the trace it names, in the traced process and in
its multiprocessing children (spawned ones get them through the
environment, forked ones from the parent's session): each case checks the
option's effect and that a run without it lacks that effect."""

import os
import pathlib
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

PROGRAMS = pathlib.Path(__file__).resolve().parent / "programs"


def traces(directory):
    """Each trace under `directory`: a file, or a directory of segments."""
    found = {}
    for path in sorted(p for p in directory.rglob("*.parquet") if p.is_file()):
        owner = path.parent if path.name.startswith("part-") else path
        found.setdefault(owner, []).append(path)
    return found


def rows(files):
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def names(files, kind):
    return {r["name"] for r in rows(files) if r["kind"] == kind}


def encodings(files, column):
    found = set()
    for f in files:
        meta = pq.read_metadata(f)
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                if chunk.path_in_schema == column:
                    found |= set(chunk.encodings)
    return found


# (id, flags, environment, what a trace written with it has, output name):
# each check is a function of the trace's files and of the run's stdout.
CASES = [
    (
        "values-types",
        ["--values", "types"],
        {"HLTPY_VALUES": "types"},
        lambda files, out: all(
            r[c] is None
            for r in rows(files)
            for c in ("value_int", "value_float", "value_str", "value_repr")
        ),
    ),
    (
        "values-scalars",
        ["--values", "scalars"],
        {"HLTPY_VALUES": "scalars"},
        lambda files, out: (
            all(r["value_repr"] is None for r in rows(files))
            and any(r["value_float"] is not None for r in rows(files))
        ),
    ),
    (
        "max-repr",
        ["--max-repr", "20"],
        {"HLTPY_MAX_REPR": "20"},
        lambda files, out: max(len(r["value_repr"] or "") for r in rows(files)) <= 21,
    ),
    # Batches handed to the writer thread leave no mark in the file: each
    # process says what its capture was given.
    (
        "flush-every",
        ["--flush-every", "8"],
        {"HLTPY_FLUSH_EVERY": "8"},
        lambda files, out: out.count("flush_every 8") == 2,
    ),
    (
        "segment-nodes",
        ["--segment-nodes", "30"],
        {"HLTPY_SEGMENT_NODES": "30"},
        lambda files, out: len(files) >= 3 and all(f.name.startswith("part-") for f in files),
    ),
    (
        "no-locations",
        ["--no-locations"],
        {"HLTPY_LOCATIONS": "0"},
        lambda files, out: all(r["file"] is None and r["line"] is None for r in rows(files)),
    ),
    (
        "conversions",
        ["--conversions"],
        {"HLTPY_CONVERSIONS": "1"},
        lambda files, out: "__int__" in names(files, "UDispatch"),
    ),
    (
        "allow-mutation",
        ["--allow-mutation"],
        {"HLTPY_ALLOW_MUTATION": "1"},
        lambda files, out: (
            out.count("'mutated'") == 2 and sum(r["kind"] == "SetAttr" for r in rows(files)) == 2
        ),
    ),
    (
        "trace-callable",
        ["--trace-callable", "math.sqrt"],
        {"HLTPY_TRACE_CALLABLES": "math.sqrt"},
        lambda files, out: "sqrt" in names(files, "UCall"),
    ),
    (
        "boundary",
        ["--boundary", "html.escape"],
        {"HLTPY_BOUNDARIES": "html.escape"},
        lambda files, out: "escape" in names(files, "UCall"),
    ),
    (
        "no-boundary",
        ["--no-boundary", "all"],
        {"HLTPY_BOUNDARIES": "none"},
        lambda files, out: "join" not in names(files, "UCall"),
    ),
    (
        "byte-stream-split",
        ["--byte-stream-split"],
        {"HLTPY_BYTE_STREAM_SPLIT": "1"},
        lambda files, out: "BYTE_STREAM_SPLIT" in encodings(files, "inputs.list.item.src"),
    ),
]


def run(tmp_path, form, method, flags=(), environment=None):
    """The program with a child, traced by the command line or by the
    environment form: its traces (parent's and child's) and its stdout."""
    for name in ("options_dsl.py", "options_prog.py"):
        shutil.copy(PROGRAMS / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HLTPY_")}
    if form == "flags":
        command = [
            sys.executable,
            "-m",
            "hltpy",
            "run",
            "-t",
            "options_dsl",
            "-o",
            "out/trace.parquet",
            *flags,
            "options_prog.py",
            method,
        ]
    else:
        env |= {
            "HLTPY_TRACE": "out/trace-{pid}.parquet",
            "HLTPY_MODULES": "options_dsl",
            **(environment or {}),
        }
        command = [sys.executable, "options_prog.py", method]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    found = traces(tmp_path / "out")
    assert len(found) == 2, found  # the parent's and the child's
    return found, done.stdout


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A run with no option: what each option's effect must differ from."""
    return run(tmp_path_factory.mktemp("plain"), "flags", "spawn")


@pytest.mark.parametrize("form", ["flags", "environment"])
@pytest.mark.parametrize(
    ("case", "flags", "environment", "effect"), CASES, ids=[c[0] for c in CASES]
)
def test_each_option_reaches_the_trace_and_a_spawned_child(
    tmp_path, plain, form, case, flags, environment, effect
):
    found, out = run(tmp_path, form, "spawn", flags, environment)
    for trace, files in found.items():
        assert effect(files, out), (case, form, trace)
    plain_traces, plain_out = plain
    assert not any(effect(files, plain_out) for files in plain_traces.values()), (
        f"{case}: the plain run has it too"
    )


def test_options_reach_a_forked_child(tmp_path, plain):
    """A forked child starts its capture from the parent's session: the
    options are the parent's (here --values types, no locations)."""
    found, _ = run(tmp_path, "flags", "fork", ["--values", "types", "--no-locations"])
    for files in found.values():
        assert all(
            r["value_repr"] is None and r["value_float"] is None and r["line"] is None
            for r in rows(files)
        )
