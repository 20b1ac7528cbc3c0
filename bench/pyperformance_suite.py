"""The pyperformance suite as the yardstick of capture on real Python.

Each self-contained benchmark of pyperformance (pinned, fetched from
PyPI) runs twice in fresh processes, untraced and traced as a whole module
(`allow_mutation=True`), with the benchmark's own `__main__` block driving
it through a stand-in for `pyperf` that calls each benchmark function once
(`loops=1`). What a run computed — the benchmark functions' results, the
module's data afterwards, what it printed and the files it wrote — is
reduced to a digest, and the two digests must be equal. Prints a table:
benchmark, same result?, nodes, traced/untraced time, nodes/s.

    python bench/pyperformance_suite.py [--only NAME,...] [--json PATH]

`make test-real` runs it; tests/test_pyperformance.py runs it in CI (about
a minute and a half here). Exit status 1 when any result differs or a run
fails.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable

VERSION = "1.14.0"
CACHE = (
    pathlib.Path(os.environ.get("HLTPY_CACHE", pathlib.Path.home() / ".cache" / "hltpy"))
    / "pyperformance"
)

# Benchmark → arguments for its own command line: small sizes, so that a
# traced run takes seconds.
BENCHMARKS: dict[str, list[str]] = {
    "async_generators": [],
    "async_tree": ["none"],
    "chaos": ["--iterations", "2000", "--width", "64", "--height", "64"],
    "comprehensions": [],
    "coroutines": [],
    "deepcopy": [],
    "deltablue": [],
    "fannkuch": [],
    "float": [],
    "generators": [],
    "go": [],
    "hexiom": ["--level", "2"],
    "meteor_contest": [],
    "nbody": ["--iterations", "200"],
    "nqueens": [],
    "pidigits": ["--digits", "200"],
    "pprint": [],
    "pyflate": [],
    "raytrace": ["--width", "20", "--height", "20"],
    "richards": [],
    "richards_super": [],
    "scimark": ["sor"],
    "spectral_norm": [],
    "unpack_sequence": ["tuple"],
}

# A stand-in for pyperf, written beside the benchmarks as `pyperf.py` (so
# that compile --check imports the benchmark module as the run did): each
# benchmark function is called once and its result kept.
PYPERF = r"""
import argparse, asyncio, sys

results = []
perf_counter = lambda: 0.0  # a benchmark's timing is not its result


class Runner:
    def __init__(self, *args, add_cmdline_args=None, **kwargs):
        self.argparser = argparse.ArgumentParser()
        self.metadata = {}

    def parse_args(self, args=None):
        return self.argparser.parse_args(sys.argv[1:] if args is None else args)

    def bench_func(self, name, func, *args, inner_loops=None):
        results.append([name, func(*args)])

    def bench_time_func(self, name, func, *args, inner_loops=None):
        results.append([name, func(1, *args)])

    def bench_async_func(self, name, func, *args, inner_loops=None):
        results.append([name, asyncio.run(func(*args))])
"""

# The child: the benchmark imported as a module (traced whole, before it is
# imported), its __main__ block run in it.
CHILD = r'''
import hashlib, json, os, sys, time, types
mode, source_dir, name, out_path = sys.argv[1:5]
sys.argv = [name, *sys.argv[5:]]
sys.path.insert(0, source_dir)
import pyperf
from pyperf import Runner, results

def digest(value, seen, depth=0):
    """A canonical text of a value: numbers exactly, containers item by
    item, objects by type and attributes; no addresses. `seen` holds the
    values being printed around this one (a cycle prints as <cycle>), so
    the text does not depend on the order values are met in."""
    import hltpy
    value = hltpy.from_traced(value)
    if type(value).__name__ in ("TracedFunction", "TracedClass", "TracedCallable"):
        value = value.__wrapped__
    if depth > 8:
        return "…"
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return repr(value)
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, complex):
        return f"({value.real.hex()},{value.imag.hex()})"
    if id(value) in seen:
        return "<cycle>"
    seen.add(id(value))
    try:
        return digest_parts(value, seen, depth)
    finally:
        seen.discard(id(value))

def digest_parts(value, seen, depth):
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [digest(v, seen, depth + 1) for v in value]
        return type(value).__name__ + "[" + ",".join(sorted(items) if isinstance(value, (set, frozenset)) else items) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{digest(k, seen, depth + 1)}:{digest(v, seen, depth + 1)}" for k, v in value.items())) + "}"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)):
        return getattr(value, "__qualname__", getattr(value, "__name__", "?"))
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return type(value).__qualname__ + digest(attributes, seen, depth + 1)
    slots = [s for k in type(value).__mro__ for s in getattr(k, "__slots__", ())]
    if slots:
        return type(value).__qualname__ + "(" + ",".join(digest(getattr(value, s, None), seen, depth + 1) for s in slots) + ")"
    return type(value).__qualname__

import io, contextlib
printed = io.StringIO()
start = time.perf_counter()
nodes = 0
with contextlib.redirect_stdout(printed):
    if mode == "traced":
        import hltpy
        hltpy.trace_modules([name])
        module = __import__(name)
        with hltpy.capture(out_path, allow_mutation=True) as run:
            exec(compile(module.__hltpy_main__, module.__file__, "exec"), vars(module))
        nodes = run.nodes
    else:
        module = __import__(name)
        exec(compile(module.__hltpy_main__, module.__file__, "exec"), vars(module))
seconds = time.perf_counter() - start
# The module's data, less what hltpy adds to a traced module (its `super`
# and `type`) and its code.
data = {k: v for k, v in vars(module).items()
        if not k.startswith("__") and not (k in ("super", "type") and mode == "traced") and not isinstance(v, Runner)
        and not isinstance(v, (types.ModuleType, types.FunctionType, type))
        and type(v).__name__ not in ("TracedFunction", "TracedClass", "TracedCallable")}
files = {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in sorted(os.listdir(".")) if os.path.isfile(p)}
text = json.dumps([digest(results, set()), digest(data, set()), printed.getvalue(), files])
print(json.dumps({"digest": hashlib.sha256(text.encode()).hexdigest(), "text": text,
                  "nodes": nodes, "seconds": seconds}))
'''


def sdist() -> pathlib.Path:
    """The benchmarks' directory of the pinned pyperformance sdist."""
    root = CACHE / f"pyperformance-{VERSION}"
    benchmarks = root / "pyperformance" / "data-files" / "benchmarks"
    if benchmarks.is_dir():
        return benchmarks
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"pyperformance=={VERSION}",
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    with tarfile.open(CACHE / f"pyperformance-{VERSION}.tar.gz") as archive:
        archive.extractall(CACHE, filter="data")
    return benchmarks


def as_module(
    benchmarks: pathlib.Path,
    name: str,
    directory: pathlib.Path,
    edit: Callable[[str], str] | None = None,
) -> None:
    """`bm_NAME/run_benchmark.py` as module `bm_NAME` in `directory`, its
    `__main__` block kept as text (`__hltpy_main__`) for the child to run;
    its data files beside it. `edit` changes the benchmark's text first (a
    changed version of the program, for `diff`)."""
    source_dir = benchmarks / f"bm_{name}"
    text = (source_dir / "run_benchmark.py").read_text()
    if edit is not None:
        text = edit(text)
    head, _, main = re.split(
        r"^(if __name__ == ['\"]__main__['\"]:)\n", text, maxsplit=1, flags=re.MULTILINE
    )
    module = f"{head}\n__hltpy_main__ = {textwrap.dedent(main)!r}\n"
    (directory / f"bm_{name}.py").write_text(module)
    (directory / "pyperf.py").write_text(PYPERF.lstrip())
    for extra in source_dir.iterdir():
        if extra.name != "run_benchmark.py" and extra.suffix != ".toml":
            target = directory / extra.name
            if not target.exists():
                target.symlink_to(extra)


def run_one(
    benchmarks: pathlib.Path,
    name: str,
    args: list[str],
    work: pathlib.Path,
    edit: Callable[[str], str] | None = None,
) -> dict:
    source = work / "src"
    source.mkdir(parents=True, exist_ok=True)
    as_module(benchmarks, name, source, edit)
    outcome: dict = {"name": name}
    for mode in ("untraced", "traced"):
        cwd = work / mode / name
        cwd.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                sys.executable,
                "-X",
                "faulthandler",
                "-c",
                CHILD,
                mode,
                str(source),
                f"bm_{name}",
                str(work / f"{name}.parquet"),
                *args,
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            outcome[mode] = {
                "error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}",
                "stderr": done.stderr[-4000:],
            }
            continue
        outcome[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    untraced, traced = outcome.get("untraced", {}), outcome.get("traced", {})
    outcome["same"] = "digest" in untraced and untraced.get("digest") == traced.get("digest")
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--json", help="also write the outcomes as JSON here")
    parser.add_argument("--traces", help="keep the traces in this directory (NAME.parquet)")
    options = parser.parse_args()
    names = list(BENCHMARKS)
    if options.only:
        names = [n for n in options.only.split(",") if n]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark {unknown[0]!r}; one of {', '.join(BENCHMARKS)}")
    benchmarks = sdist()
    outcomes = []
    print(
        f"pyperformance {VERSION}, CPython {sys.version.split()[0]}: traced whole (allow_mutation=True) vs untraced"
    )
    print(
        f"{'benchmark':<18} {'same result':<12} {'nodes':>10} {'traced/untraced':>16} {'nodes/s':>10}"
    )
    with tempfile.TemporaryDirectory(prefix="hltpy-pyperformance-") as work:
        if options.traces:
            work = options.traces
            pathlib.Path(work).mkdir(parents=True, exist_ok=True)
        for name in names:
            started = time.perf_counter()
            outcome = run_one(benchmarks, name, BENCHMARKS[name], pathlib.Path(work))
            outcomes.append(outcome)
            traced, untraced = outcome.get("traced", {}), outcome.get("untraced", {})
            if "error" in traced or "error" in untraced:
                which = "traced" if "error" in traced else "untraced"
                print(f"{name:<18} {'FAILED':<12} {which} run: {outcome[which]['error']}")
                continue
            ratio = traced["seconds"] / max(untraced["seconds"], 1e-9)
            rate = traced["nodes"] / max(traced["seconds"], 1e-9)
            same = "yes" if outcome["same"] else "NO"
            print(
                f"{name:<18} {same:<12} {traced['nodes']:>10,} {ratio:>15.1f}x {rate:>10,.0f}"
                f"   ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    if options.json:
        pathlib.Path(options.json).write_text(json.dumps(outcomes, indent=1))
    bad = [o["name"] for o in outcomes if not o["same"]]
    print(
        f"{len(outcomes) - len(bad)} of {len(outcomes)} give the same result traced"
        + (f"; different or failed: {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
