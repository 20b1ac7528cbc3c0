"""`hltpy-analyze report`: the HTML page of a run, opened in a real headless
Chromium (Debian's `chromium`, installed by `make tools`). The tests look at
the page as the browser built it — its DOM after the inline script ran, the
console, the network — and leave a screenshot in tests/artifacts."""

import os
import pathlib
import re
import struct
import subprocess

import pytest
from browser import started_browser
from capturing import capture_module
from test_render import HOSTILE

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
ARTIFACTS = pathlib.Path(os.environ.get("HLTPY_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
UNITS = ROOT / "samples" / "traces" / "units.parquet"


@pytest.fixture(scope="module")
def browser():
    opened = started_browser()
    yield opened
    opened.close()


def report(trace, out, *args, env=None):
    return subprocess.run(
        [ANALYZE, "report", str(trace), "-o", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def open_report(browser, trace, page, env=None):
    """Writes the report of `trace` to `page` and opens it: the inline
    script ran to its end and nothing complained."""
    done = report(trace, page, env=env)
    assert done.returncode == 0, done.stderr
    browser.open(page.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "yes"
    assert browser.problems() == []


def query(sql, trace):
    done = subprocess.run(
        [ANALYZE, "query", "--format", "csv", sql, str(trace)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",") for line in done.stdout.strip().splitlines()[1:]]


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_the_units_report_in_chromium(tmp_path, browser):
    page = tmp_path / "units.html"
    open_report(browser, UNITS, page)
    # Nothing was fetched.
    assert browser.requested_urls() == [page.as_uri()]

    # Metadata and the summary, as the trace holds them.
    facts = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#run tr')]"
        ".map(r => [r.cells[0].textContent, r.cells[1].textContent]))"
    )
    assert facts["nodes"] == "407" and facts["Python"].startswith("3.")
    kinds = dict(query("SELECT kind, count(*) FROM nodes GROUP BY kind", UNITS))
    shown = browser.evaluate(
        "[...document.querySelectorAll('#kinds tr')].slice(1)"
        ".map(r => [r.cells[0].textContent, r.cells[1].textContent])"
    )
    assert dict(shown) == kinds

    # The traced calls with the expressions their results came from.
    calls = browser.evaluate(
        "[...document.querySelectorAll('#call-table tr')].slice(1)"
        ".map(r => [...r.cells].map(c => c.textContent))"
    )
    speed = next(row for row in calls if row[1].startswith("speed("))
    assert speed[1] == "speed(metres(100.0), seconds(9.58))"
    assert speed[4] == "10.438413361169102 m*s^-1" and speed[5] == "metres(100.0) / seconds(9.58)"

    # The drawing: one SVG node per drawn node, coloured by eval.
    drawn = browser.evaluate(
        "[...document.querySelectorAll('#graph-view svg g.node title')].map(t => t.textContent)"
    )
    assert len(drawn) > 100 and "n26" in drawn
    fills = browser.evaluate(
        "[...document.querySelectorAll('#graph-view svg g.node polygon')]"
        ".map(p => p.getAttribute('fill'))"
    )
    assert "#c8e6c9" in fills  # green: recomputed equal
    # Zoom in, then fit: the view box shrinks and comes back.
    whole = browser.evaluate("document.querySelector('#graph-view svg').viewBox.baseVal.width")
    browser.evaluate("document.getElementById('zoom-in').click()")
    zoomed = browser.evaluate("document.querySelector('#graph-view svg').viewBox.baseVal.width")
    browser.evaluate("document.getElementById('zoom-fit').click()")
    assert (
        zoomed
        < whole
        == browser.evaluate("document.querySelector('#graph-view svg').viewBox.baseVal.width")
    )

    # Eval's counts are those `eval` prints.
    printed = subprocess.run(
        [ANALYZE, "eval", str(UNITS)], capture_output=True, text=True, check=False
    ).stdout
    printed_counts = re.search(
        r"(\d+) matched by value, (\d+) by type only, (\d+) differed, (\d+) opaque", printed
    ).groups()
    counts = browser.evaluate(
        "[...document.querySelectorAll('#eval-counts td')].map(c => c.textContent)"
    )
    assert tuple(counts[:4]) == printed_counts

    # The inferred signatures.
    stub = browser.evaluate("document.querySelector('#signatures pre').textContent")
    assert "def speed(distance: Quantity, time: Quantity) -> Quantity: ..." in stub

    # The node table: every node, a filter, and a click on a drawn node.
    assert browser.evaluate("document.querySelectorAll('#node-table tbody tr').length") == 407
    browser.evaluate(
        "const s = document.getElementById('node-search'); s.value = 'NewInit units.Unit';"
        "s.dispatchEvent(new Event('input'))"
    )
    visible = browser.evaluate(
        "[...document.querySelectorAll('#node-table tbody tr')].filter(r => !r.hidden)"
        ".map(r => r.cells[0].textContent)"
    )
    units_made = query(
        "SELECT id FROM nodes WHERE kind = 'NewInit' AND name = 'units.Unit' ORDER BY id", UNITS
    )
    assert visible == [row[0] for row in units_made] and len(visible) == 8
    assert browser.evaluate("document.getElementById('node-count').textContent") == "8 shown"
    browser.evaluate(
        "[...document.querySelectorAll('#graph-view g.node')]"
        ".find(g => g.querySelector('title').textContent === 'n26')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    assert browser.evaluate(
        "[...document.querySelectorAll('#node-table tr.found')].map(r => r.id)"
    ) == ["node-26"]
    assert browser.evaluate("document.querySelectorAll('#node-table tbody tr[hidden]').length") == 0

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-units.png"
    browser.evaluate("window.scrollTo(0, 0)")
    browser.screenshot(shot)
    assert png_size(shot) == (1280, 900)
    assert browser.problems() == []


def test_hostile_strings_stay_text_in_the_page(tmp_path, browser):
    trace, _ = capture_module(tmp_path, "hostile", HOSTILE, "m.main(hltpy.trace('v'))")
    page = tmp_path / "hostile.html"
    open_report(browser, trace, page)
    # The page's own script is the only one; no value became an element.
    assert browser.evaluate("document.scripts.length") == 1
    assert browser.evaluate("document.querySelectorAll('b, TABLE TABLE TABLE').length") == 0
    cells = browser.evaluate(
        "[...document.querySelectorAll('#node-table td')].map(c => c.textContent).join('\\n')"
    )
    assert "</TD></TR></TABLE>><script>alert(1)</script>" in cells
    assert 'kwarg:<b>"}' in cells
    # A 10 kB value is cut in the table.
    assert "v" * 10_000 not in cells and "v" * 100 in cells
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(ARTIFACTS / "report-hostile.png")


def test_without_dot_the_page_says_how_to_install_it(tmp_path, browser):
    page = tmp_path / "units.html"
    # A PATH without graphviz (hltpy-analyze is named by its full path).
    open_report(browser, UNITS, page, env={**os.environ, "PATH": str(tmp_path)})
    graph = browser.evaluate("document.getElementById('graph').textContent")
    assert "graphviz's dot is not installed (apt-get install graphviz)" in graph
    # The rest of the page stands.
    assert browser.evaluate("document.querySelectorAll('#node-table tbody tr').length") == 407


def test_bad_input_is_refused_and_writes_nothing(tmp_path):
    done = report(UNITS, tmp_path / "units.txt")
    assert done.returncode == 2
    assert "units.txt: the report is HTML; name a file ending in .html" in done.stderr
    missing = tmp_path / "nowhere.parquet"
    page = tmp_path / "nowhere.html"
    done = report(missing, page)
    assert done.returncode == 2 and str(missing) in done.stderr and "Traceback" not in done.stderr
    assert not page.exists() and list(tmp_path.iterdir()) == []
    # A directory where the page should go: named in the error.
    (tmp_path / "taken.html").mkdir()
    done = report(UNITS, tmp_path / "taken.html")
    assert done.returncode == 2 and "taken.html" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.html"]


LONG_EDGES = """
class Rate:
    def __init__(self, rate):
        self.rate = rate


def grow(total, rate, steps):
    for _ in range(steps):
        total = total + total * rate.rate
    return total
"""


def test_a_drawing_graphviz_would_take_minutes_over_is_drawn_less_deep(tmp_path):
    """Every step reads the one `rate` object: in a whole drawing those
    edges cross ranks by the thousand, which graphviz places for minutes
    (measured: depth 64, 451 s; depth 32, 1 s). The report draws less deep,
    though the nodes are far fewer than --max-nodes."""
    trace, _ = capture_module(
        tmp_path, "longedges", LONG_EDGES, "m.grow(hltpy.trace(1.0), m.Rate(0.01), 120)"
    )
    page = tmp_path / "longedges.html"
    done = report(trace, page, "--max-nodes", "1000")
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    drawn = re.search(
        r"came from, (\d+) operations deep \(the whole cone is larger or slow to lay out\): (\d+) nodes",
        html,
    )
    assert drawn and 8 <= int(drawn.group(1)) < 120 and int(drawn.group(2)) < 373, html[:3000]
    assert len(re.findall(r"<title>n\d+</title>", html)) == int(drawn.group(2))
    # render draws it whole when asked, and warns before a slow layout.
    done = subprocess.run(
        [ANALYZE, "render", str(trace), "--max-nodes", "1000", "-o", str(tmp_path / "all.dot")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # (Without graphviz on PATH, so the test does not wait for it.)
    done = subprocess.run(
        [ANALYZE, "render", str(trace), "--max-nodes", "1000", "-o", str(tmp_path / "all.svg")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert done.returncode == 2
    assert re.search(
        r"note: the drawing's edges cross \d+ ranks; graphviz may take minutes", done.stderr
    )
    assert "graphviz's dot is not installed" in done.stderr


def test_a_large_computation_is_drawn_less_deep(tmp_path):
    page = tmp_path / "units.html"
    done = report(UNITS, page, "--max-nodes", "40")
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    drawn = re.search(
        r"the last (\d+) of 14, which no other node reads\) came from, "
        r"(one|\d+) operations? deep \(the whole cone is larger or slow to lay out\): (\d+) nodes",
        html,
    )
    assert drawn, html
    assert 0 < int(drawn.group(3)) <= 40
    # The loaded nodes, and "… N more" where their inputs were cut.
    assert len(re.findall(r"<title>n\d+</title>", html)) == int(drawn.group(3))
    assert re.search(r"<title>more\d+</title>", html)
