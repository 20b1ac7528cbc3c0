"""Captures every sample program into DIR/<sample>.parquet and shows what
was captured: the program's result and the trace's nodes per kind.

    python samples/run_samples.py samples/traces

and the two versions of samples/diff/*/shapes.py into samples/traces/diff/
(the pair `hltpy-analyze diff` is shown on).
"""

import collections
import importlib
import pathlib
import sys

import pyarrow.parquet as pq

import hltpy

SAMPLES = ["addx", "seed_graph", "units", "kernels"]


def main(out_dir: str) -> int:
    here = pathlib.Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hltpy.trace_modules(SAMPLES)
    for name in SAMPLES:
        module = importlib.import_module(name)
        path = out / f"{name}.parquet"
        with hltpy.capture(path, allow_mutation=(name == "kernels")) as run:
            result = hltpy.from_traced(module.main())
        table = pq.read_table(path, columns=["kind"])
        kinds = collections.Counter(table.column("kind").to_pylist())
        print(f"{name}: main() = {result!r}")
        print(f"  {run.nodes} nodes -> {path}")
        print("  " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    capture_versions(here / "diff", out / "diff")
    show_nodes(out / "addx.parquet", limit=12)
    return 0


def capture_versions(versions: pathlib.Path, out: pathlib.Path) -> None:
    """The two versions of samples/diff/*/shapes.py, each traced as the
    module `shapes`, into DIR/diff/before.parquet and DIR/diff/after.parquet: the
    pair `hltpy-analyze diff` compares."""
    out.mkdir(parents=True, exist_ok=True)
    for version in ("before", "after"):
        sys.modules.pop("shapes", None)
        sys.path.insert(0, str(versions / version))
        try:
            hltpy.trace_modules(["shapes"])
            module = importlib.import_module("shapes")
            path = out / f"{version}.parquet"
            with hltpy.capture(path) as run:
                result = hltpy.from_traced(module.main())
        finally:
            sys.path.remove(str(versions / version))
        print(f"diff/{version}: main() = {result!r}, {run.nodes} nodes -> {path}")


def show_nodes(path, limit):
    """Prints the first nodes of a trace: what the file really holds."""
    rows = pq.read_table(path).to_pylist()[:limit]
    print(f"\nfirst {len(rows)} nodes of {path.name}:")
    print(f"{'id':>4} {'kind':10} {'name':14} {'inputs':34} {'frame':>5} {'line':>4}  value")
    for row in rows:
        inputs = " ".join(
            f"{i['role']}{'[' + i['key'] + ']' if i['key'] is not None else ''}={i['src']}" for i in row["inputs"]
        )
        value = next(
            (row[c] for c in ("value_int", "value_float", "value_bool", "value_str", "value_repr") if row[c] is not None),
            "",
        )
        frame = "" if row["frame"] is None else row["frame"]
        print(f"{row['id']:>4} {row['kind']:10} {row['name'] or '':14} {inputs:34} {frame:>5} {row['line']:>4}  {value}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "samples/traces"))
