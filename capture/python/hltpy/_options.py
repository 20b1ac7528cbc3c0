"""The capture options, defined once.

Each option is one entry of ``OPTIONS``: its name and default (the keyword
of ``hltpy.capture``), what it does (the option table of docs/capture.md
is made from it: ``python -m hltpy._options`` prints the table), its flag
of ``python -m hltpy run`` (made from it) and its ``HLTPY_*`` environment
variable (read and exported to children from it). What cannot be made from
a list — the typed signature of ``hltpy.capture``, the native
``_hltpy.start`` and its stub — is checked against it by
``capture/tests/test_option_definitions.py``.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("0", "false", "no")


@dataclass(frozen=True)
class Option:
    """One capture option.

    ``kind`` says how it is given as a flag and a variable: ``int``
    (``--max-repr N``), ``bool`` (``--conversions``; with a true default
    ``--no-locations``), ``choice`` (``--values full``), ``names`` (a
    repeatable ``--trace-callable NAME``; a comma list in the variable),
    ``boundaries`` (``--boundary NAME`` / ``--no-boundary NAME``), or
    ``api`` (only a keyword of ``hltpy.capture``: a callable).
    """

    name: str
    default: Any
    kind: str
    doc: str
    help: str = ""
    choices: tuple[str, ...] = ()
    # Shown in the docs table instead of the default's repr.
    default_text: str | None = None
    # Given to the native `_hltpy.start` (else applied in Python).
    native: bool = True

    @property
    def variable(self) -> str | None:
        """The ``HLTPY_*`` environment variable, if it has one."""
        return None if self.kind == "api" else "HLTPY_" + self.name.upper()

    @property
    def flag(self) -> str | None:
        base = "--" + self.name.replace("_", "-")
        match self.kind:
            case "api":
                return None
            case "bool" if self.default:
                return "--no-" + self.name.replace("_", "-")
            case "names":
                return base.removesuffix("s")
            case "boundaries":
                return "--boundary"
            case _:
                return base

    def add_flags(self, parser: argparse.ArgumentParser) -> None:
        flag = self.flag
        match self.kind:
            case "api":
                return
            case "int":
                parser.add_argument(
                    flag, type=int, default=self.default, metavar="N", help=self.help
                )
            case "bool":
                parser.add_argument(flag, action="store_true", help=self.help)
            case "choice":
                parser.add_argument(
                    flag, choices=list(self.choices), default=self.default, help=self.help
                )
            case "names":
                parser.add_argument(
                    flag, action="append", default=[], metavar="NAME", help=self.help
                )
            case "boundaries":
                added, removed = self.help.split("\n")
                parser.add_argument(
                    "--boundary", action="append", default=[], metavar="NAME", help=added
                )
                parser.add_argument(
                    "--no-boundary", action="append", default=[], metavar="NAME", help=removed
                )

    def from_flags(self, parsed: argparse.Namespace) -> Any:
        """The option's value from parsed flags."""
        value = getattr(parsed, self.flag.lstrip("-").replace("-", "_"))
        match self.kind:
            case "bool" if self.default:
                return not value
            case "boundaries":
                return boundaries(parsed.boundary, parsed.no_boundary)
            case _:
                return value

    def from_variable(self, text: str) -> Any:
        """The option's value from its environment variable's text."""
        match self.kind:
            case "int":
                return int(text)
            case "bool" if self.default:
                return text not in FALSE_WORDS
            case "bool":
                return text in TRUE_WORDS
            case "names":
                return [name for name in text.split(",") if name]
            case "boundaries":
                # The whole set (``none`` for none): children get the parent's.
                return frozenset() if text == "none" else frozenset(text.split(",")) - {""}
            case _:
                return text

    def to_variable(self, value: Any) -> str | None:
        """The variable's text that gives a child ``value`` (None: leave it
        unset, the child takes the default)."""
        match self.kind:
            case "names":
                value = ",".join(value or [])
            case "boundaries" if value is not None:
                value = ",".join(sorted(value)) or "none"
        if value in (None, "", []):
            return None
        return str(int(value) if isinstance(value, bool) else value)

    def table_row(self) -> str:
        """The option's row of the docs table."""
        default = self.default_text or (
            f'"{self.default}"' if isinstance(self.default, str) else repr(self.default)
        )
        return f"| `{self.name}` [{default}] | {self.doc} |"


def boundaries(added: list[str], removed: list[str]) -> frozenset[str]:
    """``hltpy.BOUNDARIES`` with ``--boundary`` names added and
    ``--no-boundary`` names (or ``all``) taken out."""
    from hltpy import BOUNDARIES

    unknown = [name for name in removed if name != "all" and name not in BOUNDARIES]
    if unknown:
        raise SystemExit(
            f"hltpy: --no-boundary {unknown[0]!r} is not one of hltpy.BOUNDARIES "
            f"(e.g. json.dumps); 'all' removes every one"
        )
    base = frozenset() if "all" in removed else BOUNDARIES - set(removed)
    return base | set(added)


OPTIONS: list[Option] = [
    Option(
        "flush_every",
        16384,
        "int",
        "nodes buffered before a batch is handed to the writer thread",
        help="nodes per written batch",
    ),
    Option(
        "allow_mutation",
        False,
        "bool",
        "allow and trace `setattr` outside `__init__`, `t[k] = v`, `del t[k]` (inside an "
        "object's `__init__` call its own attributes and containers may change without it)",
        help="allow and trace mutation of traced objects",
    ),
    Option(
        "max_repr",
        200,
        "int",
        "longest printed form kept for a non-scalar value",
        help="longest printed value kept",
    ),
    Option(
        "values",
        "full",
        "choice",
        '`"full"`: typed scalars and bounded reprs; `"scalars"`: typed scalars only; '
        '`"types"`: type names only — no user data in the file (dict keys become positions, '
        "exceptions keep only their type, argv only the program name)",
        help="what to keep of values: 'types' keeps no user data (default: full)",
        choices=("full", "scalars", "types"),
    ),
    Option(
        "locations",
        True,
        "bool",
        "record each node's source file and line",
        help="do not record source file and line",
    ),
    Option(
        "conversions",
        False,
        "bool",
        "record `int()`, `float()`, `bool()`, `operator.index()` of traced values as "
        "`UDispatch` nodes",
        help="record int()/float()/bool()/index() as nodes",
    ),
    Option(
        "on_node",
        None,
        "api",
        "called with each `hltpy.Node` (id, kind, name, inputs, value, file, line, frame, "
        "thread) as it is recorded, in file order; an exception it raises is raised by the "
        "traced operation, at the user's line",
    ),
    Option(
        "trace_callables",
        (),
        "names",
        'untraced callables (`math.sqrt`, `len`, …), their dotted names (`"math.sqrt"`) or '
        "modules (`math`: each public function of it) whose calls with traced arguments "
        "become `UCall` nodes while the capture runs",
        help="record calls of this untraced callable (e.g. math.sqrt, len) with traced "
        "arguments; a module (math) for each of its public functions",
        native=False,
    ),
    Option(
        "boundaries",
        None,
        "boundaries",
        "dotted names of library callables that receive raw values while the capture runs, "
        'each call with traced arguments a `UCall` (see "Library boundaries" below); '
        '`hltpy.BOUNDARIES \\| {"mylib.parse"}` adds one',
        help="also give this library callable (mylib.parse) raw values, as hltpy.BOUNDARIES "
        "(open, os, json, re, statistics, …) are; repeatable\n"
        "give traced values to this one of hltpy.BOUNDARIES as they are ('all': to every one)",
        default_text="`hltpy.BOUNDARIES`",
        native=False,
    ),
    Option(
        "segment_nodes",
        None,
        "int",
        "write a directory of complete segment files (`part-00000.parquet`, …) of about this "
        "many nodes: a process killed with SIGKILL loses at most the last one",
        help="roll the output into a directory of complete segments of about N nodes",
    ),
    Option(
        "byte_stream_split",
        False,
        "bool",
        "write input ids as Parquet's `BYTE_STREAM_SPLIT`: files up to 3x smaller for tight "
        "loops, but only newer readers open them (pyarrow ≥ 16, DuckDB ≥ 2.0, polars, "
        'fastparquet, arrow-rs; not Spark 3.5): FORMAT.md, "Readers", and '
        "[performance.md](performance.md)",
        help="smaller traces that only newer Parquet readers open (pyarrow>=16, DuckDB>=2.0; "
        "not Spark 3.5): see FORMAT.md, 'Readers'",
    ),
]

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def add_module_flag(parser: argparse.ArgumentParser, help: str) -> None:
    """``-t MODULE`` (repeatable), the modules to trace: ``python -m hltpy
    run`` traces them when imported, ``%%hltpy`` at once."""
    parser.add_argument("-t", "--trace", action="append", default=[], metavar="MODULE", help=help)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Every option's flags, in the order of ``OPTIONS``."""
    for option in OPTIONS:
        option.add_flags(parser)


def from_flags(parsed: argparse.Namespace) -> dict[str, Any]:
    """The capture options of parsed flags (every option with a flag)."""
    return {o.name: o.from_flags(parsed) for o in OPTIONS if o.flag is not None}


def from_environment(environ: dict[str, str] | Any) -> dict[str, Any]:
    """The capture options the ``HLTPY_*`` variables set."""
    options: dict[str, Any] = {}
    for option in OPTIONS:
        text = environ.get(option.variable) if option.variable else None
        if text:
            try:
                options[option.name] = option.from_variable(text)
            except ValueError:
                raise SystemExit(
                    f"hltpy: {option.variable}={text!r} is not a valid {option.name}"
                ) from None
    return options


def to_environment(options: dict[str, Any], set_variable: Callable[[str, str], None]) -> None:
    """Sets the variables that give a child process ``options``."""
    for option in OPTIONS:
        if option.variable is None or option.name not in options:
            continue
        text = option.to_variable(options[option.name])
        if text is not None:
            set_variable(option.variable, text)


def value_flags() -> set[str]:
    """The flags that take a value (``--max-repr N``): where the options
    of ``python -m hltpy run`` end and the program begins is read with it."""
    flags = {o.flag for o in OPTIONS if o.kind in ("int", "choice", "names", "boundaries")}
    return flags | {"--no-boundary"}


def variables_help() -> str:
    """The ``HLTPY_*`` variables as ``python -m hltpy --help`` lists them."""
    examples = {
        "bool": "=1",
        "names": "=math.sqrt,len",
        "boundaries": "=json.dumps,re.match (the whole set, or none)",
    }
    shown = [
        f"{o.variable}{'=0' if o.kind == 'bool' and o.default else examples.get(o.kind, '')}"
        for o in OPTIONS
        if o.variable
    ]
    return textwrap.fill("; ".join(shown), width=74)


def markdown_table() -> str:
    """The option table of docs/capture.md."""
    rows = ["| option | what it does |", "| --- | --- |"]
    rows += [option.table_row() for option in OPTIONS]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
