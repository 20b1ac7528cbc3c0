"""Analyzer benchmark: hltpy-analyze vs DuckDB on the same synthetic trace.

    python bench/analyze_bench.py [--nodes 10000000] [--repeat 3] [--analyze PATH]

Generates a synthetic trace (schema/examples/synthetic_trace.rs, written by
the schema crate's writer) once under bench/out/, installs DuckDB from PyPI
into the running Python if it is missing, then times each case in both
engines side by side. Every run is a fresh process, so peak memory is that
process's maximum resident set.

Timing is deliberately unfavourable to hltpy-analyze: its figure is the
whole command (process start, opening and validating the trace, planning,
running, printing), while DuckDB's is only the query, measured inside a
Python process after `import duckdb` and connecting. Each figure is the
median of --repeat runs; memory is the largest of them.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"

CALL_KINDS = "('Call', 'Dispatch', 'NewInit', 'Generator')"
FRAME_KINDS = "('Call', 'Dispatch', 'NewInit', 'Generation')"

# DuckDB's spelling of the analyzer's `edges` view, over its own read of the file.
DUCK_EDGES = "(SELECT id AS dst, unnest(inputs, recursive := true) FROM nodes)"

# The shipped constraint extraction, run by both engines over their
# `nodes`/`edges` (DuckDB's defined as FORMAT.md describes them).
CONSTRAINTS_SQL = (ROOT / "analyze" / "src" / "constraints.sql").read_text()

# case: (hltpy-analyze arguments, DuckDB SQL statements). Both compute the
# same answer; each engine gets the SQL a user of it would write.
CASES = {
    "count by kind": (
        # Kinds with equal counts in a stable order: without `kind` the
        # engines' orders of ties differ from run to run.
        ["query", "SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY n DESC, kind"],
        ["SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY n DESC, kind"],
    ),
    "top-20 callables": (
        [
            "query",
            "SELECT name, count(*) AS n FROM calls GROUP BY name ORDER BY n DESC, name LIMIT 20",
        ],
        [
            f"SELECT name, count(*) AS n FROM nodes WHERE kind IN {CALL_KINDS} "
            "GROUP BY name ORDER BY n DESC, name LIMIT 20"
        ],
    ),
    "fan-in: edges joined to nodes": (
        [
            "query",
            "SELECT n.id, n.kind, n.name, count(*) AS fan_in FROM edges e JOIN nodes n ON n.id = e.dst "
            "GROUP BY n.id, n.kind, n.name ORDER BY fan_in DESC, n.id LIMIT 20",
        ],
        [
            f"SELECT n.id, n.kind, n.name, count(*) AS fan_in FROM {DUCK_EDGES} e JOIN nodes n ON n.id = e.dst "
            "GROUP BY n.id, n.kind, n.name ORDER BY fan_in DESC, n.id LIMIT 20"
        ],
    ),
    "constraints, counted by kind": (
        ["query", "SELECT kind, count(*) AS n FROM constraints GROUP BY kind ORDER BY kind"],
        [
            "CREATE OR REPLACE VIEW nodes AS SELECT '{trace}' AS trace, * FROM read_parquet('{path}')",
            "CREATE VIEW edges AS SELECT trace, input.src AS src, input.role AS role, input.key AS key, dst "
            "FROM (SELECT trace, id AS dst, unnest(inputs) AS input FROM nodes)",
            f"SELECT kind, count(*) AS n FROM ({CONSTRAINTS_SQL}) GROUP BY kind ORDER BY kind",
        ],
    ),
    "summary": (
        ["summary"],
        [
            "SELECT key, value FROM parquet_kv_metadata('{path}')",
            "SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY n DESC",
            f"SELECT kind, name, count(*) AS n FROM nodes WHERE kind IN {CALL_KINDS} "
            "GROUP BY kind, name ORDER BY n DESC, name LIMIT 15",
            f"WITH RECURSIVE c AS (SELECT id, frame FROM nodes WHERE kind IN {FRAME_KINDS}), "
            "d(id, depth) AS (SELECT id, 1 FROM c WHERE frame IS NULL "
            "UNION ALL SELECT c.id, d.depth + 1 FROM c JOIN d ON c.frame = d.id) "
            "SELECT max(depth) FROM d",
            f"WITH ranked AS (SELECT dst AS node, count(*) AS degree FROM {DUCK_EDGES} "
            "GROUP BY dst ORDER BY degree DESC, node LIMIT 3) "
            "SELECT ranked.node, n.kind, n.name, ranked.degree FROM ranked JOIN nodes n ON n.id = ranked.node "
            "ORDER BY degree DESC, node",
            f"WITH ranked AS (SELECT src AS node, count(*) AS degree FROM {DUCK_EDGES} "
            "GROUP BY src ORDER BY degree DESC, node LIMIT 3) "
            "SELECT ranked.node, n.kind, n.name, ranked.degree FROM ranked JOIN nodes n ON n.id = ranked.node "
            "ORDER BY degree DESC, node",
        ],
    ),
}

# Runs in a fresh Python: connects, defines `nodes` over the file, times the
# statements only, prints the seconds, then the last statement's rows as JSON.
DUCK_RUNNER = """
import json, sys, time, duckdb
path, statements = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW nodes AS SELECT * FROM read_parquet('{path}')")
start = time.perf_counter()
for sql in statements:
    # {trace}: the trace's name as hltpy-analyze's `nodes` spells it (the path given).
    rows = con.execute(sql.replace("{path}", path).replace("{trace}", path)).fetchall()
print(time.perf_counter() - start)
print(json.dumps([list(row) for row in rows]))
"""


def same_answer(analyze, analyze_args, path, duck_stdout):
    """Do both engines give the same rows? (Only for queries: `summary` is
    text; its figures are each one of DuckDB's statements.)"""
    if analyze_args[0] != "query":
        return None
    done = subprocess.run([analyze, *analyze_args, str(path), "--format", "json"], capture_output=True, text=True,
                          check=True)  # fmt: skip
    ours = [list(row.values()) for row in json.loads(done.stdout)]
    theirs = json.loads(duck_stdout.splitlines()[1])
    return ours == theirs


def ensure_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("installing duckdb from PyPI ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    import duckdb

    return duckdb.__version__


def synthetic_trace(nodes):
    path = OUT / f"synthetic-{nodes}.parquet"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"writing {path} ...", file=sys.stderr)
    subprocess.run(
        [
            "cargo",
            "run",
            "--profile",
            "analyze",
            "--quiet",
            "-p",
            "hltpy-schema",
            "--example",
            "synthetic_trace",
            "--",
            str(path),
            str(nodes),
        ],
        cwd=ROOT,
        check=True,
    )
    return path


def measure(argv, ok=(0,)):
    """(wall seconds, peak RSS MiB, stdout) of argv, from the kernel's accounting;
    an exit code outside `ok` (codes, or a test of the code and stderr) stops
    the benchmark."""
    # Popen reaps the child itself, so take its rusage from wait4 directly.
    start = time.perf_counter()
    pid = os.posix_spawnp(
        argv[0],
        argv,
        dict(os.environ),
        file_actions=[
            (
                os.POSIX_SPAWN_OPEN,
                1,
                str(OUT / "stdout.txt"),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o644,
            ),
            (
                os.POSIX_SPAWN_OPEN,
                2,
                str(OUT / "stderr.txt"),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o644,
            ),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    accepted = ok(code, (OUT / "stderr.txt").read_text()) if callable(ok) else code in ok
    if not accepted:
        raise SystemExit(
            f"{' '.join(argv[:3])} ... failed: {(OUT / 'stderr.txt').read_text()[-2000:]}"
        )
    return elapsed, usage.ru_maxrss / 1024, (OUT / "stdout.txt").read_text()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()

    duckdb_version = ensure_duckdb()
    path = synthetic_trace(args.nodes)
    size = path.stat().st_size / 2**20
    print(
        f"trace: {path.relative_to(ROOT)} ({args.nodes:,} nodes, {size:.0f} MiB); "
        f"DuckDB {duckdb_version}; {os.cpu_count()} cores; median of {args.repeat}"
    )
    print()
    print(
        "| case | hltpy-analyze s | DuckDB s | ratio | hltpy-analyze peak MiB | DuckDB peak MiB | same rows |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for case, (analyze_args, statements) in CASES.items():
        ours, theirs, our_memory, their_memory = [], [], 0.0, 0.0
        for _ in range(args.repeat):
            seconds, memory, _ = measure([args.analyze, *analyze_args, str(path)])
            ours.append(seconds)
            our_memory = max(our_memory, memory)
            _, memory, stdout = measure([sys.executable, "-c", DUCK_RUNNER, str(path), *statements])
            theirs.append(float(stdout.splitlines()[0]))
            their_memory = max(their_memory, memory)
        same = same_answer(args.analyze, analyze_args, path, stdout)
        a, d = statistics.median(ours), statistics.median(theirs)
        print(
            f"| {case} | {a:.2f} | {d:.2f} | {a / d:.2f}x | {our_memory:.0f} | {their_memory:.0f} "
            f"| {'n/a' if same is None else 'yes' if same else 'NO'} |",
            flush=True,
        )
    passes(args, path)


def passes(args, path):
    """Passes with no SQL counterpart: time, peak memory and speed of `infer`
    over the synthetic trace, over one a tenth its size (memory should not
    grow with nodes), and over a directory of 100 sample traces."""
    smaller = synthetic_trace(args.nodes // 10)
    many = OUT / "hundred-traces"
    samples = sorted((ROOT / "samples" / "traces").glob("*.parquet"))
    if not many.exists():
        many.mkdir(parents=True)
        for i in range(100):
            source = samples[i % len(samples)]
            (many / f"{i:03d}-{source.name}").write_bytes(source.read_bytes())
    print()
    print("| pass | input | nodes | s | nodes/s | peak MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    import pyarrow.parquet as pq

    for label, target in [
        ("infer", smaller),
        ("infer", path),
        ("infer", many),
    ]:
        files = sorted(target.glob("*.parquet")) if target.is_dir() else [target]
        nodes = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        times, memory = [], 0.0
        for _ in range(args.repeat):
            seconds, peak, _ = measure([args.analyze, label, str(target)])
            times.append(seconds)
            memory = max(memory, peak)
        t = statistics.median(times)
        name = f"{target.name} ({len(files)} traces)" if target.is_dir() else target.name
        print(
            f"| {label} | {name} | {nodes:,} | {t:.2f} | {nodes / t:,.0f} | {memory:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
