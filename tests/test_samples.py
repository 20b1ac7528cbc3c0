"""The committed sample traces (samples/traces, read by the analyzer's
snapshot tests) are what capture writes today: a fresh capture of every
sample holds the same nodes. After an intended change to capture, refresh
them with `make samples` and review the analyzer snapshots that move."""

import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "samples" / "traces"
SAMPLES = ["addx", "seed_graph", "units", "kernels"]
# Differ from run to run by nature: the thread ident and the wall-clock
# times; source paths are absolute (CPython makes them so), so only their
# part inside the repository is compared.
RUN_SPECIFIC_COLUMNS = {"thread"}
RUN_SPECIFIC_KEYS = {b"hltpy.start_time", b"hltpy.end_time", b"hltpy.argv", b"ARROW:schema"}


def in_repository(path):
    return path and path[path.rindex("/samples/") + 1 :]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    done = subprocess.run(
        [sys.executable, "samples/run_samples.py", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_committed_trace_matches_a_fresh_capture(fresh, name):
    committed = pq.read_table(COMMITTED / f"{name}.parquet")
    now = pq.read_table(fresh / f"{name}.parquet")
    assert committed.column_names == now.column_names
    assert committed.num_rows == now.num_rows, "run `make samples` and review the snapshot diffs"
    for column in committed.column_names:
        if column in RUN_SPECIFIC_COLUMNS:
            continue
        values = committed.column(column).to_pylist(), now.column(column).to_pylist()
        if column == "file":
            values = tuple([in_repository(path) for path in paths] for paths in values)
        assert values[0] == values[1], (
            f"{name}: column {column} differs from a fresh capture; run `make samples` and review the snapshot diffs"
        )
    keep = lambda m: {k: v for k, v in m.items() if k not in RUN_SPECIFIC_KEYS}  # noqa: E731
    assert keep(pq.read_metadata(COMMITTED / f"{name}.parquet").metadata) == keep(
        pq.read_metadata(fresh / f"{name}.parquet").metadata
    )
