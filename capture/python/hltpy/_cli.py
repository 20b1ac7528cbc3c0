"""The command line: ``python -m hltpy run ...`` traces a program without
editing it, the way ``coverage run`` measures one."""

from __future__ import annotations

import argparse
import os
import pathlib
import runpy
import sys

import hltpy
from hltpy import _batch

DESCRIPTION = """\
Trace a Python program without editing it.

  python -m hltpy run -t mydsl -o 'traces/{script}-{pid}.parquet' script.py ARGS...
  python -m hltpy run -t mydsl -m package.module ARGS...

The program runs as __main__ with its own argv; its exit code is kept. The
trace is complete whether it returns, raises, calls sys.exit(), or is
stopped with Ctrl-C (SIGINT) or SIGTERM. multiprocessing children (fork and
spawn) write traces of their own next to it, named with their pid.

Environment form, for processes whose command line you do not control:
  HLTPY_TRACE='out-{pid}.parquet' HLTPY_MODULES=mydsl,other python prog.py
(with HLTPY_VALUES, HLTPY_MAX_REPR, HLTPY_SEGMENT_NODES, HLTPY_LOCATIONS=0,
HLTPY_CONVERSIONS=1, HLTPY_ALLOW_MUTATION=1, HLTPY_TRACE_CALLABLES=math.sqrt,
HLTPY_BOUNDARIES=json.dumps,re.match (the whole set; none for none),
HLTPY_BYTE_STREAM_SPLIT=1)
"""

# Options of `run` that take a value; everything after the first token that
# is not an option (or after -m NAME) belongs to the program.
VALUE_OPTIONS = {
    "-t",
    "--trace",
    "-o",
    "--output",
    "--values",
    "--max-repr",
    "--flush-every",
    "--segment-nodes",
    "--trace-callable",
    "--boundary",
    "--no-boundary",
}


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hltpy run",
        usage="python -m hltpy run [options] (script.py | -m module) [args ...]",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-t",
        "--trace",
        action="append",
        default=[],
        metavar="MODULE",
        help="trace this module (and its submodules) when it is imported; repeatable",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="hltpy-{script}-{pid}.parquet",
        metavar="PATH",
        help="trace file; {pid}, {time} and {script} are filled in (default: %(default)s)",
    )
    parser.add_argument(
        "--values",
        choices=["full", "scalars", "types"],
        default="full",
        help="what to keep of values: 'types' keeps no user data (default: full)",
    )
    parser.add_argument("--max-repr", type=int, default=200, help="longest printed value kept")
    parser.add_argument("--flush-every", type=int, default=16384, help="nodes per written batch")
    parser.add_argument(
        "--segment-nodes",
        type=int,
        metavar="N",
        help="roll the output into a directory of complete segments of about N nodes",
    )
    parser.add_argument(
        "--no-locations", action="store_true", help="do not record source file and line"
    )
    parser.add_argument(
        "--conversions", action="store_true", help="record int()/float()/bool()/index() as nodes"
    )
    parser.add_argument(
        "--allow-mutation", action="store_true", help="allow and trace mutation of traced objects"
    )
    parser.add_argument(
        "--trace-callable",
        action="append",
        default=[],
        metavar="NAME",
        help="record calls of this untraced callable (e.g. math.sqrt, len) with traced arguments; "
        "a module (math) for each of its public functions",
    )
    parser.add_argument(
        "--boundary",
        action="append",
        default=[],
        metavar="NAME",
        help="also give this library callable (mylib.parse) raw values, as hltpy.BOUNDARIES "
        "(open, os, json, re, statistics, …) are; repeatable",
    )
    parser.add_argument(
        "--no-boundary",
        action="append",
        default=[],
        metavar="NAME",
        help="give traced values to this one of hltpy.BOUNDARIES as they are ('all': to every one)",
    )
    parser.add_argument(
        "--byte-stream-split",
        action="store_true",
        help="smaller traces that only newer Parquet readers open (pyarrow>=16, DuckDB>=2.0; "
        "not Spark 3.5): see FORMAT.md, 'Readers'",
    )
    return parser


def split_run_arguments(tokens: list[str]) -> tuple[list[str], str | None, str | None, list[str]]:
    """(hltpy options, script, module, program arguments)."""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "-m":
            if index + 1 >= len(tokens):
                raise SystemExit("hltpy: -m needs a module name, e.g. -m package.module")
            return tokens[:index], None, tokens[index + 1], tokens[index + 2 :]
        if token == "--":
            index += 1
            break
        if not token.startswith("-"):
            break
        index += 2 if token in VALUE_OPTIONS else 1
    if index >= len(tokens):
        return tokens, None, None, []
    return tokens[:index], tokens[index], None, tokens[index + 1 :]


def boundaries(added: list[str], removed: list[str]) -> frozenset[str]:
    """``hltpy.BOUNDARIES`` with ``--boundary`` names added and
    ``--no-boundary`` names (or ``all``) taken out."""
    unknown = [name for name in removed if name != "all" and name not in hltpy.BOUNDARIES]
    if unknown:
        raise SystemExit(
            f"hltpy: --no-boundary {unknown[0]!r} is not one of hltpy.BOUNDARIES "
            f"(e.g. json.dumps); 'all' removes every one"
        )
    base = frozenset() if "all" in removed else hltpy.BOUNDARIES - set(removed)
    return base | set(added)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(DESCRIPTION)
        print("commands:\n  run    trace a script or module (python -m hltpy run --help)")
        return 0 if argv else 2
    if argv[0] != "run":
        sys.stderr.write(
            f"hltpy: unknown command {argv[0]!r}; the command is 'run' (python -m hltpy --help)\n"
        )
        return 2
    options_part, script, module, program_args = split_run_arguments(argv[1:])
    parser = run_parser()
    options = parser.parse_args([t for t in options_part if t != "--"])
    if script is None and module is None:
        parser.error("give a script to run, or -m module")
    if script is not None and not os.path.isfile(script):
        parser.error(f"no such script: {script!r}")
    capture_options = {
        "values": options.values,
        "max_repr": options.max_repr,
        "flush_every": options.flush_every,
        "segment_nodes": options.segment_nodes,
        "locations": not options.no_locations,
        "conversions": options.conversions,
        "allow_mutation": options.allow_mutation,
        "trace_callables": options.trace_callable,
        "boundaries": boundaries(options.boundary, options.no_boundary),
        "byte_stream_split": options.byte_stream_split,
    }
    label = pathlib.Path(script).stem if script else module.rpartition(".")[2]
    session = _batch.BatchSession(options.output, options.trace, label, capture_options)
    if script is not None:
        sys.argv = [script, *program_args]
        sys.path[0] = os.path.dirname(os.path.abspath(script))
    else:
        sys.argv = [module, *program_args]
        sys.path[0] = os.getcwd()
    try:
        session.start()
    except OSError as err:
        sys.stderr.write(f"hltpy: {err}\n")
        return 2
    reason = "the program returned"
    try:
        if script is not None:
            runpy.run_path(script, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        reason = f"the program called sys.exit({exit_.code!r})"
        raise
    except KeyboardInterrupt:
        reason = "interrupted by SIGINT"
        raise
    except BaseException as err:
        reason = f"raised {type(err).__qualname__}: {str(err)[:200]}"
        raise
    finally:
        session.finish(reason)
    return 0
