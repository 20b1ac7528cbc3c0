"""hltpy.analysis, the analyzer from Python: each method against the
command it runs (the same rows, the same documents, the same text), its
errors as exceptions, its progress display, and the wheel metadata that
ties `hltpy[analyze]` to the analyzer's version."""

import csv
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import hltpy
import pyarrow
import pytest
from capturing import capture_module
from hltpy import analysis
from hltpy.analysis import AnalyzeError, open_trace

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
import readers  # noqa: E402

ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
TRACES = ROOT / "samples" / "traces"
ADDX = TRACES / "addx.parquet"
UNITS = TRACES / "units.parquet"


@pytest.fixture(autouse=True)
def analyzer(monkeypatch):
    monkeypatch.setenv("HLTPY_ANALYZE", ANALYZE)


def cli(*args, status=0):
    done = subprocess.run([ANALYZE, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == status, done.stderr
    return done.stdout


def cli_rows(*args):
    """A query's rows as the CLI writes them in CSV (all text)."""
    return list(csv.reader(io.StringIO(cli("query", "--format", "csv", *args))))


def as_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_query_gives_the_rows_the_cli_gives_as_an_arrow_table():
    sql = "SELECT id, kind, name, frame FROM nodes ORDER BY id"
    table = open_trace(ADDX).query(sql)
    assert isinstance(table, pyarrow.Table)
    rows = cli_rows(sql, ADDX)
    assert table.column_names == rows[0]
    assert [[as_text(v) for v in row.values()] for row in table.to_pylist()] == rows[1:]
    # Types survive (no text parsing): ids are integers, kinds strings.
    assert pyarrow.types.is_unsigned_integer(table.schema.field("id").type)
    assert table.column("id").to_pylist() == list(range(table.num_rows))


def test_tables_by_name_over_several_traces():
    trace = open_trace([ADDX, UNITS])
    nodes = trace.nodes
    expected = int(cli_rows("SELECT count(*) FROM nodes", ADDX, UNITS)[1][0])
    assert nodes.num_rows == expected
    assert set(nodes.column("trace").to_pylist()) == {str(ADDX), str(UNITS)}
    calls = trace.calls
    assert calls.num_rows == int(cli_rows("SELECT count(*) FROM calls", ADDX, UNITS)[1][0])
    assert trace.table("eval").num_rows == expected
    with pytest.raises(ValueError, match="no table 'nodez'.*nodes, edges"):
        trace.table("nodez")
    # A glob, as the commands take it.
    every = open_trace(str(TRACES / "*.parquet"))
    assert [s.trace for s in every.summary()] == sorted(
        str(path) for path in TRACES.glob("*.parquet")
    )
    with pytest.raises(FileNotFoundError, match="no trace at"):
        open_trace(str(TRACES / "*.nothing"))


def test_an_empty_result_keeps_its_columns():
    table = open_trace(ADDX).query("SELECT id, name FROM nodes WHERE id > 1000000")
    assert table.num_rows == 0
    assert table.column_names == ["id", "name"]


def test_summary_is_the_cli_summary_as_data():
    (summary,) = open_trace(UNITS).summary()
    text = cli("summary", UNITS)
    assert f"{summary.nodes} nodes" in text
    assert summary.complete
    assert summary.kinds and sum(summary.kinds.values()) == summary.nodes
    for kind, count in summary.kinds.items():
        assert f"{kind} {count}" in text
    kind, name, count = summary.calls[0]
    assert re.search(rf"{kind}\s+{re.escape(name)}\s+{count}\n", text)
    assert f"deepest call nesting: {summary.deepest_nesting}\n" in text
    assert (
        summary.traced_modules
        == json.loads(cli("summary", "--format", "json", UNITS))[0]["traced_modules"]
    )


def test_eval_and_what_if_are_the_cli_documents():
    trace = open_trace(ADDX)
    plain = trace.eval()
    (document,) = json.loads(cli("eval", "--format", "json", ADDX))
    assert plain.reports[0].counts == document["counts"]
    assert plain.counts == document["counts"]
    assert not plain.found
    what_if = trace.eval(set={"add_to.y": 6})
    (document,) = json.loads(cli("eval", "--format", "json", "--set", "add_to.y=6", ADDX))
    report = what_if.reports[0]
    assert report.settings == ["add_to.y=6"]
    assert report.results == document["results"]
    assert report.results, "the what-if changed no result"
    # A string value is given as the literal it is.
    strings = trace.eval(set={"add_to.y": "6"})
    assert strings.reports[0].settings == ["add_to.y='6'"]


def test_constraints_infer_expr_compile_render_report():
    trace = open_trace(ADDX)
    constraints = trace.constraints()
    assert constraints.num_rows == len(cli_rows("SELECT * FROM constraints", ADDX)) - 1
    has_attr = trace.constraints(kind="HasAttr")
    assert set(has_attr.column("kind").to_pylist()) == {"HasAttr"}
    inference = trace.infer()
    assert inference.text == cli("infer", ADDX)
    assert inference.signatures.num_rows == len(cli_rows("SELECT * FROM signatures", ADDX)) - 1
    assert inference.requirements.num_rows > 0
    assert trace.expr() == cli("expr", ADDX)
    assert trace.expr(3, depth=2) == cli("expr", ADDX, "--node", 3, "--depth", 2)
    assert trace.compile(name="k") == cli("compile", ADDX, "--name", "k")
    drawing = trace.render(depth=2)
    assert "<svg" in drawing.svg and drawing._repr_svg_() == drawing.svg
    dot = cli("render", ADDX, "--depth", 2)
    assert drawing.svg.count('class="node"') == len(re.findall(r"^\s*(?:n|more)\d+\[", dot, re.M))
    report = trace.report()
    assert report.html.startswith("<!DOCTYPE html>")
    framed = report._repr_html_()
    assert framed.startswith("<iframe") and "&lt;!DOCTYPE html&gt;" in framed


def test_dimension_findings_are_found_not_raised():
    inference = open_trace(UNITS).infer(dimension_attr="unit")
    assert inference.found
    assert "dimensions" in inference.text


def test_diff_is_the_cli_document():
    before, after = TRACES / "diff" / "before.parquet", TRACES / "diff" / "after.parquet"
    result = open_trace(before).diff(open_trace(after), limit=3)
    document = json.loads(cli("diff", "--format", "json", "--limit", 3, before, after, status=1))
    assert result.data == document
    assert not result.equivalent
    assert result.first_divergence == document["first_divergence"]
    assert open_trace(before).diff(before).equivalent


def test_errors_are_exceptions_with_the_analyzers_message():
    trace = open_trace(ADDX)
    with pytest.raises(AnalyzeError) as raised:
        trace.query("SELECT nope FROM nodes")
    assert raised.value.status == 2
    assert raised.value.command == "query"
    # The engine's one line, then (as the CLI answers a SQL mistake) the tables.
    first, *rest = raised.value.message.splitlines()
    assert "nope" in first and "nodes(trace, id, kind" in "\n".join(rest)
    assert str(raised.value).startswith("hltpy-analyze query: ")
    with pytest.raises(AnalyzeError, match="node 99999 is not in"):
        trace.expr(99999)
    with pytest.raises(AnalyzeError, match="not a Python literal|neither a node id"):
        trace.eval(set={"no such thing": 1})
    with pytest.raises(FileNotFoundError, match="no trace at 'missing.parquet'"):
        open_trace("missing.parquet")
    with pytest.raises(ValueError, match="render takes one trace; this Trace holds 2"):
        open_trace([ADDX, UNITS]).render()


def test_a_file_that_is_not_a_trace_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "notes.parquet"
    bad.write_text("not parquet")
    with pytest.raises(AnalyzeError, match="notes.parquet") as raised:
        open_trace(bad).query("SELECT count(*) FROM nodes")
    assert raised.value.status == 2


def test_the_analyzer_is_found_or_named(monkeypatch, tmp_path):
    assert analysis.analyzer_path() == ANALYZE
    monkeypatch.setenv("HLTPY_ANALYZE", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="HLTPY_ANALYZE=.*nothing.* is not a file"):
        open_trace(ADDX).query("SELECT 1")
    monkeypatch.delenv("HLTPY_ANALYZE")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(analysis.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(analysis.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match=r"pip install 'hltpy\[analyze\]'"):
        analysis.analyzer_path()


def test_a_capture_opens_its_trace(tmp_path):
    path = tmp_path / "run.parquet"
    with hltpy.capture(path) as run:
        with pytest.raises(RuntimeError, match="still running"):
            run.trace()
        total = hltpy.trace(2) * 3 + 1
    assert hltpy.from_traced(total) == 7
    trace = run.trace()
    assert trace.paths == (str(path),)
    assert trace.query("SELECT count(*) AS n FROM nodes").column("n").to_pylist() == [run.nodes]


def test_progress_is_drawn_on_a_terminal_line_and_erased(capfd):
    table = open_trace(ADDX).query("SELECT id FROM nodes", progress=True)
    err = capfd.readouterr().err
    assert f"{table.num_rows:,} rows received" in err
    assert re.search(r"query, read [\d.]+ (B|KiB|MiB) from [\d.]+ (B|KiB|MiB) of traces", err)
    assert err.endswith("\r\x1b[K"), repr(err[-40:])
    open_trace(ADDX).query("SELECT id FROM nodes", progress=False)
    assert capfd.readouterr().err == ""


def test_the_cli_writes_json_progress_lines_when_asked():
    done = subprocess.run(
        [ANALYZE, "--progress", "json", "query", "--format", "csv", "SELECT 1", ADDX],
        capture_output=True,
        text=True,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines[-1]["finished"] is True
    assert {line["progress"] for line in lines} == {"query"}
    assert lines[-1]["unit"] == "bytes" and lines[-1]["total"] == ADDX.stat().st_size


def test_arrow_output_is_refused_on_a_terminal_only():
    # Piped (as here), it is an Arrow stream pyarrow reads.
    done = subprocess.run(
        [ANALYZE, "query", "--format", "arrow", "SELECT 2 AS two", ADDX], capture_output=True
    )
    assert pyarrow.ipc.open_stream(done.stdout).read_all().to_pylist() == [{"two": 2}]


def test_the_oldest_pyarrow_turns_query_results_into_numpy(tmp_path):
    # DataFusion reads strings as views, which pyarrow 15 cannot convert:
    # the Arrow output has the plain types.
    oldest = readers.READERS[0]
    assert (oldest.library, oldest.version) == ("pyarrow", "15.0.2")
    if not oldest.installed():
        pytest.fail(readers.INSTALL_HINT)
    stream = tmp_path / "nodes.arrow"
    cli("query", "--format", "arrow", "-o", stream, "SELECT * FROM nodes", ADDX)
    program = (
        "import sys, pyarrow.ipc as ipc\n"
        "t = ipc.open_stream(open(sys.argv[1], 'rb')).read_all()\n"
        "print(t.num_rows, t.schema.field('name').type, t.schema.field('inputs').type)\n"
        "[c.to_numpy(zero_copy_only=False) for c in t.columns]\n"
    )
    done = subprocess.run(
        [str(oldest.python), "-c", program, stream], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rows = len(cli_rows("SELECT id FROM nodes", ADDX)) - 1
    assert done.stdout.startswith(f"{rows} string list<item: struct<"), done.stdout
    assert "view" not in done.stdout
    assert open_trace(ADDX).nodes.schema.field("kind").type == pyarrow.string()


def test_the_analyze_extra_pins_the_analyzers_version():
    capture = tomllib.loads((ROOT / "capture" / "pyproject.toml").read_text())
    extra = capture["project"]["optional-dependencies"]["analyze"]
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    version = workspace["workspace"]["package"]["version"]
    assert f"hltpy-analyze=={version}" in extra
    assert cli("--version").split() == ["hltpy-analyze", version]
    analyzer = tomllib.loads((ROOT / "analyze" / "pyproject.toml").read_text())
    assert analyzer["tool"]["maturin"]["bindings"] == "bin"
    assert analyzer["project"]["name"] == "hltpy-analyze"


def test_notebook_display_of_a_trace_is_bounded(tmp_path):
    # Fifteen traced functions chained 45 calls deep: the summary lists ten
    # and says how many more; the drawing is cut to a depth.
    functions = "".join(f"def f{i}(v):\n    return v + {i}\n\n" for i in range(15))
    chain = (
        "def main(v):\n    for _ in range(3):\n"
        + "".join(f"        v = f{i}(v)\n" for i in range(15))
        + "    return v\n"
    )
    path, result = capture_module(tmp_path, "many", functions + chain, "m.main(hltpy.trace(0))")
    assert result == str(3 * sum(range(15)))
    trace = open_trace(path)
    (summary,) = trace.summary()
    assert len(summary.calls) == 16
    shown = trace._repr_html_()
    assert len(re.findall(r"<tr><td>Call</td><td><code>f?\w+</code>", shown)) == 10
    assert "… 6 more (<code>.calls</code>)" in shown
    assert "4 levels deep" in shown and shown.count('class="node"') <= 120
    assert "more</" in shown or "more<" in shown  # the cut is drawn
