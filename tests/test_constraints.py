"""The constraint extraction is plain SQL that runs unchanged on another
engine: DuckDB, given the `nodes` and `edges` tables FORMAT.md describes,
gets exactly the rows `hltpy-analyze constraints` prints."""

import csv
import io
import os
import pathlib
import subprocess

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
SQL = (ROOT / "analyze" / "src" / "constraints.sql").read_text()
TRACES = [f"samples/traces/{name}.parquet" for name in ("addx", "seed_graph", "units", "kernels")]


def duckdb_rows():
    con = duckdb.connect()
    union = " UNION ALL ".join(
        f"SELECT '{t}' AS trace, * FROM read_parquet('{ROOT / t}')" for t in TRACES
    )
    con.execute(f"CREATE VIEW nodes AS {union}")
    con.execute(
        "CREATE VIEW edges AS SELECT trace, input.src AS src, input.role AS role, input.key AS key, dst "
        "FROM (SELECT trace, id AS dst, unnest(inputs) AS input FROM nodes)"
    )
    result = con.execute(f"SELECT * FROM ({SQL}) ORDER BY trace, from_id, kind, to_id")
    header = [d[0] for d in result.description]
    rows = [["" if v is None else str(v) for v in row] for row in result.fetchall()]
    return header, rows


def test_duckdb_runs_the_shipped_sql_and_gets_the_same_rows():
    done = subprocess.run(
        [ANALYZE, "constraints", *TRACES, "--format", "csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ours = list(csv.reader(io.StringIO(done.stdout)))
    header, rows = duckdb_rows()
    assert ours[0] == header
    assert len(ours) - 1 > 200
    assert ours[1:] == rows
