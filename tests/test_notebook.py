"""Notebooks for real: tests/notebooks/magic.ipynb and the sample
notebook executed headlessly by nbclient in a real IPython kernel (this
venv's), their outputs' MIME bundles checked; the executed notebook
rendered by nbconvert and opened in headless Chromium."""

import os
import pathlib
import shutil

import nbformat
import pytest
from browser import started_browser
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))


def execute(notebook_path, directory):
    """Runs every cell in a fresh kernel started in `directory`; the
    notebook with its outputs."""
    notebook = nbformat.read(notebook_path, as_version=4)
    os.environ["HLTPY_ANALYZE"] = ANALYZE  # the kernel inherits it
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(directory)}},
    ).execute()
    return notebook


def by_tag(notebook):
    return {
        tag: cell
        for cell in notebook.cells
        for tag in cell.metadata.get("tags", [])
        if tag != "raises-exception"
    }


def bundles(cell, output_type=None):
    """The MIME bundles a cell displayed or returned (in order)."""
    return [
        output["data"]
        for output in cell.outputs
        if output["output_type"] in ("execute_result", "display_data")
        and (output_type is None or output["output_type"] == output_type)
    ]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("notebook")
    return execute(ROOT / "tests" / "notebooks" / "magic.ipynb", directory), directory


def test_the_magic_captures_the_cell_and_shows_the_trace(executed):
    notebook, directory = executed
    cells = by_tag(notebook)
    (shown,) = bundles(cells["capture"], "execute_result")
    html = shown["text/html"]
    assert "hltpy trace" in html
    assert "<code>shapes.walk</code>" in html or "walk</code>" in html
    assert "<svg" in html and 'class="node"' in html
    assert shown["text/plain"].startswith("hltpy.open_trace(")
    # The cell really ran, in the notebook's namespace.
    (result,) = bundles(cells["result"], "execute_result")
    assert result["text/plain"] == "225"


def test_query_eval_render_report_display_in_the_notebook(executed):
    notebook, _ = executed
    cells = by_tag(notebook)
    (query,) = bundles(cells["query"], "execute_result")
    assert query["text/plain"].startswith("('pyarrow.lib',")
    # Seven Vecs made (the start, three steps, three sums), three added.
    rows = query["text/plain"].replace("\n", "").replace(" ", "")
    assert rows.endswith(
        "[{'name':'__add__','n':3},{'name':'norm2','n':1},"
        "{'name':'shapes.Vec','n':7},{'name':'walk','n':1}])"
    ), rows
    (evaluation,) = bundles(cells["eval"], "execute_result")
    assert 'class="hltpy-eval"' in evaluation["text/html"]
    assert "<th>set</th><th>changed</th>" in evaluation["text/html"]
    assert "what if walk.steps=[(1, 1), (2, 2)]" in evaluation["text/html"]
    (drawing,) = bundles(cells["render"], "execute_result")
    assert drawing["image/svg+xml"].lstrip().startswith(("<?xml", "<svg"))
    (report,) = bundles(cells["report"], "execute_result")
    assert report["text/html"].startswith('<iframe class="hltpy-report"')


def test_a_progress_bar_is_left_showing_done(executed):
    notebook, _ = executed
    cell = by_tag(notebook)["progress"]
    (bar,) = bundles(cell, "display_data")
    assert '<div class="hltpy-progress"><progress value="1.000" max="1"' in bar["text/html"]
    assert "rows received" in bar["text/html"] and "done" in bar["text/html"]
    (rows,) = bundles(cell, "execute_result")
    assert int(rows["text/plain"]) > 20


def test_mistakes_are_one_line_errors(executed):
    notebook, _ = executed
    cells = by_tag(notebook)
    # IPython prints a magic's UsageError as one line (no traceback).
    (refused,) = cells["refused"].outputs
    assert refused["output_type"] == "stream" and refused["name"] == "stderr"
    assert refused["text"] == (
        "UsageError: %%hltpy: unrecognized arguments: --no-such-option "
        "(%%hltpy --help lists the options)\n"
    )
    (error,) = [o for o in cells["error"].outputs if o["output_type"] == "error"]
    assert error["ename"] == "AnalyzeError"
    assert error["evalue"].startswith("hltpy-analyze query: ") and "nope" in error["evalue"]


def test_the_sample_notebook_runs(tmp_path):
    for name in ("addx.py",):
        shutil.copy(ROOT / "samples" / name, tmp_path / name)
    notebook = execute(ROOT / "samples" / "notebook.ipynb", tmp_path)
    errors = [
        o for cell in notebook.cells for o in cell.get("outputs", []) if o["output_type"] == "error"
    ]
    assert errors == []
    shown = [b for cell in notebook.cells if cell.cell_type == "code" for b in bundles(cell)]
    assert any("add_to" in b.get("text/html", "") for b in shown)
    assert any("image/svg+xml" in b for b in shown)


def test_the_rendered_notebook_shows_the_trace_in_chromium(executed, tmp_path):
    notebook, _ = executed
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(notebook)
    page = tmp_path / "notebook.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    )
    browser = started_browser()
    try:
        browser.open(page.as_uri())
        seen = browser.evaluate(
            """(() => {
              const trace = document.querySelector('.hltpy-trace');
              const svg = trace.querySelector('svg');
              const box = svg.getBoundingClientRect();
              return {
                summary: trace.querySelector('.hltpy-summary').innerText,
                nodes: svg.querySelectorAll('g.node').length,
                width: box.width, height: box.height,
                progress: document.querySelector('.hltpy-progress progress').value,
                report: document.querySelector('iframe.hltpy-report').srcdoc.length,
              };
            })()"""
        )
        assert browser.problems() == []
        assert all(
            url.startswith("file:") or url.startswith("about:") or url.startswith("data:")
            for url in browser.requested_urls()
        )
    finally:
        browser.close()
    assert "hltpy trace" in seen["summary"] and "walk" in seen["summary"]
    assert seen["nodes"] > 3 and seen["width"] > 100 and seen["height"] > 50
    assert seen["progress"] == 1
    assert seen["report"] > 10000
