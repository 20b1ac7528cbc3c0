"""The command line: ``python -m hltpy run ...`` traces a program without
editing it, the way ``coverage run`` measures one."""

from __future__ import annotations

import argparse
import os
import pathlib
import runpy
import sys

from hltpy import _batch, _options

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
with a variable for each option:
""" + _options.variables_help()

# Options of `run` that take a value; everything after the first token that
# is not an option (or after -m NAME) belongs to the program.
VALUE_OPTIONS = {"-t", "--trace", "-o", "--output", *_options.value_flags()}


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hltpy run",
        usage="python -m hltpy run [options] (script.py | -m module) [args ...]",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _options.add_module_flag(
        parser, "trace this module (and its submodules) when it is imported; repeatable"
    )
    parser.add_argument(
        "-o",
        "--output",
        default="hltpy-{script}-{pid}.parquet",
        metavar="PATH",
        help="trace file; {pid}, {time} and {script} are filled in (default: %(default)s)",
    )
    _options.add_flags(parser)
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
    capture_options = _options.from_flags(options)
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
