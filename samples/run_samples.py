"""Captures every sample program into DIR/<sample>.parquet and shows what
was captured: the program's result and the trace's nodes per kind.

    python samples/run_samples.py samples/traces
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "samples/traces"))
