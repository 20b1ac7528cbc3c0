"""The capture benchmark on each CPython the project supports, side by side.

    python bench/versions_bench.py [--repeat 5] [--scale 1.0]

Runs bench/capture_bench.py under CPython 3.11 (.venv) and each version of
the Makefile's EXTRA_PYTHONS (.venv-3.12, .venv-3.13, made by `make
versions`), one after another in this one run, and prints per case and
class-heavy program the traced/untraced ratio and nodes/s of each version.
Whether a version reads source locations from the running frame (the fast
path of capture/src/frames.rs, checked at import) is shown under its
column: a version where the check fails pays the fallback's cost in these
figures.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
INTERPRETERS = {"3.11": ROOT / ".venv" / "bin" / "python", "3.12": ROOT / ".venv-3.12" / "bin" / "python",
                "3.13": ROOT / ".venv-3.13" / "bin" / "python"}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    missing = [v for v, python in INTERPRETERS.items() if not python.exists()]
    if missing:
        sys.exit(f"no venv for CPython {', '.join(missing)}: run `make versions` first")
    figures = {}
    with tempfile.TemporaryDirectory() as work:
        for version, python in INTERPRETERS.items():
            report = pathlib.Path(work) / f"{version}.json"
            done = subprocess.run(
                [
                    str(python),
                    str(ROOT / "bench" / "capture_bench.py"),
                    "--repeat",
                    str(args.repeat),
                    "--scale",
                    str(args.scale),
                    "--json",
                    str(report),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"capture_bench.py failed on CPython {version}:\n{done.stderr[-3000:]}")
            figures[version] = json.loads(report.read_text())
    versions = list(figures)
    print(
        "capture benchmark, traced/untraced time and nodes/s, by CPython version (one run, one after another)"
    )
    print(f"{'':34}" + "".join(f"{figures[v]['python']:>24}" for v in versions))
    print(
        f"{'source locations':34}"
        + "".join(
            f"{'from the frame' if figures[v]['fast_locations'] else 'fallback path':>24}"
            for v in versions
        )
    )
    for group in ("cases", "programs"):
        for name in figures[versions[0]][group]:
            cells = []
            for v in versions:
                row = figures[v][group][name]
                cells.append(f"{row['ratio']:>9.1f}x {row['nodes_per_s']:>12,.0f}/s")
            print(f"{name:34}" + "".join(f"{c:>24}" for c in cells))
    print(f"(median of {args.repeat} runs per figure, scale {args.scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
