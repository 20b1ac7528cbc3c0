"""``%load_ext hltpy`` in IPython and Jupyter: the ``%%hltpy`` cell magic
captures the cell it heads and shows what was traced.

    %%hltpy -t mydsl --max-repr 80
    result = mydsl.AddX(10).add_to(5, z=2)

The cell runs in the notebook's namespace inside ``hltpy.capture``; the
magic's value is the trace (``hltpy.analysis.Trace``), which displays its
summary and a bounded drawing of its final result. The options are those
of ``python -m hltpy run`` (made from the same definitions).
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import os
import shlex
import shutil
import sys
import tempfile
from typing import Any

import hltpy
from hltpy import _options
from hltpy.analysis import Trace, open_trace

# Where cells' traces go without -o: a directory per kernel, removed when
# the kernel exits.
_scratch: str | None = None
_numbers = itertools.count(1)


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise _Refused(f"%%hltpy: {message} (%%hltpy --help lists the options)")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise _Refused(message or "")


def magic_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="%%hltpy",
        description="Capture this cell into a trace and show what was traced.",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    _options.add_module_flag(
        parser, "trace this module's functions and classes first (hltpy.trace_modules); repeatable"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="the trace file (default: a temporary file, removed when the kernel exits)",
    )
    parser.add_argument(
        "--name", metavar="VAR", help="also keep the trace in the notebook's variable VAR"
    )
    _options.add_flags(parser)
    return parser


def _scratch_path() -> str:
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="hltpy-notebook-")
        atexit.register(shutil.rmtree, _scratch, True)
    return os.path.join(_scratch, f"cell-{next(_numbers)}.parquet")


def run_cell(ipython: Any, line: str, cell: str) -> Trace | None:
    """What ``%%hltpy LINE`` does with CELL in ``ipython``."""
    from IPython.core.error import UsageError

    parser = magic_parser()
    try:
        parsed = parser.parse_args(shlex.split(line))
        if parsed.help:
            print(parser.format_help())
            return None
        capture_options = _options.from_flags(parsed)
    except (_Refused, SystemExit) as refusal:
        raise UsageError(str(refusal)) from None
    if parsed.trace:
        hltpy.trace_modules(parsed.trace)
    path = parsed.output or _scratch_path()
    code = ipython.transform_cell(cell)
    # Registered with linecache under a name of its own, so tracebacks and
    # the trace's locations show the cell's lines.
    filename = ipython.compile.cache(code, ipython.execution_count, raw_code=cell)
    compiled = ipython.compile(code, filename, "exec")
    try:
        with hltpy.capture(path, **capture_options) as run:
            exec(compiled, ipython.user_ns)
    except BaseException:
        print(f"hltpy: the cell raised; its trace is in {path}", file=sys.stderr)
        raise
    trace = open_trace(run.path)
    if parsed.name:
        ipython.user_ns[parsed.name] = trace
    return trace


def load_ipython_extension(ipython: Any) -> None:
    def hltpy_magic(line: str, cell: str) -> Trace | None:
        return run_cell(ipython, line, cell)

    hltpy_magic.__doc__ = magic_parser().format_help()
    ipython.register_magic_function(hltpy_magic, magic_kind="cell", magic_name="hltpy")
