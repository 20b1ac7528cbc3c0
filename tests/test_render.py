"""`hltpy-analyze render`: SVG through graphviz's dot, and hostile strings
in names, values and keys that can neither break the DOT nor inject
markup into the SVG."""

import os
import pathlib
import subprocess
import xml.etree.ElementTree as ElementTree

from capturing import capture_module

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))

HOSTILE = """
class Tag:
    def __init__(self, text):
        self.text = text


def show(**entries):
    return entries['<b>"}'] + entries["k\\n\\\\l"]


def main(x):
    long = x * 10_000
    shown = show(**{'<b>"}': x, "k\\n\\\\l": x + "!"})
    return [Tag(shown + "</TD></TR></TABLE>><script>alert(1)</script>"), long[:5]]
"""


def test_the_seeds_picture_as_svg(tmp_path):
    svg = tmp_path / "seed.svg"
    done = subprocess.run(
        [
            ANALYZE,
            "render",
            str(ROOT / "samples" / "traces" / "seed_graph.parquet"),
            "-o",
            str(svg),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    texts = [t.text for t in ElementTree.parse(svg).iter() if t.tag.endswith("text")]
    # The seed's picture: Generation and Iteration steps, the generator
    # call with its Arguments, edges labelled by role.
    for expected in [
        "Generation",
        "Generator",
        "grange",
        "Argument",
        "low",
        "high",
        "iterator:0",
        "generator:3",
        "item:('a', 'x')",
    ]:
        assert expected in texts, expected


def test_hostile_strings_are_escaped(tmp_path):
    trace, _ = capture_module(tmp_path, "hostile", HOSTILE, "m.main(hltpy.trace('v'))")
    dot_file = tmp_path / "hostile.dot"
    done = subprocess.run(
        [ANALYZE, "render", str(trace), "-o", str(dot_file)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    dot = dot_file.read_text()
    # A 10 kB value is cut; graphviz's own parser accepts the whole file.
    assert "v" * 10_000 not in dot and "vvvvv…" in dot
    svg = subprocess.run(["dot", "-Tsvg", str(dot_file)], capture_output=True, text=True)
    assert svg.returncode == 0, svg.stderr
    root = ElementTree.fromstring(svg.stdout)
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert not tags & {"script", "b", "TABLE", "TD"}, tags
    texts = "".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    # Shown as text: keys in edge roles and parameter names, markup in a value.
    assert 'kwarg:<b>"}' in texts and 'entries[<b>"}]' in texts
    # A line break in a key breaks the edge's label, not the file.
    assert "kwarg:k" in texts and "entries[k↵\\l]" in texts
    assert "</TD></TR></TABLE>><script>" in texts


LOOP = """
def total(xs):
    acc = 0
    for x in xs:
        acc = acc + x
    return acc
"""


def test_a_long_loop_draws_its_middle_steps_as_one_node(tmp_path):
    trace, total = capture_module(tmp_path, "loops", LOOP, "m.total(hltpy.trace(list(range(20))))")
    assert total == "190"
    done = subprocess.run([ANALYZE, "render", str(trace)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    dot = done.stdout
    # Twenty steps: the first three, the last, and one node for the 16 between.
    assert dot.count("<TD>Iteration</TD>") == 4
    assert dot.count('label="… 16 more Iteration"') == 1 and 'label="iterator:3…18"' in dot
    # Every addition still reads its item: through the chain node.
    assert dot.count("-> chain") == 16
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
    assert svg.returncode == 0, svg.stderr
