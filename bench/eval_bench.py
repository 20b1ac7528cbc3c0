"""Re-evaluation benchmark: `hltpy-analyze eval` against a replay of the
same trace in CPython, side by side in one run.

    python bench/eval_bench.py [--nodes 10000000] [--repeat 3] [--analyze PATH]

Captures bench/eval_program.py (small and big ints, floats, a traced
class) once into bench/out/eval-N.parquet. hltpy-analyze's time is the
whole command (process start, reading, recomputing and comparing every
node); the CPython replay is a short pyarrow reader with a dict of values
that recomputes the same nodes with Python's operators, timed inside its
process after imports. Peak memory is each process's maximum resident set.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from analyze_bench import measure  # noqa: E402

NODES_PER_STEP = 22

CAPTURE = """
import sys
import hltpy
hltpy.trace_modules(["eval_program"])
import eval_program
path, steps = sys.argv[1], int(sys.argv[2])
with hltpy.capture(path) as run:
    account = eval_program.Account(hltpy.trace(100), hltpy.trace(0.25))
    result = eval_program.mix(hltpy.trace(0), hltpy.trace(2**80 + 1), hltpy.trace(1.5), account, hltpy.trace(steps))
print(run.nodes)
"""

# The CPython replay: every node's value from its inputs, in file order.
REPLAY = """
import operator, sys, time
import pyarrow as pa
import pyarrow.parquet as pq
path = sys.argv[1]
OPS = {
    "__add__": operator.add, "__sub__": operator.sub, "__mul__": operator.mul,
    "__truediv__": operator.truediv, "__floordiv__": operator.floordiv, "__mod__": operator.mod,
    "__pow__": operator.pow, "__lt__": operator.lt, "__gt__": operator.gt, "__eq__": operator.eq,
}
for name, op in list(OPS.items()):
    OPS["__r" + name[2:]] = (lambda op: lambda a, b: op(b, a))(op)
COLUMNS = ["id", "kind", "name", "inputs", "type", "value_int", "value_float", "value_bool", "value_str", "value_repr"]

def pylist(column):
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.to_pylist()

start = time.perf_counter()
values, matched, nodes = {}, 0, 0
for batch in pq.ParquetFile(path).iter_batches(columns=COLUMNS, batch_size=65536):
    ids, kinds, names, types, vi, vf, vb, vs, vr = (pylist(batch.column(c)) for c in COLUMNS if c != "inputs")
    inputs = batch.column("inputs")
    flat = inputs.flatten()
    roles, srcs, offsets = pylist(flat.field("role")), flat.field("src").to_pylist(), inputs.offsets.to_pylist()
    for row, id in enumerate(ids):
        nodes += 1
        recorded = next((v for v in (vi[row], vf[row], vb[row], vs[row]) if v is not None), None)
        if recorded is None:
            recorded = int(vr[row]) if types[row] == "int" and vr[row] is not None else vr[row]
        role = {roles[i]: srcs[i] for i in range(offsets[row], offsets[row + 1])}
        kind, name = kinds[row], names[row]
        if kind == "UDispatch" and name in OPS:
            value = OPS[name](values[role["self"]], values[role["arg"]])
        elif kind in ("Argument", "SetAttr", "SetItem"):
            value = values[role["value"]]
        elif kind == "GetAttr" and "source" in role:
            value = values[role["source"]]
        elif kind in ("Call", "Dispatch") and "return" in role:
            value = values[role["return"]]
        else:
            value = recorded
        matched += value == recorded or value != value
        values[id] = value
print(time.perf_counter() - start)
print(nodes, matched, file=sys.stderr)
"""


def captured_trace(nodes):
    return capture_once(OUT / f"eval-{nodes}.parquet", CAPTURE, nodes // NODES_PER_STEP)


def capture_once(path, program, *args):
    """Runs `program` (a capture script of bench/'s modules) with the trace
    path and `args` unless the trace is already there; gives the path."""
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"capturing {path} ...", file=sys.stderr)
    done = subprocess.run(
        [sys.executable, "-c", program, str(path), *map(str, args)],
        cwd=HERE,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    if done.returncode != 0:
        raise SystemExit(f"capture failed: {done.stderr[-2000:]}")
    return path


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()

    path = captured_trace(args.nodes)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    size = path.stat().st_size / 2**20
    print(
        f"trace: {path.relative_to(ROOT)} ({rows:,} nodes, {size:.0f} MiB, captured from "
        f"bench/eval_program.py); {os.cpu_count()} cores; median of {args.repeat}"
    )
    print()
    print(
        "| case | hltpy-analyze eval s | nodes/s | CPython replay s | ratio | hltpy-analyze peak MiB | CPython peak MiB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    ours, theirs, our_memory, their_memory = [], [], 0.0, 0.0
    for _ in range(args.repeat):
        seconds, memory, stdout = measure([args.analyze, "eval", "--progress", "never", str(path)])
        if " 0 differed" not in stdout:
            raise SystemExit(f"eval found differences:\n{stdout}")
        ours.append(seconds)
        our_memory = max(our_memory, memory)
        _, memory, stdout = measure([sys.executable, "-c", REPLAY, str(path)])
        theirs.append(float(stdout.strip()))
        their_memory = max(their_memory, memory)
    a, c = statistics.median(ours), statistics.median(theirs)
    print(
        f"| eval, every node | {a:.2f} | {rows / a / 1e6:.1f} M | {c:.2f} | {c / a:.1f}x faster | "
        f"{our_memory:.0f} | {their_memory:.0f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
