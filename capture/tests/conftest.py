"""Shared helpers: capture a block into a temporary trace and read the
nodes back from the file (the file, not memory, is what is asserted)."""

import json
import pathlib
import subprocess
import sys
from dataclasses import dataclass, field

import hltpy
import pyarrow.parquet as pq
import pytest

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
sys.path.insert(0, str(SAMPLES))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "programs"))


@dataclass
class Node:
    id: int
    kind: str
    name: str | None
    inputs: list[tuple[str, str | None, int]]
    frame: int | None
    thread: int
    file: str | None
    line: int | None
    type: str | None
    value: object
    row: dict = field(repr=False)

    def input(self, role, key=None):
        """The src of the one input with this role (and key, if given)."""
        found = [src for r, k, src in self.inputs if r == role and (key is None or k == key)]
        assert len(found) == 1, (
            f"{self.kind} {self.name}: inputs {self.inputs}, wanted one {role}/{key}"
        )
        return found[0]

    def roles(self):
        return [r for r, _, _ in self.inputs]


def _value(row):
    for column in ("value_int", "value_float", "value_bool", "value_str", "value_repr"):
        if row[column] is not None:
            return row[column]
    return None


class Trace:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.table = pq.read_table(self.path)
        self.metadata = {
            k.decode(): v.decode() for k, v in pq.read_metadata(self.path).metadata.items()
        }
        self.rows = self.table.to_pylist()
        self.nodes = [
            Node(
                id=r["id"],
                kind=r["kind"],
                name=r["name"],
                inputs=[(i["role"], i["key"], i["src"]) for i in r["inputs"]],
                frame=r["frame"],
                thread=r["thread"],
                file=r["file"],
                line=r["line"],
                type=r["type"],
                value=_value(r),
                row=r,
            )
            for r in self.rows
        ]
        self.by_id = {n.id: n for n in self.nodes}
        # Nothing lost: the footer's count is the rows actually in the file.
        assert int(self.metadata["hltpy.node_count"]) == len(self.rows)

    def __getitem__(self, node_id):
        return self.by_id[node_id]

    def of_kind(self, kind, name=None):
        return [n for n in self.nodes if n.kind == kind and (name is None or n.name == name)]

    def one(self, kind, name=None):
        found = self.of_kind(kind, name)
        assert len(found) == 1, f"expected one {kind} {name}, found {found}"
        return found[0]

    def kinds(self):
        return {n.kind for n in self.nodes}


@pytest.fixture
def captured(tmp_path):
    """`with captured() as run: ...` then `run.trace` is the file read back."""

    class Run:
        def __init__(self, **options):
            self.path = tmp_path / f"trace{len(list(tmp_path.iterdir()))}.parquet"
            self.capture = hltpy.capture(self.path, **options)
            self.trace = None

        def __enter__(self):
            self.capture.__enter__()
            return self

        def __exit__(self, *exc):
            self.capture.__exit__(*exc)
            self.trace = Trace(self.path)
            return False

    return Run


@pytest.fixture(scope="session")
def traced_samples():
    hltpy.trace_modules(["addx", "seed_graph", "units", "kernels", "everything"])


def untraced_and_traced(code, *args):
    """Runs `python -c CODE MODE ARGS...` with MODE "untraced", then
    "traced", each in a fresh process, and returns what each printed as
    JSON: (untraced, traced)."""
    outputs = {}
    for mode in ("untraced", "traced"):
        done = subprocess.run(
            [sys.executable, "-c", code, mode, *map(str, args)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs[mode] = json.loads(done.stdout)
    return outputs["untraced"], outputs["traced"]
