"""`hltpy-analyze infer --stubs`: stubs of real captures are Python that
mypy accepts; a parameter used only structurally by two different classes
gets a Protocol naming exactly what the body used; `--merge` keeps what a
person wrote."""

import ast
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
SAMPLES = [
    ROOT / "samples" / "traces" / f"{name}.parquet"
    for name in ("addx", "seed_graph", "units", "kernels")
]

SHAPES = """
class Point:
    def __init__(self, a, b):
        self.a = a
        self.b = b


class Box:
    def __init__(self, a, b):
        self.a = a
        self.b = b
        self.label = "box"


def total(p):
    return p.a + p.b[0]


def main():
    return [total(Point(1, [2, 3])), total(Box(4, (5,)))]
"""


def infer(*args, cwd=ROOT):
    done = subprocess.run(
        [ANALYZE, "infer", *map(str, args)], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode in (0, 1), done.stderr
    return done


def mypy(paths):
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=paths[0].parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


HIERARCHY = """
class Shape:
    def __init__(self, size):
        self.size = size

    def area(self):
        return self.size * self.size

    def describe(self, unit):
        return unit + str(self.area())


class Circle(Shape):
    def area(self):
        return 3 * super().area()


def main():
    return [Circle(2).describe("m2 "), Shape(1.5).area()]
"""

# Units as plain strings (the units sample's are objects, recorded as reprs).
STRING_UNITS = """
class Quantity:
    def __init__(self, value, unit):
        self.value = value
        self.unit = unit

    def __add__(self, other):
        return Quantity(self.value + other.value, self.unit)


def run(distance, time):
    return distance + time


def main():
    return run(Quantity(3.0, "m"), Quantity(2.0, "s")).value
"""


def capture(tmp_path, name, source, expected):
    (tmp_path / f"{name}.py").write_text(source)
    trace = tmp_path / f"{name}.parquet"
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import hltpy
        hltpy.trace_modules([{name!r}])
        import {name}
        with hltpy.capture({str(trace)!r}):
            print(hltpy.from_traced({name}.main()))
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
    return trace


def test_a_structural_parameter_gets_a_protocol_of_exactly_its_uses(tmp_path):
    trace = capture(tmp_path, "shapes", SHAPES, "[3, 9]")
    stubs = tmp_path / "stubs"
    infer(trace, "--stubs", stubs)
    text = (stubs / "shapes.pyi").read_text()
    tree = ast.parse(text)
    protocols = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base) == "Protocol" for base in node.bases)
    ]
    assert [p.name for p in protocols] == ["_TotalP"], text
    members = {ast.unparse(m.target): ast.unparse(m.annotation) for m in protocols[0].body}
    # p.a and p.b, nothing else (not Box's label, which total never read).
    assert members == {"a": "int", "b": "list[int] | tuple[int]"}, text
    assert "def total(p: _TotalP) -> int: ..." in text
    mypy([stubs / "shapes.pyi"])


def test_methods_are_filed_under_the_class_that_defined_them(tmp_path):
    trace = capture(tmp_path, "hierarchy", HIERARCHY, "['m2 12', 2.25]")
    stubs = tmp_path / "stubs"
    infer(trace, "--stubs", stubs)
    tree = ast.parse((stubs / "hierarchy.pyi").read_text())
    methods = {
        node.name: {ast.unparse(m).split(":")[0].removeprefix("def ") for m in node.body}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    # describe and Shape.area ran on a Circle too (inherited, super()):
    # still Shape's; Circle has only what it defines (and its constructor).
    assert methods["Shape"] == {
        "size",
        "__init__(self, size",
        "area(self) -> float",
        "describe(self, unit",
    }
    assert methods["Circle"] == {"size", "__init__(self, size", "area(self) -> int"}
    mypy([stubs / "hierarchy.pyi"])


def test_the_samples_stubs_parse_and_pass_mypy(tmp_path):
    stubs = tmp_path / "stubs"
    done = infer(*SAMPLES, "--stubs", stubs)
    written = sorted(stubs.glob("*.pyi"))
    assert [p.name for p in written] == [
        "addx.pyi",
        "kernels.pyi",
        "seed_graph.pyi",
        "units.pyi",
    ], done.stdout
    for path in written:
        ast.parse(path.read_text(), filename=str(path))
    mypy(written)
    units = (stubs / "units.pyi").read_text()
    assert "def speed(distance: Quantity, time: Quantity) -> Quantity: ..." in units


def test_merge_keeps_what_a_person_wrote(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "addx.pyi").write_text(
        textwrap.dedent(
            """
            from numbers import Number

            class AddX:
                x: Number
                def add_to(self, y: Number, z: int = ...) -> Number: ...
                def describe(self) -> str: ...

            def helper(q: str) -> str: ...
            """
        )
    )
    infer(SAMPLES[0], "--stubs", stubs, "--merge")
    text = (stubs / "addx.pyi").read_text()
    assert "from numbers import Number" in text
    assert "    x: Number" in text
    # The hand-written annotations win; the ones left open are inferred.
    assert "    def add_to(self, y: Number, z: int = ...) -> Number: ..." in text
    assert "    def __init__(self, x: int) -> None: ..." in text
    # What the traces never saw is kept as written.
    assert "    def describe(self) -> str: ..." in text
    assert "def helper(q: str) -> str: ..." in text
    assert "def plus2(v: int) -> int: ..." in text
    ast.parse(text)
    mypy([stubs / "addx.pyi"])


def test_dimensions_read_from_string_units(tmp_path):
    # infer decodes recorded strings and numbers only for --dimension-attr:
    # without them every unit here would be unknown and nothing found.
    trace = capture(tmp_path, "string_units", STRING_UNITS, "5.0")
    done = infer(trace, "--dimension-attr", "unit")
    assert done.returncode == 1, done.stdout
    report = done.stdout.split("dimensions (the attribute `unit`):\n")[1]
    assert "  string_units.run(distance: [m], time: [s]) -> [m]\n" in report, report
    assert "dimension mismatches: 1\n" in report, report
    assert "string_units.py:12 " in report and "`+` of [m]" in report, report
