"""Traces from Python and notebooks: ``hltpy.open_trace(path).query(sql)``.

Every pass runs in the analyzer, ``hltpy-analyze`` (``pip install
'hltpy[analyze]'`` puts it next to this Python); this module starts it,
reads what it answers — query results as an Arrow IPC stream, the passes'
reports as JSON — and gives them types. Nothing here computes a pass a
second time. An analyzer error becomes :class:`AnalyzeError` with its
one-line message and exit status.

In Jupyter a :class:`Trace`, a :class:`Drawing` and a :class:`Report`
display themselves; long calls show a progress bar (``progress=``).
"""

from __future__ import annotations

import glob
import html
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "AnalyzeError",
    "DiffResult",
    "Drawing",
    "EvalReport",
    "Evaluation",
    "Inference",
    "Report",
    "Trace",
    "TraceSummary",
    "analyzer_path",
    "open_trace",
]

# The tables `query` knows (``hltpy-analyze query --help`` lists them).
TRACE_TABLES = ("nodes", "edges", "calls", "values", "traces", "constraints")
PASS_TABLES = ("eval", "signatures", "requirements")

# How the notebook view of a trace stays bounded on large traces.
SUMMARY_CALLS_SHOWN = 10
DRAWING_DEPTHS = (4, 2)
DRAWING_MAX_NODES = 120


class AnalyzeError(Exception):
    """``hltpy-analyze`` could not do the work (exit status 2): ``message``
    is its one-line message, ``status`` its exit status, ``command`` the
    subcommand that was run."""

    def __init__(self, command: str, message: str, status: int) -> None:
        super().__init__(f"hltpy-analyze {command}: {message}")
        self.command = command
        self.message = message
        self.status = status


def analyzer_path() -> str:
    """The ``hltpy-analyze`` this module runs: ``$HLTPY_ANALYZE``, else the
    one installed with this Python (``pip install 'hltpy[analyze]'``), else
    the first on ``PATH``."""
    configured = os.environ.get("HLTPY_ANALYZE")
    if configured:
        if not os.path.isfile(configured):
            raise FileNotFoundError(
                f"HLTPY_ANALYZE={configured!r} is not a file: point it at hltpy-analyze "
                f"or unset it to use the installed one"
            )
        return configured
    name = "hltpy-analyze.exe" if os.name == "nt" else "hltpy-analyze"
    for directory in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            "hltpy-analyze is not installed: pip install 'hltpy[analyze]' "
            "(or set HLTPY_ANALYZE to its path)"
        )
    return found


def open_trace(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Trace:
    """A trace, or several, as the analyzer's commands take them: a trace
    file, a directory of segments (one run), a directory of traces or a
    glob (``'traces/*.parquet'``), or a list of those. Nothing is read
    until a method asks; a path that does not exist is refused now."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    given = [os.fspath(path) for path in paths]
    if not given:
        raise ValueError("open_trace needs at least one path (a trace file, directory or glob)")
    for path in given:
        pattern = any(mark in path for mark in "*?[")
        if not os.path.exists(path) and not (pattern and glob.glob(path)):
            raise FileNotFoundError(f"no trace at {path!r}")
    return Trace(tuple(given))


# -- running the analyzer ---------------------------------------------------


@dataclass
class _Outcome:
    # Standard output (bytes), or what ``read_stdout`` made of it.
    value: Any
    found: bool  # exit status 1: the work was done and found something


def _run(
    command: str,
    args: list[str],
    *,
    progress: bool | None = None,
    read_stdout: Callable[[IO[bytes], _Progress], Any] | None = None,
) -> _Outcome:
    """Runs ``hltpy-analyze COMMAND ARGS`` and waits for it. Threads read
    its output: standard output whole, or through ``read_stdout`` as it
    comes (a query's Arrow stream); stderr line by line, its progress lines
    feeding the display and the rest kept as the error message. The
    display is drawn from this thread only (a notebook's output belongs to
    the cell that runs it)."""
    view = _Progress(command, progress)
    process = subprocess.Popen(
        [analyzer_path(), "--progress", "never" if progress is False else "json", command, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    messages: list[str] = []
    answer: dict[str, Any] = {}

    def read() -> None:
        try:
            if read_stdout is None:
                answer["value"] = process.stdout.read()
            else:
                answer["value"] = read_stdout(process.stdout, view)
        except Exception as err:  # an error's empty stream: the status says more
            answer["error"] = err
        process.stdout.read()

    reader = threading.Thread(target=read, daemon=True)
    listener = threading.Thread(target=_listen, args=(process.stderr, view, messages), daemon=True)
    reader.start()
    listener.start()
    try:
        while reader.is_alive():
            reader.join(_Progress.INTERVAL)
            view.tick()
        status = process.wait()
        listener.join()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        process.stdout.close()
        process.stderr.close()
        view.finish()
    if status not in (0, 1):
        message = "\n".join(messages).strip() or f"ended with status {status}"
        raise AnalyzeError(command, message.removeprefix("hltpy-analyze: "), status)
    if "error" in answer:
        raise answer["error"]
    return _Outcome(answer.get("value"), status == 1)


def _listen(stream: IO[bytes], view: _Progress, messages: list[str]) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        if line.startswith("{"):
            try:
                said = json.loads(line)
            except ValueError:
                said = None
            if isinstance(said, dict) and "progress" in said:
                view.read = said
                continue
        messages.append(line)


class _Progress:
    """The progress of one analyzer call: what it has read of the traces
    (its ``--progress json`` lines) and the result rows received. Shown as
    a bar in a notebook (left showing "done"), as a line on stderr in a
    terminal (erased at the end); ``wanted`` None shows it once the call
    takes longer than half a second, False never."""

    DELAY = 0.5
    INTERVAL = 0.1

    def __init__(self, label: str, wanted: bool | None) -> None:
        self.label = label
        self.wanted = wanted
        self.start = time.monotonic()
        # Written by the reading threads, drawn by the caller's thread.
        self.read: dict[str, Any] = {}
        self.rows = 0
        self.finished = False
        self._display: Any = None
        self._terminal = False

    def received(self, rows: int) -> None:
        self.rows += rows

    def text(self) -> str:
        parts = [self.label]
        read = self.read
        if read:
            done, total = read.get("done", 0), read.get("total", 0)
            if read.get("unit") == "bytes":
                # A query reads some columns (less than the files) but
                # footers more than once (more, on small files).
                parts.append(f"read {_size(done)} from {_size(total)} of traces")
            else:
                parts.append(f"{done:,} of {total:,} nodes")
        if self.rows:
            parts.append(f"{self.rows:,} rows received")
        parts.append(f"{time.monotonic() - self.start:.1f} s")
        if self.finished:
            parts.append("done")
        return ", ".join(parts)

    def fraction(self) -> float | None:
        """How much is done, where the analyzer knows (nodes of a pass;
        a query reads only some columns, so bytes give no fraction)."""
        if self.finished:
            return 1.0
        read = self.read
        if read.get("unit") != "nodes" or not read.get("total"):
            return None
        return min(1.0, read["done"] / read["total"])

    def tick(self) -> None:
        if self.wanted is False:
            return
        if self.wanted or time.monotonic() - self.start >= self.DELAY:
            self._draw()

    def finish(self) -> None:
        self.finished = True
        if self._display is not None or (self.wanted and _in_notebook()):
            self._draw()
        if self._terminal:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def _draw(self) -> None:
        text = self.text()
        if _in_notebook():
            from IPython.display import HTML, display

            fraction = self.fraction()
            value = f' value="{fraction:.3f}" max="1"' if fraction is not None else ""
            view = HTML(
                f'<div class="hltpy-progress"><progress{value} style="width:16em"></progress> '
                f"{html.escape(text)}</div>"
            )
            if self._display is None:
                self._display = display(view, display_id=True)
            else:
                self._display.update(view)
        elif self.wanted or sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K{text}")
            sys.stderr.flush()
            self._terminal = True


def _in_notebook() -> bool:
    """Is this a Jupyter kernel (where HTML output is displayed)?"""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and getattr(ipython, "kernel", None) is not None


def _size(count: int) -> str:
    """A byte count for people, as the analyzer writes it: 1.2 GiB."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _read_arrow(stream: IO[bytes], view: _Progress) -> pyarrow.Table:
    import pyarrow.ipc

    reader = pyarrow.ipc.open_stream(stream)
    batches = []
    for batch in reader:
        batches.append(batch)
        view.received(batch.num_rows)
    return pyarrow.Table.from_batches(batches, schema=reader.schema)


def _json(outcome: _Outcome) -> Any:
    return json.loads(outcome.value.decode())


# -- results ------------------------------------------------------------------


@dataclass(frozen=True)
class TraceSummary:
    """What one trace holds (``hltpy-analyze summary``): its run, nodes
    per kind, traced calls (kind, name, count; most first), the deepest
    call nesting, the busiest nodes and anything odd."""

    trace: str
    nodes: int
    segments: int
    complete: bool
    python_version: str
    hltpy_version: str
    format_version: str
    argv: list[str]
    traced_modules: list[str]
    start_time: str
    end_time: str | None
    end_reason: str | None
    kinds: dict[str, int]
    calls: list[tuple[str, str, int]]
    deepest_nesting: int
    largest_fan_in: list[str]
    largest_fan_out: list[str]
    warnings: list[str]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TraceSummary:
        values = dict(document)
        values["kinds"] = {k["kind"]: k["count"] for k in document["kinds"]}
        values["calls"] = [(c["kind"], c["name"], c["count"]) for c in document["calls"]]
        return cls(**values)

    def _repr_html_(self) -> str:
        return _summary_html(self)


@dataclass(frozen=True)
class EvalReport:
    """One trace's re-evaluation (``hltpy-analyze eval``): counts by status
    (``matched``, ``matched_type``, ``differed``, ``opaque``, ``input``),
    the first differences, the opaque nodes by reason; for a what-if run
    the settings, the nodes they set and the results that changed."""

    trace: str
    nodes: int
    counts: dict[str, int]
    differences: list[dict[str, Any]]
    opaque_reasons: list[dict[str, Any]]
    settings: list[str] = field(default_factory=list)
    set: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    """``Trace.eval``: a report per trace; ``found`` when a value differed
    (or, with ``strict``, stayed opaque)."""

    reports: list[EvalReport]
    found: bool

    @property
    def counts(self) -> dict[str, int]:
        """Counts by status over every trace."""
        total: dict[str, int] = {}
        for report in self.reports:
            for status, count in report.counts.items():
                total[status] = total.get(status, 0) + count
        return total

    def _repr_html_(self) -> str:
        e = html.escape
        seen = {status for report in self.reports for status in report.counts}
        statuses = [s for s in _STATUSES if s in seen] + sorted(seen - set(_STATUSES))
        head = "".join(f"<th>{s}</th>" for s in statuses)
        rows = "".join(
            f"<tr><td><code>{e(r.trace)}</code></td><td>{r.nodes:,}</td>"
            + "".join(f"<td>{r.counts.get(s, 0):,}</td>" for s in statuses)
            + "</tr>"
            for r in self.reports
        )
        parts = [f"<table><tr><th>trace</th><th>nodes</th>{head}</tr>{rows}</table>"]
        for report in self.reports:
            if report.settings:
                changed = "".join(
                    f"<tr><td>#{r['id']}</td><td><code>{e(str(r['name']))}</code></td>"
                    f"<td>{e(str(r['recorded']))}</td><td>{e(str(r['recomputed']))}</td></tr>"
                    for r in report.results
                )
                parts.append(
                    f"<p>what if {e(', '.join(report.settings))}: "
                    f"{len(report.results)} results change</p>"
                    + (
                        "<table><tr><th>node</th><th>name</th><th>recorded</th>"
                        f"<th>would be</th></tr>{changed}</table>"
                        if changed
                        else ""
                    )
                )
            for d in report.differences:
                parts.append(
                    f"<p>differed: #{d['id']} {e(str(d['name']))} at {e(str(d['location']))}: "
                    f"recorded {e(str(d['recorded']))}, recomputed {e(str(d['recomputed']))}</p>"
                )
        if not any(r.settings for r in self.reports):
            parts.append(f"<p>{'a value differed' if self.found else 'no value differed'}</p>")
        return '<div class="hltpy-eval">' + "".join(parts) + "</div>"


# The order statuses are shown in (what-if runs add `set` and `changed`).
_STATUSES = ("matched", "matched_type", "differed", "opaque", "input", "set", "changed")


@dataclass(frozen=True)
class DiffResult:
    """``Trace.diff``: whether two traces compute the same, the counts of
    matched / changed / only-in-one nodes, calls per traced function before
    and after, the first divergence and the differences by traced call —
    ``hltpy-analyze diff --format json``'s document, whole in ``data``."""

    equivalent: bool
    counts: dict[str, Any]
    functions: list[dict[str, Any]]
    first_divergence: dict[str, Any] | None
    differences: list[dict[str, Any]]
    data: dict[str, Any]

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DiffResult:
        return cls(
            equivalent=document["equivalent"],
            counts=document["counts"],
            functions=document["functions"],
            first_divergence=document.get("first_divergence"),
            differences=document["differences"],
            data=document,
        )


@dataclass(frozen=True)
class Inference:
    """``Trace.infer``: the report's text, and its tables — ``signatures``
    (types per parameter and result) and ``requirements`` (what each
    body did with each parameter); ``found`` when a dimension check
    failed."""

    text: str
    signatures: pyarrow.Table
    requirements: pyarrow.Table
    found: bool

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


@dataclass(frozen=True)
class Drawing:
    """A drawing of a trace's computation (graphviz SVG)."""

    svg: str

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.svg)


@dataclass(frozen=True)
class Report:
    """A run's self-contained HTML page (``hltpy-analyze report``). In a
    notebook it is shown in a frame of its own, so its styles and script
    stay out of the notebook's."""

    html: str

    def _repr_html_(self) -> str:
        return (
            '<iframe class="hltpy-report" style="width:100%;height:40em;border:1px solid #ccc" '
            f'sandbox="allow-scripts" srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.html)


# -- the trace ----------------------------------------------------------------


class Trace:
    """One trace or several (see :func:`open_trace`), analysed by
    ``hltpy-analyze``. Methods that take ``progress`` show how far a long
    call is (None: once it takes longer than half a second)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths

    def __repr__(self) -> str:
        return f"hltpy.open_trace({list(self.paths)!r})"

    # tables

    def query(
        self, sql: str, *, allow_writes: bool = False, progress: bool | None = None
    ) -> pyarrow.Table:
        """The result of SQL over the traces' tables (``nodes``, ``edges``,
        ``calls``, ``values``, ``traces``, ``constraints``, and the passes'
        ``eval``, ``signatures``, ``requirements``) as a ``pyarrow.Table``;
        ``.to_pandas()`` or ``polars.from_arrow`` from there."""
        args = ["--format", "arrow", sql, *self.paths]
        if allow_writes:
            args.insert(0, "--allow-writes")
        return _run("query", args, progress=progress, read_stdout=_read_arrow).value

    def table(self, name: str, *, progress: bool | None = None) -> pyarrow.Table:
        """One of the tables ``query`` knows, whole."""
        if name not in TRACE_TABLES + PASS_TABLES:
            raise ValueError(
                f"no table {name!r}: the tables are {', '.join(TRACE_TABLES + PASS_TABLES)}"
            )
        return self.query(f"SELECT * FROM {name}", progress=progress)

    @property
    def nodes(self) -> pyarrow.Table:
        return self.table("nodes")

    @property
    def edges(self) -> pyarrow.Table:
        return self.table("edges")

    @property
    def calls(self) -> pyarrow.Table:
        return self.table("calls")

    @property
    def values(self) -> pyarrow.Table:
        return self.table("values")

    @property
    def traces(self) -> pyarrow.Table:
        return self.table("traces")

    # passes

    def summary(self, *, progress: bool | None = None) -> list[TraceSummary]:
        """A summary per trace."""
        outcome = _run("summary", ["--format", "json", *self.paths], progress=progress)
        return [TraceSummary.from_json(document) for document in _json(outcome)]

    def eval(
        self,
        set: Mapping[int | str, Any] | None = None,
        *,
        rel_tol: float | None = None,
        strict: bool = False,
        progress: bool | None = None,
    ) -> Evaluation:
        """Recompute every node and compare with the recording; with
        ``set`` ({node id or parameter: value}), what the results would be
        if those had other values. Values are given as Python literals
        (``repr`` is what the analyzer reads)."""
        args = ["--format", "json"]
        for target, value in (set or {}).items():
            args += ["--set", f"{target}={value!r}"]
        if rel_tol is not None:
            args += ["--rel-tol", repr(float(rel_tol))]
        if strict:
            args.append("--strict")
        outcome = _run("eval", [*args, *self.paths], progress=progress)
        return Evaluation([EvalReport(**doc) for doc in _json(outcome)], outcome.found)

    def constraints(
        self, kind: str | None = None, *, progress: bool | None = None
    ) -> pyarrow.Table:
        """The seed's upstream constraints (HasAttr, HasItem, …), one row
        each; ``kind`` keeps one kind."""
        args = ["--format", "arrow", *self.paths]
        if kind is not None:
            args[:0] = ["--kind", kind]
        return _run("constraints", args, progress=progress, read_stdout=_read_arrow).value

    def infer(
        self, *, dimension_attr: str | None = None, progress: bool | None = None
    ) -> Inference:
        """Types and uses per function and class (and, with
        ``dimension_attr``, dimension checks)."""
        args = list(self.paths)
        if dimension_attr is not None:
            args[:0] = ["--dimension-attr", dimension_attr]
        outcome = _run("infer", args, progress=progress)
        return Inference(
            text=outcome.value.decode(),
            signatures=self.table("signatures", progress=progress),
            requirements=self.table("requirements", progress=progress),
            found=outcome.found,
        )

    def expr(self, node: int | None = None, *, depth: int | None = None) -> str:
        """The Python expression that produced ``node`` (by default the
        run's final result)."""
        args = [self._one("expr")]
        if node is not None:
            args += ["--node", str(int(node))]
        if depth is not None:
            args += ["--depth", str(int(depth))]
        return _run("expr", args).value.decode()

    def compile(
        self, node: int | None = None, *, name: str | None = None, allow_constants: bool = False
    ) -> str:
        """The trace as the source of a Python function of its inputs (by
        default computing the run's final result)."""
        args = [self._one("compile")]
        if node is not None:
            args += ["--node", str(int(node))]
        if name is not None:
            args += ["--name", name]
        if allow_constants:
            args.append("--allow-constants")
        return _run("compile", args).value.decode()

    def diff(
        self,
        other: Trace | str | os.PathLike[str],
        *,
        rel_tol: float | None = None,
        ignore_values: bool = False,
        ignore_locations: bool = False,
        limit: int = 12,
        progress: bool | None = None,
    ) -> DiffResult:
        """What changed from this trace (the old version) to ``other``."""
        new = other._one("diff") if isinstance(other, Trace) else os.fspath(other)
        args = ["--format", "json", "--limit", str(int(limit)), self._one("diff"), new]
        if rel_tol is not None:
            args += ["--rel-tol", repr(float(rel_tol))]
        if ignore_values:
            args.append("--ignore-values")
        if ignore_locations:
            args.append("--ignore-locations")
        outcome = _run("diff", args, progress=progress)
        return DiffResult.from_json(_json(outcome))

    def render(
        self,
        node: int | Iterable[int] | None = None,
        *,
        depth: int | None = None,
        max_nodes: int | None = None,
        frame: int | None = None,
        cluster_calls: bool = False,
        hide: Iterable[str] = (),
        color_by: str | None = None,
    ) -> Drawing:
        """The computation of ``node`` (by default the run's final result)
        drawn by graphviz, as SVG."""
        with tempfile.TemporaryDirectory(prefix="hltpy-") as scratch:
            out = os.path.join(scratch, "drawing.svg")
            args = [self._one("render"), "-o", out]
            nodes = [node] if isinstance(node, int) else list(node or [])
            for one in nodes:
                args += ["--node", str(int(one))]
            for flag, value in (("--depth", depth), ("--max-nodes", max_nodes), ("--frame", frame)):
                if value is not None:
                    args += [flag, str(int(value))]
            if cluster_calls:
                args.append("--cluster-calls")
            hidden = list(hide)
            if hidden:
                args += ["--hide", ",".join(hidden)]
            if color_by is not None:
                args += ["--color-by", color_by]
            _run("render", args)
            with open(out, encoding="utf-8") as drawn:
                return Drawing(drawn.read())

    def report(self, *, progress: bool | None = None) -> Report:
        """The run's self-contained HTML page."""
        with tempfile.TemporaryDirectory(prefix="hltpy-") as scratch:
            out = os.path.join(scratch, "report.html")
            _run("report", [self._one("report"), "-o", out], progress=progress)
            with open(out, encoding="utf-8") as page:
                return Report(page.read())

    def _one(self, command: str) -> str:
        if len(self.paths) != 1:
            raise ValueError(
                f"{command} takes one trace; this Trace holds {len(self.paths)}: "
                f"open_trace(path) for one of them"
            )
        return self.paths[0]

    # notebooks

    def _repr_html_(self) -> str:
        """The summary of each trace, and a bounded drawing of the first
        one's final result (shallower when the full depth is too large)."""
        try:
            summaries = self.summary()
        except (AnalyzeError, FileNotFoundError) as err:
            return f"<p><b>hltpy trace</b> {html.escape(str(err))}</p>"
        parts = [_summary_html(summary) for summary in summaries[:5]]
        if len(summaries) > 5:
            parts.append(f"<p>… and {len(summaries) - 5} more traces</p>")
        if len(self.paths) == 1 and len(summaries) == 1 and summaries[0].nodes:
            parts.append(self._drawing_html())
        return '<div class="hltpy-trace">' + "".join(parts) + "</div>"

    def _drawing_html(self) -> str:
        refusal = ""
        for depth in DRAWING_DEPTHS:
            try:
                drawing = self.render(depth=depth, max_nodes=DRAWING_MAX_NODES)
            except AnalyzeError as err:
                refusal = err.message
                continue
            return (
                f"<p>the final result's computation, {depth} levels deep "
                f"(<code>.render(depth=…)</code> for more):</p>"
                f'<div class="hltpy-drawing">{_svg_body(drawing.svg)}</div>'
            )
        return f"<p>no drawing: {html.escape(refusal)}</p>"


def _svg_body(svg: str) -> str:
    """The ``<svg>`` element of graphviz's output (without the XML prolog
    and doctype, which HTML does not take)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _summary_html(summary: TraceSummary) -> str:
    e = html.escape
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in summary.kinds.items())
    calls = "".join(
        f"<tr><td>{e(kind)}</td><td><code>{e(name)}</code></td><td>{count:,}</td></tr>"
        for kind, name, count in summary.calls[:SUMMARY_CALLS_SHOWN]
    )
    more = len(summary.calls) - SUMMARY_CALLS_SHOWN
    if more > 0:
        calls += f'<tr><td colspan="3">… {more} more (<code>.calls</code>)</td></tr>'
    state = "complete" if summary.complete else f"not closed cleanly: {summary.end_reason}"
    rows = [
        ("nodes", f"{summary.nodes:,} ({state})"),
        ("run", " ".join(summary.argv)),
        ("Python", f"{summary.python_version}, hltpy {summary.hltpy_version}"),
        ("traced modules", ", ".join(summary.traced_modules) or "none"),
        ("kinds", kinds or "none"),
        ("deepest call nesting", str(summary.deepest_nesting)),
        ("largest fan-in", ", ".join(summary.largest_fan_in) or "none"),
    ]
    rows += [("warning", warning) for warning in summary.warnings]
    facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    table = (
        f"<table><tr><th>kind</th><th>traced call</th><th>calls</th></tr>{calls}</table>"
        if calls
        else ""
    )
    return (
        f'<div class="hltpy-summary"><p><b>hltpy trace</b> <code>{e(summary.trace)}</code></p>'
        f"<table>{facts}</table>{table}</div>"
    )
