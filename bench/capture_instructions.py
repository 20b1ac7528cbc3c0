"""Capture cost in instructions: traced vs untraced, per thread, in one run.

    python bench/capture_instructions.py [--case a] [--iterations 40000]

Timings on a shared 2-core machine move by 30% from one minute to the next,
which hides any change smaller than that. This benchmark counts executed
instructions instead (valgrind's callgrind, thread by thread), which do not
depend on the machine's load: the same build gives the same counts to
within a fraction of a percent. It runs capture_bench.py's cases (a), (b)
and (c) in child processes under callgrind, each at two iteration counts,
and divides the difference by the difference in iterations, so start-up and
the final flush cancel out. Columns: instructions per iteration untraced;
traced on the program's thread and on hltpy's writer thread (which
builds the Arrow columns and encodes Parquet on the second core); each
of those as a ratio to untraced; and nodes per iteration. Under valgrind
threads take turns, so the split between the two threads (the program's
thread builds a batch itself when the writer is behind) can differ from
a real run's; their sum does not.

Instructions are not time (cache misses and the writer's share of a
second core are not in them); use them to compare two builds of the
capture, and capture_bench.py for the ratios the targets are stated in.
Needs valgrind (Debian package `valgrind`).
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
CASE_KEYS = {
    "a": "(a) x = x + 1",
    "b": "(b) method call, 2 ops inside",
    "c": "(c) Euler kernel (traced module)",
}
# Iterations per case relative to --iterations: a call (b) is about five
# operations, a kernel step (c) three.
CASE_SHARE = {"a": 1.0, "b": 0.25, "c": 0.4}


def run_child(case, mode, n, byte_stream_split):
    """Runs one case in this process (the child started under callgrind)."""
    sys.argv = sys.argv[:1]
    sys.path.insert(0, str(HERE))
    import capture_bench
    import hltpy

    spec = capture_bench.CASES[CASE_KEYS[case]]
    if mode == "untraced":
        spec["untraced"](n)
        return
    out = pathlib.Path(tempfile.mkdtemp(prefix="hltpy-instr-")) / "trace.parquet"
    with hltpy.capture(out, byte_stream_split=byte_stream_split) as run:
        spec["traced"](n)
    print(f"nodes={run.nodes}")
    shutil.rmtree(out.parent)


def thread_totals(prefix):
    """Instructions per thread (1 = the main thread) from callgrind's files."""
    totals = {}
    for path in prefix.parent.glob(prefix.name + "*"):
        match = re.search(r"-(\d+)$", path.name)
        thread = int(match.group(1)) if match else 1
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                totals[thread] = int(line.split()[1])
                break
        path.unlink()
    return totals


def measure(case, mode, n, workdir, options):
    """(main-thread instructions, other threads' instructions, nodes) of one child run."""
    prefix = workdir / f"cg.{case}.{mode}.{n}"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--callgrind-out-file={prefix}.%p",
        sys.executable,
        __file__,
        "--child",
        case,
        mode,
        str(n),
        *options,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(
            f"capture_instructions: case {case} ({mode}, n={n}) failed under valgrind:\n{done.stderr[-2000:]}"
        )
    totals = thread_totals(prefix)
    nodes = re.search(r"nodes=(\d+)", done.stdout)
    main = totals.get(1, 0)
    return main, sum(totals.values()) - main, int(nodes.group(1)) if nodes else 0


def per_iteration(case, mode, n, workdir, options=()):
    small = measure(case, mode, n, workdir, options)
    large = measure(case, mode, 3 * n, workdir, options)
    return [(b - a) / (2 * n) for a, b in zip(small, large)]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--case", action="append", choices=sorted(CASE_KEYS), help="run only these cases"
    )
    parser.add_argument(
        "--iterations", type=int, default=60_000, help="iterations of case (a); others scaled"
    )
    parser.add_argument(
        "--byte-stream-split",
        action="store_true",
        help="capture with byte_stream_split=True (input ids as BYTE_STREAM_SPLIT)",
    )
    parser.add_argument("--child", nargs=3, metavar=("CASE", "MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, mode, n = args.child
        run_child(case, mode, int(n), args.byte_stream_split)
        return
    if shutil.which("valgrind") is None:
        sys.exit(
            "capture_instructions: valgrind is not installed (Debian: apt-get install -y valgrind)"
        )
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hltpy-callgrind-"))
    header = (
        "case",
        "untraced instr/it",
        "program thread",
        "writer thread",
        "program/u",
        "writer/u",
        "nodes/it",
    )
    print(
        f"{header[0]:34} {header[1]:>17} {header[2]:>14} {header[3]:>13} {header[4]:>9} {header[5]:>8} {header[6]:>8}"
    )
    for case in args.case or sorted(CASE_KEYS):
        n = max(1000, int(args.iterations * CASE_SHARE[case]))
        untraced, _, _ = per_iteration(case, "untraced", n, workdir)
        options = ["--byte-stream-split"] if args.byte_stream_split else []
        program, writer, nodes = per_iteration(case, "traced", n, workdir, options)
        print(
            f"{CASE_KEYS[case]:34} {untraced:>17,.0f} {program:>14,.0f} {writer:>13,.0f}"
            f" {program / untraced:>8.1f}x {writer / untraced:>7.1f}x {nodes:>8.1f}"
        )
    shutil.rmtree(workdir)
    print(
        f"(instructions per iteration, counted by callgrind at n and 3n iterations; Python {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
