"""`make test-dist`: the wheels of dist/ in a clean venv, as a user gets them.

A new venv (from the interpreter the project's venv was made from), a
PATH with no Rust toolchain on it and no HLTPY_ANALYZE, then
`pip install --find-links dist 'hltpy[analyze]'`: the capture, a query
returning a pyarrow.Table, an eval with --set and a render must work from
the wheels alone. Prints the wheels' sizes and the install time. Exits 1
(saying what failed) when something does not work.

    python tests/dist_check.py [--dist dist]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run in the clean venv: everything a user would do first.
USER_PROGRAM = r"""
import pathlib, shutil, sys
import pyarrow
import hltpy
from hltpy.analysis import analyzer_path

assert shutil.which("cargo") is None, "cargo is on PATH"
print("analyzer:", analyzer_path())

pathlib.Path("dsl.py").write_text("def scale(x, k):\n    return x * k + 1\n")
sys.path.insert(0, ".")
hltpy.trace_modules(["dsl"])
import dsl

with hltpy.capture(sys.argv[1]) as run:
    total = 0
    for k in range(3):
        total = total + dsl.scale(hltpy.trace(2.5), k)
print("captured", run.nodes, "nodes; total", hltpy.from_traced(total))

trace = run.trace()
kinds = trace.query("SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY kind")
assert isinstance(kinds, pyarrow.Table), type(kinds)
counts = dict(zip(kinds.column("kind").to_pylist(), kinds.column("n").to_pylist()))
assert sum(counts.values()) == run.nodes, (counts, run.nodes)
print("query:", counts)

what_if = trace.eval(set={"scale.x": 10.0})
results = what_if.reports[0].results
assert results, what_if
print("eval --set scale.x=10.0:", [(r["name"], r["recorded"], r["recomputed"]) for r in results][:3])

drawing = trace.render()
assert drawing.svg.lstrip().startswith("<?xml") and "<svg" in drawing.svg, drawing.svg[:80]
print("render:", len(drawing.svg), "characters of SVG")
"""


def clean_path(scratch: Path) -> str:
    """PATH without the directories that hold a Rust toolchain or an
    hltpy-analyze; graphviz's `dot` stays reachable (through a link of
    its own if its directory had to go)."""
    kept = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or any(
            os.path.exists(os.path.join(directory, tool))
            for tool in ("cargo", "rustc", "hltpy-analyze")
        ):
            continue
        kept.append(directory)
    path = os.pathsep.join(kept)
    dot = shutil.which("dot")
    if dot and shutil.which("dot", path=path) is None:
        tools = scratch / "tools"
        tools.mkdir()
        (tools / "dot").symlink_to(dot)
        path = os.pathsep.join([str(tools), path])
    return path


def base_python() -> str:
    """The interpreter behind the running venv (a venv made from a venv's
    python would see nothing of it anyway, but says so plainly)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist", help="the directory of the wheels")
    args = parser.parse_args()
    dist = Path(args.dist).resolve()
    wheels = sorted(dist.glob("*.whl"))
    names = {wheel.name.split("-")[0] for wheel in wheels}
    if names != {"hltpy", "hltpy_analyze"}:
        print(
            f"dist_check: {dist} should hold the hltpy and hltpy_analyze wheels (make dist); "
            f"it holds {[w.name for w in wheels]}",
            file=sys.stderr,
        )
        return 1
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HLTPY_", "CARGO", "RUST", "VIRTUAL_ENV", "PYTHON"))
    }
    with tempfile.TemporaryDirectory(prefix="hltpy-dist-") as scratch:
        environment["PATH"] = clean_path(Path(scratch))
        venv = Path(scratch) / "venv"
        subprocess.run([base_python(), "-m", "venv", str(venv)], check=True, env=environment)
        python = venv / "bin" / "python"
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        # pyarrow from the index first; then the two wheels from dist/ only
        # (no index: a package of the same name elsewhere cannot win).
        start = time.perf_counter()
        subprocess.run([*pip, "pyarrow>=15"], check=True, env=environment)
        pyarrow_seconds = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(
            [*pip, "--no-index", "--find-links", str(dist), "hltpy[analyze]"],
            check=True,
            env=environment,
        )
        install_seconds = time.perf_counter() - start
        environment["PATH"] = os.pathsep.join([str(venv / "bin"), environment["PATH"]])
        version = subprocess.run(
            ["hltpy-analyze", "--version"],
            check=True,
            env=environment,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"hltpy-analyze --version: {version}")
        program = Path(scratch) / "user_program.py"
        program.write_text(USER_PROGRAM)
        done = subprocess.run(
            [python, str(program), str(Path(scratch) / "trace.parquet")],
            env=environment,
            cwd=scratch,
        )
        if done.returncode != 0:
            print(
                "dist_check: the program using the installed wheels failed (above)", file=sys.stderr
            )
            return 1
    print()
    print("| wheel | size |")
    print("| --- | ---: |")
    for wheel in wheels:
        print(f"| {wheel.name} | {wheel.stat().st_size / 2**20:.1f} MiB |")
    print(
        f"\ninstall into a clean venv: the two wheels {install_seconds:.1f} s "
        f"(pyarrow from the index before them: {pyarrow_seconds:.1f} s, pip's cache as it was)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
