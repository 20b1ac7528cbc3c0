"""The interop matrix: every pinned Parquet reader (readers.py) opens every
trace hltpy writes by default and reads every value as the current pyarrow
does; DuckDB 1.1 and Spark SQL run the portable SQL (edges.sql,
constraints.sql) and get the rows hltpy-analyze gets.

The traces: the committed samples (as `make samples` wrote them), a run
rolled into segments, and a stress trace (schema/examples/stress_trace.rs)
that fills several row groups with nulls, extreme values and odd strings.
A reader that is not installed fails with the install hint; nothing is
skipped."""

import csv
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dump_trace  # noqa: E402
import readers  # noqa: E402

ROOT = HERE.parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
SAMPLES = sorted((ROOT / "samples" / "traces").rglob("*.parquet"))
# Rows of the stress trace: three row groups of 262,144 rows at most.
STRESS_ROWS = 600_000

SEGMENTED_PROGRAM = """
import sys
sys.path.insert(0, {samples!r})
import kernels, units
print(units.main(), kernels.main())
"""


def stress_trace(path, *flags):
    done = subprocess.run(
        ["cargo", "run", "--profile", "analyze", "--quiet", "-p", "hltpy-schema", "--example", "stress_trace",
         "--", str(path), str(STRESS_ROWS), *flags],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """name -> path of every trace the matrix reads (written by default)."""
    out = tmp_path_factory.mktemp("interop")
    program = out / "segmented.py"
    program.write_text(SEGMENTED_PROGRAM.format(samples=str(ROOT / "samples")))
    segmented = out / "segmented"
    done = subprocess.run(
        [sys.executable, "-m", "hltpy", "run", "-t", "units", "-t", "kernels", "--allow-mutation",
         "--segment-nodes", "150", "-o", str(segmented), str(program)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(segmented.glob("part-*.parquet"))) > 3
    found = {str(path.relative_to(ROOT)): path for path in SAMPLES}
    found["segmented run"] = segmented
    found["stress"] = stress_trace(out / "stress.parquet")
    return found


@pytest.fixture(scope="module")
def reference(traces, tmp_path_factory):
    """What the current pyarrow (this venv's) reads: name -> jsonl path."""
    out = tmp_path_factory.mktemp("reference")
    dump_trace.dump_rows("pyarrow", out, list(traces.values()))
    return {name: out / f"{index}.jsonl" for index, name in enumerate(traces)}


def reader_python(reader):
    if not reader.installed():
        pytest.fail(
            f"reader {reader.name} is not installed in {reader.venv}: {readers.INSTALL_HINT}"
        )
    return str(reader.python)


def dump(reader, mode, *args):
    return subprocess.run(
        [reader_python(reader), str(HERE / "dump_trace.py"), reader.library, mode, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def first_difference(reader, expected_path, got_path):
    """None, or a one-line account of the first row and column that differ
    (ignoring what the reader's documented limits say it cannot read)."""
    limited = dict(reader.limits)
    columns = dump_trace.COLUMNS
    with open(expected_path, encoding="utf-8") as expected, open(got_path, encoding="utf-8") as got:
        for number, (want, have) in enumerate(zip(expected, got, strict=False)):
            if want == have:
                continue
            want, have = json.loads(want), json.loads(have)
            for column, a, b in zip(columns, want, have):
                if a == b or column in limited and limit_explains(column, a, b):
                    continue
                return f"row {number} (id {want[0]}), column {column}: pyarrow reads {a!r:.200}, {reader.name} {b!r:.200}"
        rest_expected, rest_got = sum(1 for _ in expected), sum(1 for _ in got)
    if rest_expected or rest_got:
        return f"row counts differ: {rest_expected} more rows in pyarrow's reading, {rest_got} more in {reader.name}'s"
    return None


def limit_explains(column, expected, got):
    """The documented limits, exactly: fastparquet's missing list of
    structs and its NaN for a null float."""
    if column == "inputs":
        return got is None
    if column == "value_float":
        return expected is None and got == "nan"
    return False


@pytest.mark.parametrize("reader", readers.READERS, ids=lambda r: r.name)
def test_reader_reads_every_value_of_every_trace(reader, traces, reference, tmp_path):
    done = dump(reader, "--rows", tmp_path, *traces.values())
    assert done.returncode == 0, f"{reader.name} cannot read the traces:\n{done.stderr[-3000:]}"
    for index, name in enumerate(traces):
        difference = first_difference(reader, reference[name], tmp_path / f"{index}.jsonl")
        assert difference is None, f"{name}: {difference}"
    # The limits stay true: a reader that learns to read `inputs` is told
    # apart (and FORMAT.md's table gets shorter).
    if "inputs" in dict(reader.limits):
        column = dump_trace.COLUMNS.index("inputs")
        with open(tmp_path / f"{list(traces).index('stress')}.jsonl", encoding="utf-8") as rows:
            assert all(json.loads(row)[column] is None for row in rows), (
                f"{reader.name} reads inputs now"
            )


@pytest.fixture(scope="module")
def stress_byte_stream_split(tmp_path_factory):
    """The stress trace with the opt-in encoding, and the current pyarrow's
    reading of it."""
    out = tmp_path_factory.mktemp("bss")
    path = stress_trace(out / "stress-bss.parquet", "--byte-stream-split")
    dump_trace.dump_rows("pyarrow", out / "reference", [path])
    return path, out / "reference" / "0.jsonl"


@pytest.mark.parametrize("reader", readers.READERS, ids=lambda r: r.name)
def test_byte_stream_split_opens_in_the_readers_formatmd_names(
    reader, stress_byte_stream_split, tmp_path
):
    """The opt-in encoding's reader list (FORMAT.md) is what the readers do."""
    path, reference = stress_byte_stream_split
    done = dump(reader, "--rows", tmp_path, path)
    if not reader.reads_byte_stream_split:
        assert done.returncode != 0, (
            f"{reader.name} reads BYTE_STREAM_SPLIT integers: update FORMAT.md"
        )
        assert "BYTE_STREAM_SPLIT" in done.stderr.upper().replace(" ", "_"), done.stderr[-2000:]
        return
    assert done.returncode == 0, done.stderr[-3000:]
    assert first_difference(reader, reference, tmp_path / "0.jsonl") is None


def analyze_csv(*args):
    done = subprocess.run(
        [ANALYZE, *args, "--format", "csv"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    return rows[0], sorted(rows[1:])


SQL_TRACES = [path for path in SAMPLES if path.parent.name == "traces"]


@pytest.mark.parametrize("reader", [r for r in readers.READERS if r.runs_sql], ids=lambda r: r.name)
def test_portable_sql_gives_hltpy_analyzes_rows(reader, tmp_path):
    names = [str(path.relative_to(ROOT)) for path in SQL_TRACES]
    spec = {
        "traces": [[name, str(ROOT / name)] for name in names],
        "views": [["edges", (ROOT / "analyze" / "src" / "edges.sql").read_text()]],
        "queries": [
            ["edges", "SELECT trace, src, role, key, dst FROM edges"],
            ["constraints", (ROOT / "analyze" / "src" / "constraints.sql").read_text()],
        ],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = dump(reader, "--sql", tmp_path / "spec.json", tmp_path / "out")
    assert done.returncode == 0, (
        f"{reader.name} cannot run the portable SQL:\n{done.stderr[-3000:]}"
    )
    expected = {
        "edges": analyze_csv("query", "SELECT trace, src, role, key, dst FROM edges", *names),
        "constraints": analyze_csv("constraints", *names),
    }
    for query, (header, rows) in expected.items():
        got = json.loads((tmp_path / "out" / f"{query}.json").read_text())
        assert got["header"] == header, query
        assert len(rows) > 200, query
        assert got["rows"] == rows, f"{query}: {reader.name}'s rows differ from hltpy-analyze's"


def test_formatmd_readers_table_is_the_matrix():
    """FORMAT.md's "Readers" table names the matrix's readers, and says of
    each what the matrix checks (portable SQL, the opt-in encoding, limits)."""
    text = (ROOT / "schema" / "FORMAT.md").read_text()
    section = text[text.index("## Readers") :]
    section = section[: section.index("\n## ", 4)]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] not in ("reader", "---"):
            table[cells[0]] = cells[1:]
    assert sorted(table) == sorted(f"{r.library} {r.version}" for r in readers.READERS)
    for reader in readers.READERS:
        reads, sql, byte_stream_split = table[f"{reader.library} {reader.version}"]
        assert (sql == "yes") == reader.runs_sql, reader.name
        assert byte_stream_split == ("yes" if reader.reads_byte_stream_split else "no"), reader.name
        assert reads.startswith("every column but") == any(
            column == "inputs" for column, _ in reader.limits
        )
