"""Every pass over real traces: the pyperformance suite's traces together.

    python bench/passes_bench.py [--only NAME,...] [--max-nodes N] [--analyze PATH]

Traces the suite (bench/pyperformance_suite.py, traced whole) into
bench/out/pyperformance/, then runs each pass of hltpy-analyze over every
trace of up to --max-nodes nodes, one process per trace as a user runs
them, and prints a row per pass: traces, nodes, seconds, nodes/s over all
of them, peak memory and the slowest trace. compile is given each
function's first traced call (as tests/test_pyperformance.py gives it)
and skips the calls it refuses. `make bench-analyze` runs it; the tests
run it on two small traces.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import pyperformance_suite as suite  # noqa: E402 (from HERE, put on sys.path)
from analyze_bench import measure  # noqa: E402


def traces(names: list[str]) -> dict[str, pathlib.Path]:
    """The suite's traces of `names`, captured into bench/out/pyperformance
    unless there already; a benchmark whose traced run differs stops the
    benchmark."""
    work = OUT / "pyperformance"
    found = {}
    for name in names:
        path = work / f"{name}.parquet"
        if not path.exists():
            outcome = suite.run_one(suite.sdist(), name, suite.BENCHMARKS[name], work)
            if not outcome["same"]:
                raise SystemExit(f"{name}: the traced run differs from the untraced one: {outcome}")
        found[name] = path
    return found


def node_count(analyze: str, trace: pathlib.Path) -> int:
    _, _, printed = measure(
        [analyze, "query", "--format", "csv", "SELECT count(*) FROM nodes", str(trace)]
    )
    return int(printed.splitlines()[1])


def first_calls(analyze: str, trace: pathlib.Path) -> list[str]:
    """`--node ID` for each traced function's first call."""
    sql = "SELECT min(id) FROM nodes WHERE kind IN ('Call', 'Dispatch', 'NewInit') GROUP BY kind, name ORDER BY 1"
    _, _, printed = measure([analyze, "query", "--format", "csv", sql, str(trace)])
    return [argument for first in printed.splitlines()[1:] for argument in ("--node", first)]


def compiled_or_refused(code: int, stderr: str) -> bool:
    """compile with --skip-refused ended as designed: compiled (0), some first
    calls refused (1), or every one refused (2, "none of the N nodes could be
    compiled": async_tree's two top-level calls take objects as defaults)."""
    return code in (0, 1) or (code == 2 and "nodes could be compiled" in stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated benchmark names (default: the whole suite)")
    parser.add_argument("--max-nodes", type=int, default=30_000_000, help="leave out larger traces")
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(suite.BENCHMARKS)
    unknown = [name for name in names if name not in suite.BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; one of {', '.join(suite.BENCHMARKS)}")
    sizes = {name: node_count(args.analyze, path) for name, path in traces(names).items()}
    chosen = {
        name: OUT / "pyperformance" / f"{name}.parquet"
        for name, n in sizes.items()
        if 0 < n <= args.max_nodes
    }
    total = sum(sizes[name] for name in chosen)
    scratch = OUT / "passes"
    scratch.mkdir(parents=True, exist_ok=True)
    # Each pass's command, and the exit codes that are findings rather
    # than failures: infer's conflicts, compile's refusals.
    passes = {
        "check": (lambda t, name: ["check", t], (0,)),
        "eval": (lambda t, name: ["eval", t], (0,)),
        "infer --stubs": (lambda t, name: ["infer", t, "--stubs", scratch / name], (0, 1)),
        "render --depth 2": (
            lambda t, name: ["render", t, "--depth", "2", "-o", scratch / f"{name}.svg"],
            (0,),
        ),
        "report": (lambda t, name: ["report", t, "-o", scratch / f"{name}.html"], (0,)),
        "diff (itself)": (lambda t, name: ["diff", t, t], (0,)),
        "compile (first calls)": (
            lambda t, name: [
                "compile",
                t,
                *first_calls(args.analyze, t),
                "--skip-refused",
                "-o",
                scratch / f"{name}.py",
            ],
            compiled_or_refused,
        ),
    }
    print(
        f"pyperformance {suite.VERSION} traces: {len(chosen)} of {len(sizes)} ({total:,} nodes; "
        f"left out: {', '.join(f'{n} ({sizes[n]:,})' for n in sizes if n not in chosen) or 'none'}); "
        f"{os.cpu_count()} cores; one process per trace"
    )
    print()
    print("| pass | traces | nodes | seconds | M nodes/s | peak MiB | slowest trace |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, (command, ok) in passes.items():
        seconds, peak, slowest = 0.0, 0.0, ("", 0.0)
        for name, trace in chosen.items():
            argv = [args.analyze, *map(str, command(trace, name)), "--progress", "never"]
            taken, memory, _ = measure(argv, ok=ok)
            seconds += taken
            peak = max(peak, memory)
            slowest = max(slowest, (name, taken), key=lambda pair: pair[1])
        print(
            f"| {label} | {len(chosen)} | {total:,} | {seconds:.1f} | {total / seconds / 1e6:.2f} | {peak:.0f} | "
            f"{slowest[0]} {slowest[1]:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
