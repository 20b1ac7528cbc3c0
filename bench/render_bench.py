"""Render and report benchmark: `hltpy-analyze render` and `report` on large
traces, whole commands (process start, reading, drawing, writing), with
their peak memory, in one run.

    python bench/render_bench.py [--nodes 1000000] [--selection 10000] [--svg-nodes 450]
                                 [--synthetic-nodes 10000000] [--repeat 3] [--analyze PATH]

Cases: DOT of a ~10,000-node selection (the final result's cone, its
depth chosen by two probes) from the captured 1M-node trace of
bench/eval_program.py (traces up to 2M nodes are read whole); a ~450-node
cone as SVG through graphviz's `dot`; a depth-5 cone of the
10M-node synthetic trace (read a cone level per query); and the HTML
report of both traces (summary, eval and inference passes included).
"""

import argparse
import os
import pathlib
import re
import statistics
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from analyze_bench import measure, synthetic_trace  # noqa: E402
from eval_bench import captured_trace  # noqa: E402


def drawn_nodes(path):
    """Trace nodes in a DOT file (not the "… N more" notes)."""
    return len(re.findall(r"^\s*n\d+\[", path.read_text(), flags=re.MULTILINE))


def median_run(argv, repeat):
    runs = [measure(argv) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--selection", type=int, default=10_000)
    parser.add_argument(
        "--svg-nodes", type=int, default=450, help="about this many nodes in the SVG case"
    )
    parser.add_argument("--synthetic-nodes", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()
    captured = captured_trace(args.nodes)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(captured).metadata.num_rows
    synthetic = synthetic_trace(args.synthetic_nodes)
    dot = OUT / "render-selection.dot"
    render = [args.analyze, "render", "--progress", "never", "--max-nodes", str(4 * args.selection)]

    # Two probes find the depth whose cone holds about --selection nodes.
    probe = 200
    measure([*render, str(captured), "--depth", str(probe), "-o", str(dot)])
    depth = max(1, round(probe * args.selection / max(1, drawn_nodes(dot))))
    measure([*render, str(captured), "--depth", str(depth), "-o", str(dot)])
    selected = drawn_nodes(dot)

    print(
        f"traces: {captured.relative_to(ROOT)} (captured from bench/eval_program.py), "
        f"{synthetic.relative_to(ROOT)} (synthetic); {os.cpu_count()} cores; median of {args.repeat}"
    )
    print()
    print("| case | nodes drawn | seconds | peak MiB |")
    print("| --- | ---: | ---: | ---: |")
    seconds, peak = median_run(
        [*render, str(captured), "--depth", str(depth), "-o", str(dot)], args.repeat
    )
    print(
        f"| DOT of the final result's cone, depth {depth}, from {rows:,} nodes | {selected:,} "
        f"| {seconds:.2f} | {peak:.0f} |"
    )
    # graphviz lays out 10,000 nodes in minutes; SVG is for drawings of
    # the default --max-nodes (500).
    svg = OUT / "render-small.svg"
    small = max(1, depth * args.svg_nodes // max(1, selected))
    seconds, peak = median_run(
        [*render, str(captured), "--depth", str(small), "-o", str(svg)], args.repeat
    )
    svg_nodes = svg.read_text().count('class="node"')
    print(
        f"| SVG (graphviz's dot included) of the cone at depth {small} | {svg_nodes:,} "
        f"| {seconds:.2f} | {peak:.0f} |"
    )
    cone = OUT / "render-cone.dot"
    seconds, peak = median_run(
        [*render, str(synthetic), "--depth", "5", "-o", str(cone)], args.repeat
    )
    print(
        f"| DOT of a depth-5 cone from the {args.synthetic_nodes:,}-node synthetic trace | {drawn_nodes(cone):,} "
        f"| {seconds:.2f} | {peak:.0f} |"
    )
    for trace in [captured, synthetic]:
        page = OUT / f"report-{trace.stem}.html"
        seconds, peak = median_run(
            [args.analyze, "report", "--progress", "never", str(trace), "-o", str(page)],
            args.repeat,
        )
        size = page.stat().st_size / 2**10
        print(f"| report of {trace.name} ({size:.0f} KiB page) | | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
