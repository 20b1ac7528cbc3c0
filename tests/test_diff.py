"""`hltpy-analyze diff` on real program pairs traced through capture: the
same module `prog` in two versions, each run in its own interpreter."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))

BASE = """
def area(w, h):
    return w * h


def main(x):
    a = area(x, 2.0)
    b = a + 1.0
    c = x - 1.0
    return b * 3.0 + c
"""

RUN = """
import sys
import hltpy
sys.path.insert(0, sys.argv[1])
hltpy.trace_modules(["prog"])
import prog
with hltpy.capture(sys.argv[2]):
    hltpy.from_traced(prog.main(hltpy.trace(4.0)))
"""


def capture(tmp_path, label, source, run=RUN):
    directory = tmp_path / label
    directory.mkdir()
    (directory / "prog.py").write_text(textwrap.dedent(source))
    trace = tmp_path / f"{label}.parquet"
    done = subprocess.run(
        [sys.executable, "-c", run, str(directory), str(trace)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return trace


def diff(old, new, *options):
    done = subprocess.run(
        [ANALYZE, "diff", str(old), str(new), "--format", "json", *options],
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["equivalent"] == (done.returncode == 0)
    return report


def changes(report):
    return [d for group in report["differences"] for d in group["differences"]]


def test_identical_runs_are_equivalent(tmp_path):
    old, new = capture(tmp_path, "old", BASE), capture(tmp_path, "new", BASE)
    done = subprocess.run([ANALYZE, "diff", str(old), str(new)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equivalent: all 17 nodes matched, same values" in done.stdout


def test_a_changed_constant_gives_value_differences_from_its_line(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(tmp_path, "new", BASE.replace("a + 1.0", "a + 1.5"))
    report = diff(old, new)
    assert report["counts"]["only_old"] == report["counts"]["only_new"] == 0
    assert report["counts"]["changed"] == 5  # the constant, b, b * 3.0, the sum, main's call
    first = report["first_divergence"]
    assert (first["old"]["value"], first["new"]["value"]) == ("1.0", "1.5")
    assert first["new"]["kind"] == "Const" and first["new"]["location"] == "prog.py:8"
    # The rest follow from it: not origins.
    assert [d["new"]["value"] for d in changes(report) if not d["origin"]] == [
        "31.5",
        "9.5",
        "28.5",
        "31.5",
    ]
    assert diff(old, new, "--ignore-values")["equivalent"]


def test_an_added_operation_is_the_one_node_only_in_new(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(
        tmp_path, "new", BASE.replace("    b = a + 1.0", "    a = abs(a)\n    b = a + 1.0")
    )
    report = diff(old, new)
    assert report["counts"] == {
        "matched": 17,
        "same": 17,
        "changed": 0,
        "only_old": 0,
        "only_new": 1,
    }
    [added] = changes(report)
    assert (added["status"], added["new"]["kind"], added["new"]["name"]) == (
        "only_new",
        "UDispatch",
        "__abs__",
    )
    assert added["new"]["location"] == "prog.py:8" and added["origin"]


HELPER = """
def area(w, h):
    return w * h


def shifted(a):
    return a + 1.0


def main(x):
    b = shifted(area(x, 2.0))
    c = x - 1.0
    return b * 3.0 + c
"""


def test_code_moved_into_a_helper_keeps_its_arithmetic_matched(tmp_path):
    old, new = capture(tmp_path, "old", BASE), capture(tmp_path, "new", HELPER)
    report = diff(old, new)
    counts = report["counts"]
    assert counts["changed"] == counts["only_old"] == 0 and counts["matched"] == 17
    # What is new is the call tree: the helper, its call and its parameter.
    assert sorted((d["new"]["kind"], d["new"]["name"]) for d in changes(report)) == [
        ("Argument", "a"),
        ("Call", "shifted"),
        ("Function", "prog.shifted"),
    ]
    helper = next(f for f in report["functions"] if f["name"] == "prog.shifted")
    assert helper["calls"] == [0, 1] and helper["operations"] == [0, 1]


def test_reordered_independent_statements_still_match(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(
        tmp_path,
        "new",
        BASE.replace("    c = x - 1.0\n", "").replace(
            "    a = area", "    c = x - 1.0\n    a = area"
        ),
    )
    assert "c = x - 1.0\n    a = area" in (tmp_path / "new" / "prog.py").read_text()
    assert diff(old, new)["equivalent"]


def test_traces_of_different_programs_are_mostly_unmatched(tmp_path):
    old = capture(tmp_path, "old", BASE)
    report = diff(old, ROOT / "samples" / "traces" / "units.parquet")
    counts = report["counts"]
    assert not report["equivalent"]
    assert counts["matched"] <= 3 and counts["only_new"] > 400 and counts["only_old"] >= 14


def test_a_tolerance_absorbs_rounding(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(tmp_path, "new", BASE.replace("a + 1.0", "a + 1.0000000001"))
    assert not diff(old, new)["equivalent"]
    assert diff(old, new, "--rel-tol", "1e-9")["equivalent"]


def test_two_directories_pair_their_traces_by_name(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    same = capture(tmp_path, "same", BASE)
    changed = capture(tmp_path, "changed", BASE.replace("a + 1.0", "a + 2.0"))
    (before / "a.parquet").write_bytes(same.read_bytes())
    (after / "a.parquet").write_bytes(same.read_bytes())
    (before / "b.parquet").write_bytes(same.read_bytes())
    (after / "b.parquet").write_bytes(changed.read_bytes())
    (before / "c.parquet").write_bytes(same.read_bytes())
    done = subprocess.run(
        [ANALYZE, "diff", str(before), str(after)], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "a.parquet: equivalent (17 nodes)"
    assert lines[1].startswith(
        "b.parquet: different (5 changed, 0 only in old, 0 only in new, first divergence at prog.py:8"
    )
    assert lines[2] == f"c.parquet: only in {before}"
    assert lines[-1] == "2 pairs: 1 equivalent, 1 different; 1 without a pair"


def test_the_diff_table_is_sql(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(tmp_path, "new", HELPER)
    done = subprocess.run(
        [
            ANALYZE,
            "query",
            "SELECT kind, name FROM diff WHERE status = 'only_new' ORDER BY new_id",
            str(old),
            str(new),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == ["Function,prog.shifted", "Call,shifted", "Argument,a"]


HOSTILE = """
def label(x):
    return x + '"}<b>\\\\n' + "\\n<script>alert(1)</script>"


def main(x):
    return label(x) * 2
"""


def test_the_changed_regions_are_drawn_with_hostile_strings_escaped(tmp_path):
    old = capture(tmp_path, "old", BASE)
    new = capture(tmp_path, "new", BASE.replace("a + 1.0", "a + 1.5"))
    dot_file = tmp_path / "changes.dot"
    done = subprocess.run(
        [ANALYZE, "diff", str(old), str(new), "--render", str(dot_file)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    dot = dot_file.read_text()
    assert "subgraph cluster_old" in dot and "subgraph cluster_new" in dot
    assert 'label="Const = 1.5\\nprog.py:8", fillcolor="#f4b860"' in dot
    # A changed node is linked to its old version.
    assert "style=dashed" in dot
    svg = tmp_path / "changes.svg"
    done = subprocess.run(
        [ANALYZE, "diff", str(old), str(new), "--render", str(svg)], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_strings_in_a_drawing_cannot_break_the_dot_or_inject_markup(tmp_path):
    run = RUN.replace("prog.main(hltpy.trace(4.0))", "prog.main(hltpy.trace('a'))")
    paths = [
        capture(tmp_path, label, source, run)
        for label, source in [("old", HOSTILE), ("new", HOSTILE.replace("* 2", "* 3"))]
    ]
    svg = tmp_path / "hostile.svg"
    done = subprocess.run(
        [ANALYZE, "diff", *map(str, paths), "--render", str(svg)], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    import xml.etree.ElementTree as ElementTree

    tree = ElementTree.parse(svg)
    tags = {element.tag.rsplit("}", 1)[-1] for element in tree.iter()}
    assert not tags & {"script", "b"}, tags
    assert "alert(1)" in svg.read_text()  # shown as text


def test_render_refuses_what_it_cannot_write(tmp_path):
    old = capture(tmp_path, "old", BASE)
    done = subprocess.run(
        [ANALYZE, "diff", str(old), str(old), "--render", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "must end in .dot, .svg or .png" in done.stderr
