"""Scale-out benchmark: the same query and the `eval` table over a
collection of traces, in one local session and on local Ballista clusters
of 1, 2 and 4 executors, side by side in one run.

    python bench/cluster_bench.py [--traces 200] [--items 555] [--executors 1,2,4]
                                  [--repeat 3] [--analyze PATH]

The traces are runs of the cluster tests' batch job
(analyze/tests/fixtures/batch) under `python -m hltpy run`, one per seed,
kept in bench/out/cluster-T-I/. PATH is an hltpy-analyze built with the
cargo feature `cluster` (`make bench-cluster` builds it). Each time is the
whole `query` command (for a cluster: connecting, planning on the
scheduler, the executors' tasks, fetching the result), the median of
--repeat runs after one warm-up; every cluster's rows are checked against
the local session's. On a 2-core machine the executors share the cores the
local session has to itself: the table shows what the path to a cluster
costs, not the speed-up of more machines.
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
JOB = ROOT / "analyze/tests/fixtures/batch/job.py"
sys.path.insert(0, str(HERE))

from analyze_bench import measure  # noqa: E402

QUERIES = [
    (
        "query (nodes by kind)",
        "SELECT kind, count(*) AS n, sum(line) AS lines FROM nodes GROUP BY kind",
    ),
    ("eval table", "SELECT status, count(*) AS n FROM eval GROUP BY status"),
]


def make_traces(count: int, items: int) -> pathlib.Path:
    """`count` runs of the batch job with `items` line items each."""
    folder = OUT / f"cluster-{count}-{items}"
    if len(list(folder.glob("*.parquet"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.parquet"):
        stale.unlink()
    runs = []
    for seed in range(count):
        out = folder / f"job-{seed:04}.parquet"
        argv = [
            sys.executable,
            "-m",
            "hltpy",
            "run",
            "-t",
            "pricing",
            "-o",
            str(out),
            str(JOB),
            str(seed),
            str(items),
        ]
        runs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
        if len(runs) == os.cpu_count():
            for run in runs:
                if run.wait() != 0:
                    raise SystemExit(f"the batch job failed: {' '.join(run.args)}")
            runs = []
    for run in runs:
        if run.wait() != 0:
            raise SystemExit(f"the batch job failed: {' '.join(run.args)}")
    return folder


class Cluster:
    """`hltpy-analyze cluster start --executors N` on loopback, stopped on exit."""

    def __init__(self, analyze: str, executors: int):
        self.process = subprocess.Popen(
            [analyze, "cluster", "start", "--port", "0", "--executors", str(executors)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("df://"):
            self.process.kill()
            raise SystemExit(f"the cluster of {executors} executors did not start")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=60)


def timed(argv, repeat: int):
    """(median seconds, stdout) of `repeat` runs of argv after a warm-up."""
    _, _, first = measure(argv)
    times = []
    for _ in range(repeat):
        seconds, _, stdout = measure(argv)
        if sorted_rows(stdout) != sorted_rows(first):
            raise SystemExit(f"{argv[1:3]}: two runs gave different rows")
        times.append(seconds)
    return statistics.median(times), first


def sorted_rows(csv: str) -> list[str]:
    header, *rows = csv.splitlines()
    return [header, *sorted(rows)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--items", type=int, default=555, help="line items per run (18 nodes each)")
    parser.add_argument("--executors", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv/bin/hltpy-analyze-cluster"))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    executors = [int(n) for n in args.executors.split(",")]
    folder = make_traces(args.traces, args.items)
    count = [args.analyze, "query", "SELECT count(*) FROM nodes", str(folder), "--format", "csv"]
    nodes = int(
        subprocess.run(count, check=True, capture_output=True, text=True).stdout.splitlines()[1]
    )
    print(
        f"{args.traces} traces, {nodes:,} nodes in all ({folder.relative_to(ROOT)}); {os.cpu_count()} cores"
    )
    print(
        "On this machine the executors share its cores: the ratios show the cost of the path, not a speed-up."
    )
    print()
    header = f"{'case':<24} {'engine':<14} {'seconds':>8} {'nodes/s':>12} {'per executor':>13} {'vs local':>9}"
    print(header)
    print("-" * len(header))
    for name, sql in QUERIES:
        argv = [args.analyze, "query", sql, str(folder), "--format", "csv"]
        local, rows = timed(argv, args.repeat)
        print(f"{name:<24} {'local':<14} {local:>8.2f} {nodes / local:>12,.0f} {'':>13} {1:>8.2f}x")
        for n in executors:
            with Cluster(args.analyze, n) as cluster:
                seconds, remote = timed([*argv, "--cluster", cluster.url], args.repeat)
            if sorted_rows(remote) != sorted_rows(rows):
                raise SystemExit(f"{name} on {n} executors: other rows than the local session's")
            engine = f"{n} executor{'s' if n > 1 else ''}"
            print(
                f"{name:<24} {engine:<14} {seconds:>8.2f} {nodes / seconds:>12,.0f} "
                f"{nodes / seconds / n:>13,.0f} {local / seconds:>8.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
