"""Independent oracles for what the analyzer's snapshots record: DuckDB
recomputes `summary`'s counts and the snapshot queries' rows from the same
Parquet files (reading the raw columns, none of hltpy's views or tables),
and CPython evaluates the expressions `expr` prints, over the sample
programs, to the values the trace recorded."""

import json
import os
import pathlib
import re
import subprocess
import sys

import duckdb
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
TRACES = ROOT / "samples" / "traces"
SAMPLES = ["addx", "seed_graph", "units", "kernels"]
# The schema's traced-call kinds (hltpy_schema::NodeKind::is_traced_call).
TRACED_CALLS = ("NewInit", "Call", "Dispatch", "Generator", "Coroutine")


def analyze(*args):
    done = subprocess.run(
        [ANALYZE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def duck(sql, trace):
    """Rows of `sql` over one trace's raw file, as the table `nodes`."""
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW nodes AS SELECT * FROM read_parquet('{trace}')")
    return connection.execute(sql).fetchall()


def listed_nodes(line):
    """`#9 Dispatch add_to (4), …` → [(9, 4), …]."""
    return [(int(i), int(n)) for i, n in re.findall(r"#(\d+) \S+ .*?\((\d+)\)", line)]


@pytest.mark.parametrize("sample", SAMPLES)
def test_summary_counts_agree_with_duckdb(sample):
    trace = TRACES / f"{sample}.parquet"
    text = analyze("summary", trace)
    [(nodes,)] = duck("SELECT count(*) FROM nodes", trace)
    assert re.search(rf"^  {nodes} nodes,", text, re.MULTILINE), text
    kinds = dict(
        re.findall(r"(\w+) (\d+)", re.search(r"^  kinds: (.*)$", text, re.MULTILINE).group(1))
    )
    assert {k: int(n) for k, n in kinds.items()} == dict(
        duck("SELECT kind, count(*) FROM nodes GROUP BY kind", trace)
    )
    calls_text = text.split("traced calls (kind, name, count):\n")[1].split("\n  deepest")[0]
    calls = {
        (kind, name): int(n) for kind, name, n in (line.split() for line in calls_text.splitlines())
    }
    in_list = ", ".join(f"'{k}'" for k in TRACED_CALLS)
    assert calls == {
        (k, n): c
        for k, n, c in duck(
            f"SELECT kind, name, count(*) FROM nodes WHERE kind IN ({in_list}) GROUP BY kind, name",
            trace,
        )
    }
    # Fan-in: a node's inputs; fan-out: the inputs naming it. The listed
    # nodes have those degrees, and they are the largest (ties in any order).
    fan_in = dict(duck("SELECT id, len(inputs) FROM nodes", trace))
    fan_out = dict(
        duck("SELECT i.src, count(*) FROM nodes, unnest(inputs) AS t(i) GROUP BY i.src", trace)
    )
    for label, degrees in [("fan-in", fan_in), ("fan-out", fan_out)]:
        listed = listed_nodes(re.search(rf"^  largest {label}: (.*)$", text, re.MULTILINE).group(1))
        assert listed and all(degrees[i] == n for i, n in listed), (label, listed)
        assert (
            sorted((n for _, n in listed), reverse=True)
            == sorted(degrees.values(), reverse=True)[: len(listed)]
        )


def value_text(value_int, value_float, value_bool, value_str, value_repr):
    """The `value` column of hltpy's views, from the raw columns: the
    first present, numbers as SQL prints them."""
    if value_int is not None:
        return str(value_int)
    if value_float is not None:
        return None  # SQL engines print floats differently: not compared
    if value_bool is not None:
        return "true" if value_bool else "false"
    return value_str if value_str is not None else value_repr


def rows_of(sql, trace):
    return json.loads(analyze("query", sql, trace, "--format", "json") or "[]")


@pytest.mark.parametrize("sample", SAMPLES)
def test_snapshot_queries_agree_with_duckdb(sample):
    """The snapshot queries (analyze/tests/snapshots.rs), each sample on
    its own: by kind, calls with their callable and returned value, the
    edges into a node, and hltpy's `values` view."""
    trace = TRACES / f"{sample}.parquet"
    in_list = ", ".join(f"'{k}'" for k in TRACED_CALLS)
    by_kind = rows_of(
        "SELECT kind, count(*) AS n FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') "
        "GROUP BY kind ORDER BY kind",
        trace,
    )
    assert [(r["kind"], r["n"]) for r in by_kind] == duck(
        "SELECT kind, count(*) FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') GROUP BY kind ORDER BY kind",
        trace,
    )
    calls = rows_of(
        "SELECT id, kind, name, callable, returned, value FROM calls ORDER BY id", trace
    )
    expected = []
    for id_, kind, name, inputs, *values in duck(
        f"SELECT id, kind, name, inputs, value_int, value_float, value_bool, value_str, value_repr FROM nodes "
        f"WHERE kind IN ({in_list}) ORDER BY id",
        trace,
    ):
        row = {"id": id_, "kind": kind, "name": name}
        for role, column in [("callable", "callable"), ("return", "returned")]:
            sources = [i["src"] for i in inputs if i["role"] == role]
            if sources:
                row[column] = sources[0]
        row["value"] = value_text(*values)
        expected.append(row)
    assert len(calls) == len(expected) > 0
    for got, want in zip(calls, expected):
        if want["value"] is None:
            del want["value"]
            got.pop("value", None)
        assert got == want
    # The edges into each traced call, with both ends' kinds.
    edges = rows_of(
        "SELECT e.dst, e.src, s.kind AS src_kind, e.role, e.key FROM edges e "
        "JOIN nodes s ON s.id = e.src ORDER BY e.dst, e.src, e.role, e.key",
        trace,
    )
    want = duck(
        "SELECT n.id, i.src, s.kind, i.role, i.key FROM nodes n, unnest(n.inputs) AS t(i) "
        "JOIN nodes s ON s.id = i.src ORDER BY n.id, i.src, i.role, i.key NULLS FIRST",
        trace,
    )
    assert [(r["dst"], r["src"], r["src_kind"], r["role"], r.get("key")) for r in edges] == want


def recorded_value(trace, node):
    [(value_int, value_float, value_bool, value_str, value_repr)] = duck(
        f"SELECT value_int, value_float, value_bool, value_str, value_repr FROM nodes WHERE id = {node}",
        trace,
    )
    for value in (value_int, value_float, value_bool, value_str):
        if value is not None:
            return repr(value)
    return value_repr


def main_result(trace):
    return int(rows_of("SELECT returned FROM calls WHERE name = 'main'", trace)[0]["returned"])


@pytest.mark.parametrize(
    "sample, node",
    [
        ("addx", None),
        ("seed_graph", None),
        ("kernels", None),
        ("addx", 9),
        ("units", "kinetic_energy"),
    ],
)
def test_expr_text_evaluates_to_the_recorded_value(sample, node):
    """`expr` prints a node as Python over the program's functions; CPython
    evaluates that text in the sample module and gets the value the trace
    recorded for the node (main's result, the seed's add_to, the value
    kinetic_energy returned)."""
    trace = TRACES / f"{sample}.parquet"
    if node is None:
        node = main_result(trace)
    elif isinstance(node, str):
        node = int(
            rows_of(f"SELECT returned FROM calls WHERE name = '{node}' ORDER BY id LIMIT 1", trace)[
                0
            ]["returned"]
        )
    text = analyze("expr", trace, "--node", node).strip()
    program = (
        f"import sys\nsys.path.insert(0, {str(ROOT / 'samples')!r})\nimport {sample}\n"
        f"from {sample} import *\nprint(repr({text}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (text, done.stderr)
    assert done.stdout.strip() == recorded_value(trace, node), text
