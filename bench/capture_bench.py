"""Capture benchmark: traced vs untraced, side by side, in one run.

    python bench/capture_bench.py [--repeat 5] [--scale 1.0]

Cases: (a) `x = x + 1` on a traced int; (b) a traced method call with two
operations inside; (c) a numeric kernel (Euler integration) from a traced
module. Each is also captured with `byte_stream_split=True` (input ids as
BYTE_STREAM_SPLIT, readable by newer Parquet readers only), interleaved
with the default runs: its time and file size beside the default's. Then
whole class-heavy programs (capture/tests/programs/classy), each traced as
a module, against an untraced copy of the same module loaded separately
(and the file size with `byte_stream_split=True`, from one more capture). Traced times include starting the capture and writing
the Parquet file. Each figure is the median of --repeat runs.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "samples"))

sys.path.insert(0, str(HERE.parent / "capture" / "tests" / "programs"))

import importlib  # noqa: E402
import importlib.util  # noqa: E402

import bench_module  # noqa: E402
import hltpy  # noqa: E402
import kernels  # noqa: E402
from classy import PROGRAMS  # noqa: E402

# Scale of each class-heavy program's main(): about 0.1 s untraced.
PROGRAM_SCALES = {"scheduler": 200, "raytracer": 4, "solver": 6, "quadtree": 100, "slotted": 250}


def untraced_copy(name, path):
    """A second, never traced copy of the module at `path`."""
    spec = importlib.util.spec_from_file_location(f"untraced_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Baselines come from copies of the modules that are never traced (tracing
# a module changes its classes: their methods become traced descriptors).
UNTRACED_SCALER = untraced_copy("bench_module", HERE / "bench_module.py").Scaler
UNTRACED_EULER = untraced_copy("kernels", HERE.parent / "samples" / "kernels.py").euler_decay
hltpy.trace_modules(["bench_module", "kernels"])


def add_loop(x, n):
    for _ in range(n):
        x = x + 1
    return x


def method_loop(obj, n):
    v = 0
    for _ in range(n):
        v = obj.apply(1)
    return v


CASES = {
    "(a) x = x + 1": dict(
        n=1_000_000,
        untraced=lambda n: add_loop(0, n),
        traced=lambda n: add_loop(hltpy.trace(0), n),
    ),
    "(b) method call, 2 ops inside": dict(
        n=200_000,
        untraced=lambda n: method_loop(UNTRACED_SCALER(3), n),
        traced=lambda n: method_loop(bench_module.Scaler(3), n),
    ),
    "(c) Euler kernel (traced module)": dict(
        n=300_000,
        untraced=lambda n: UNTRACED_EULER(1.0, 0.5, 0.0001, n),
        traced=lambda n: kernels.euler_decay(1.0, 0.5, 0.0001, n),
    ),
}


def time_untraced(case, n):
    start = time.perf_counter()
    case["untraced"](n)
    return time.perf_counter() - start


def time_traced(case, n, path, **options):
    start = time.perf_counter()
    with hltpy.capture(path, **options) as run:
        case["traced"](n)
    return time.perf_counter() - start, run.nodes


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the iteration counts")
    parser.add_argument(
        "--json", help="also write the figures here (bench/versions_bench.py reads them)"
    )
    args = parser.parse_args()
    out = pathlib.Path(tempfile.mkdtemp(prefix="hltpy-bench-"))
    rows = []
    for label, case in CASES.items():
        n = max(1, int(case["n"] * args.scale))
        untraced, traced, split, nodes = [], [], [], 0
        for i in range(args.repeat):
            untraced.append(time_untraced(case, n))
            seconds, nodes = time_traced(case, n, out / f"run{i}.parquet")
            traced.append(seconds)
            split.append(time_traced(case, n, out / f"split{i}.parquet", byte_stream_split=True)[0])
        u, t, b = statistics.median(untraced), statistics.median(traced), statistics.median(split)
        size, split_size = (os.path.getsize(out / f"{name}0.parquet") for name in ("run", "split"))
        rows.append((label, n, u / n * 1e9, t / n * 1e9, t / u, nodes, nodes / t, size / nodes,
                     b / u, split_size / nodes))  # fmt: skip
    header = ("case", "iterations", "untraced ns/it", "traced ns/it", "ratio", "nodes", "nodes/s", "bytes/node",
              "ratio bss", "bytes/node bss")  # fmt: skip
    print(
        f"{header[0]:34} {header[1]:>10} {header[2]:>15} {header[3]:>13} {header[4]:>7} {header[5]:>9} {header[6]:>11} {header[7]:>10} {header[8]:>9} {header[9]:>14}"
    )
    for label, n, u, t, ratio, nodes, rate, per_node, split_ratio, split_per_node in rows:
        print(
            f"{label:34} {n:>10} {u:>15.1f} {t:>13.1f} {ratio:>6.1f}x {nodes:>9} {rate:>11,.0f} {per_node:>10.1f} {split_ratio:>8.1f}x {split_per_node:>14.1f}"
        )
    print(
        f"(median of {args.repeat} runs; traced includes capture start and the Parquet write; bss: the same with "
        f"byte_stream_split=True, interleaved; Python {sys.version.split()[0]})"
    )
    print()
    programs = print_programs(args, out)
    if args.json:
        figures = {"python": sys.version.split()[0], "fast_locations": hltpy._hltpy._fast_locations(),
                   "cases": {r[0]: {"untraced": r[2], "traced": r[3], "ratio": r[4], "nodes_per_s": r[6]} for r in rows},
                   "programs": {r[0]: {"untraced": r[2], "traced": r[3], "ratio": r[4], "nodes_per_s": r[6]}
                                for r in programs}}  # fmt: skip
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=1))


def print_programs(args, out):
    hltpy.trace_modules([f"classy.{name}" for name in PROGRAMS])
    rows = []
    for name in PROGRAMS:
        scale = PROGRAM_SCALES[name] * args.scale
        plain = untraced_copy(
            name, HERE.parent / "capture" / "tests" / "programs" / "classy" / f"{name}.py"
        )
        traced_module = importlib.import_module(f"classy.{name}")
        untraced, traced, nodes = [], [], 0
        for i in range(args.repeat):
            start = time.perf_counter()
            expected = plain.main(scale)
            untraced.append(time.perf_counter() - start)
            start = time.perf_counter()
            with hltpy.capture(out / f"{name}{i}.parquet", allow_mutation=True) as run:
                result = traced_module.main(scale)
            traced.append(time.perf_counter() - start)
            nodes = run.nodes
            # Module state (class counters) carries over between runs of
            # one copy: the first runs of both copies are compared.
            if i == 0 and hltpy.from_traced(result) != expected:
                raise SystemExit(
                    f"{name}: the traced run computed {result!r}, untraced {expected!r}"
                )
            # Untraced runs are short (~0.1 s) and noisy here: two more per
            # traced run, all in the median.
            for _ in range(2):
                start = time.perf_counter()
                plain.main(scale)
                untraced.append(time.perf_counter() - start)
        u, t = statistics.median(untraced), statistics.median(traced)
        # The file size with the opt-in encoding, from one more capture.
        with hltpy.capture(
            out / f"{name}-split.parquet", allow_mutation=True, byte_stream_split=True
        ):
            traced_module.main(scale)
        sizes = [
            os.path.getsize(out / f"{name}{suffix}.parquet") / nodes for suffix in ("0", "-split")
        ]
        rows.append((name, scale, u, t, t / u, nodes, nodes / t, *sizes))
    header = ("class-heavy program", "scale", "untraced s", "traced s", "ratio", "nodes", "nodes/s", "bytes/node",
              "bytes/node bss")  # fmt: skip
    print(
        f"{header[0]:34} {header[1]:>10} {header[2]:>15} {header[3]:>13} {header[4]:>7} {header[5]:>9} {header[6]:>11} {header[7]:>10} {header[8]:>14}"
    )
    for name, scale, u, t, ratio, nodes, rate, per_node, split_per_node in rows:
        print(
            f"{name:34} {scale:>10g} {u:>15.3f} {t:>13.3f} {ratio:>6.1f}x {nodes:>9} {rate:>11,.0f} {per_node:>10.1f} {split_per_node:>14.1f}"
        )
    print(
        f"(same session as above; untraced: median of {3 * args.repeat} runs; first results compared equal; target: at most 30x)"
    )
    return rows


if __name__ == "__main__":
    main()
