"""Diff benchmark: two traces of about N nodes each, of a program and its
edited copy (bench/diff_program.py: about 1% of the operations differ),
matched by `hltpy-analyze diff`; time and peak memory of the whole
command, and the precision and recall of its matching against the truth
the benchmark knows by construction.

    python bench/diff_bench.py [--nodes 1000000] [--repeat 3] [--analyze PATH]

The truth: both versions run the same file, so a node of one corresponds
to the node of the other with the same source line, kind and name, in the
same order of occurrence; the nodes of the added `abs` line have none.
A Const node stands for every later use of an equal number at its place
(capture records it once), so the edited run makes a new one after each
changed constant: a Const matched to a Const of the same line and value
is correct too.
"""

import argparse
import collections
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
from eval_bench import capture_once  # noqa: E402

NODES_PER_STEP = 7

CAPTURE = """
import sys
import hltpy
hltpy.trace_modules(["diff_program"])
import diff_program
path, steps, edited = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "edited"
with hltpy.capture(path) as run:
    hltpy.from_traced(diff_program.run(hltpy.trace(1.0), hltpy.trace(2.0), steps, edited))
print(run.nodes)
"""


def captured(nodes, version):
    return capture_once(
        OUT / f"diff-{version}-{nodes}.parquet", CAPTURE, nodes // NODES_PER_STEP, version
    )


def keyed(path):
    """Each node's (line, kind, name, occurrence) -> id, and each Const
    node's id -> (line, value) (the program's constants are floats)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "kind", "name", "line", "value_float"])
    seen = collections.Counter()
    keys, consts = {}, {}
    columns = (table.column(c).to_pylist() for c in ("id", "kind", "name", "line", "value_float"))
    for id, kind, name, line, value in zip(*columns):
        key = (line, kind, name)
        keys[key + (seen[key],)] = id
        seen[key] += 1
        if kind == "Const":
            consts[id] = (line, value)
    return keys, consts


def scores(matched, old, new):
    """(true pairs, precision, recall) of the matched (old id, new id) pairs."""
    (old_keys, old_consts), (new_keys, new_consts) = keyed(old), keyed(new)
    truth = {(old_keys[key], new_keys[key]) for key in old_keys.keys() & new_keys.keys()}

    def correct(pair):
        a, b = pair
        return pair in truth or (a in old_consts and old_consts[a] == new_consts.get(b))

    right = {pair for pair in matched if correct(pair)}
    found = {a for a, _ in right}
    recalled = sum(1 for a, _ in truth if a in found)
    return len(truth), len(right) / max(len(matched), 1), recalled / max(len(truth), 1)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()
    old, new = captured(args.nodes, "original"), captured(args.nodes, "edited")
    seconds, peaks = [], []
    for _ in range(args.repeat):
        time, memory, _ = measure(
            [args.analyze, "diff", "--progress", "never", str(old), str(new)], ok=(1,)
        )
        seconds.append(time)
        peaks.append(memory)
    done = subprocess.run(
        [
            args.analyze,
            "query",
            "SELECT old_id, new_id FROM diff WHERE old_id IS NOT NULL AND new_id IS NOT NULL",
            str(old),
            str(new),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    matched = {tuple(map(int, line.split(","))) for line in done.stdout.splitlines()[1:]}
    truth, precision, recall = scores(matched, old, new)
    import pyarrow.parquet as pq

    rows = [pq.ParquetFile(p).metadata.num_rows for p in (old, new)]
    print(
        f"traces: {old.relative_to(ROOT)} ({rows[0]:,} nodes) vs {new.relative_to(ROOT)} ({rows[1]:,} nodes), "
        f"from bench/diff_program.py; {os.cpu_count()} cores; median of {args.repeat}"
    )
    print()
    print("| diff | seconds | peak MiB | matched | true pairs | precision | recall |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| 1% of operations edited | {statistics.median(seconds):.2f} | {max(peaks):.0f} | {len(matched):,} | "
        f"{truth:,} | {precision:.4f} | {recall:.4f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
