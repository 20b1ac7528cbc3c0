"""Processing nodes during tracing: a units checker for the `units` DSL.

`hltpy.capture(on_node=UnitChecker())` sees every node as it is recorded.
The checker remembers the unit of every node whose value is a Quantity and,
when a traced `+` or `-` of two quantities completes, raises UnitMismatch
if their units differ: the program stops at the offending line, which the
units DSL itself would have let through.

    python samples/unit_checker.py
"""

import pathlib
import sys
import tempfile

import hltpy

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


class UnitMismatch(TypeError):
    pass


class UnitChecker:
    def __init__(self):
        self.units = {}  # node id -> Unit of the Quantity it stands for

    def __call__(self, node):
        unit = getattr(node.value, "unit", None)
        if unit is not None:
            self.units[node.id] = hltpy.from_traced(unit)
        if node.kind == "Dispatch" and node.name in ("__add__", "__sub__"):
            # The receiver by its role (its key names the method that ran),
            # the other operand by its position.
            left = self.units.get(next((src for role, _, src in node.inputs if role == "self"), None))
            right = self.units.get(next((src for role, key, src in node.inputs if (role, key) == ("arg", "0")), None))
            if left is not None and right is not None and left != right:
                verb = "add" if node.name == "__add__" else "subtract"
                raise UnitMismatch(f"line {node.line}: cannot {verb} {left!r} and {right!r}")


def main():
    hltpy.trace_modules(["units"])
    import units

    out = pathlib.Path(tempfile.mkdtemp()) / "units_checked.parquet"
    with hltpy.capture(out, on_node=UnitChecker()):
        distance = units.metres(100.0) + units.metres(5.0)
        print("ok:", hltpy.from_traced(distance))
        try:
            units.metres(100.0) + units.seconds(9.58)
        except UnitMismatch as err:
            print("rejected while tracing:", err)


if __name__ == "__main__":
    main()
