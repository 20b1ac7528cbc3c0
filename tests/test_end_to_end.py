"""Across crates: Python programs -> capture -> trace files -> hltpy-analyze."""

import collections
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))


@pytest.fixture(scope="module")
def sample_traces(tmp_path_factory):
    out = tmp_path_factory.mktemp("traces")
    done = subprocess.run(
        [sys.executable, str(ROOT / "samples" / "run_samples.py"), str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "addx: main() = [17, 7, 42]" in done.stdout
    assert "seed_graph: main() = [1, 2, 3, 4]" in done.stdout
    return sorted(out.glob("*.parquet"))


def test_analyzer_reads_every_sample_trace_and_agrees_with_pyarrow(sample_traces):
    assert len(sample_traces) == 4
    done = subprocess.run(
        [ANALYZE, "check", *map(str, sample_traces)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for path in sample_traces:
        kinds = collections.Counter(
            pq.read_table(path, columns=["kind"]).column("kind").to_pylist()
        )
        expected = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        assert f"{path}: {sum(kinds.values())} nodes" in done.stdout
        assert f"kinds: {expected}" in done.stdout


def test_analyzer_refuses_a_trace_cut_short(sample_traces, tmp_path):
    data = sample_traces[0].read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    done = subprocess.run([ANALYZE, "check", str(cut)], capture_output=True, text=True)
    assert done.returncode == 2
    assert str(cut) in done.stderr and "cut short" in done.stderr


def test_query_over_a_directory_of_sample_traces(sample_traces):
    directory = sample_traces[0].parent
    sql = (
        "SELECT c.name, count(*) AS calls FROM calls c "
        "WHERE c.trace LIKE '%addx.parquet' GROUP BY c.name ORDER BY c.name"
    )
    done = subprocess.run(
        [ANALYZE, "query", sql, str(directory), "--format", "csv"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # AddX(10).add_to(5, z=2), AddX2(3).add_twice(1) (two add_to inside), plus2(40), main()
    assert done.stdout.splitlines() == [
        "name,calls",
        "add_to,3",
        "add_twice,1",
        "addx.AddX,2",
        "addx.AddX2,1",
        "main,1",
        "plus2,1",
    ]
    done = subprocess.run(
        [
            ANALYZE,
            "query",
            "SELECT count(*) AS n FROM traces WHERE complete",
            str(directory),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.splitlines() == ["n", str(len(sample_traces))]


def test_expr_reproduces_the_seed_examples(sample_traces, tmp_path):
    addx = next(p for p in sample_traces if p.name == "addx.parquet")
    first_add_to = subprocess.run(
        [
            ANALYZE,
            "query",
            "SELECT min(id) FROM nodes WHERE name = 'add_to' AND kind = 'Dispatch'",
            str(addx),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    ).stdout.splitlines()[1]
    done = subprocess.run(
        [ANALYZE, "expr", str(addx), "--node", first_add_to], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "AddX(10).add_to(5, z=2)"
    script = tmp_path / "two.py"
    script.write_text(
        "import hltpy\n"
        "with hltpy.capture('two.parquet'):\n"
        "    r = hltpy.trace(2) + 3\n"
        "with hltpy.capture('slices.parquet'):\n"
        "    x, y = hltpy.trace({'a': 1}), hltpy.trace([1, 2, 3, 4])\n"
        "    r = (x['a'] + 3) * y[1:-1][0]\n"
    )
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True)
    two = subprocess.run(
        [ANALYZE, "expr", str(tmp_path / "two.parquet")], capture_output=True, text=True
    )
    assert two.stdout.strip() == "2 + 3"
    slices = subprocess.run(
        [ANALYZE, "expr", str(tmp_path / "slices.parquet")], capture_output=True, text=True
    )
    assert slices.stdout.strip() == "({'a': 1}['a'] + 3) * [1, 2, 3, 4][1:-1][0]"
