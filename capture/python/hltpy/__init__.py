"""hltpy: high-level tracing for Python.

Mark values (``trace``) or whole modules (``trace_modules``) as traced, run
the program inside ``with capture("trace.parquet"):``, and every operation on
traced data is really executed and recorded as a node of a trace DAG in a
Parquet file (format: ``schema/FORMAT.md``). The work is done by the native
module ``hltpy._hltpy``; this file is the thin glue around it.
"""

from __future__ import annotations

import atexit
import importlib
import inspect
import math
import os
import platform
import sys
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from . import _hltpy
from ._hltpy import (
    Node,
    Traced,
    TracedCallable,
    TracedClass,
    TracedFunction,
    from_traced,
    is_traced,
    node_id,
    trace,
)

__version__: str = _hltpy.__version__

__all__ = [
    "BOUNDARIES",
    "GuardFailed",
    "Node",
    "Processor",
    "Traced",
    "TracedCallable",
    "TracedClass",
    "TracedFunction",
    "capture",
    "from_traced",
    "is_traced",
    "node_id",
    "open_trace",
    "running_capture",
    "trace",
    "trace_modules",
    "traced_modules",
]

_traced_module_names: list[str] = []


class GuardFailed(Exception):
    """Raised by a function ``hltpy-analyze compile`` made from a trace when
    its input takes another path than the recorded run: a comparison (or
    conversion) the run's path depended on answers differently. The message
    names the source line of that comparison."""


def traced_modules() -> list[str]:
    """Names of the modules traced so far, in the order they were traced."""
    return list(_traced_module_names)


def trace_modules(names: Iterable[str] | str) -> None:
    """Trace the top-level functions and classes of the named modules.

    Each function is replaced in its module by a ``TracedFunction`` and each
    class by a ``TracedClass`` (nested classes too), so calls made through
    the module trace their arguments and bodies. Code that imported a name
    from the module *before* this call keeps the untraced original, so call
    ``trace_modules`` before ``from mydsl import ...``.
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    for name in names:
        module = importlib.import_module(name)
        _trace_module(module)
        if name not in _traced_module_names:
            _traced_module_names.append(name)
    _hltpy.add_traced_modules(names)


def _untraceable_reason(cls: type) -> str | None:
    # A metaclass that only adds checks (ABCMeta) makes objects as `type`
    # does; one with its own __call__ (EnumMeta) decides what calling the
    # class gives, which hltpy would bypass.
    if type(cls).__call__ is not type.__call__:
        return f"its metaclass {type(cls).__qualname__} decides what calling the class gives"
    # An event loop steps these objects through their type's slots, which
    # a proxy cannot lend it: their objects stay untraced (asynchronous
    # values are handed to programs raw).
    for special in ("__await__", "__aiter__", "__anext__"):
        if callable(getattr(cls, special, None)):
            return f"it defines {special}: objects an event loop steps cannot be traced"
    return None


# Each traced class → the wrapper its module holds, so that type(obj) is
# the name the program knows the class by.
_wrappers: dict[type, TracedClass] = {}


class _TypeMeta(type):
    """Metaclass of the ``type`` that traced modules see: calling it with one
    value gives the value's type (a traced class's wrapper for its objects),
    and ``isinstance(x, type)``/``issubclass`` answer as for the builtin."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is not _TracedType:
            return super().__call__(*args, **kwargs)
        if len(args) == 1 and not kwargs:
            value = args[0]
            if isinstance(value, TracedClass):
                return type(value.__wrapped__)
            kind = type(from_traced(value))
            return _wrappers.get(kind, kind)
        return type(*args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        if cls is _TracedType:
            return isinstance(instance, type)
        return super().__instancecheck__(instance)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        if cls is _TracedType:
            return issubclass(subclass, type)
        return super().__subclasscheck__(subclass)


class _TracedType(type, metaclass=_TypeMeta):
    pass


_TracedType.__name__ = _TracedType.__qualname__ = "type"


def _trace_class(cls: type, module_name: str) -> TracedClass | None:
    if issubclass(cls, BaseException):
        # Exceptions are raised and caught, not computed with: leave them be.
        return None
    reason = _untraceable_reason(cls)
    if reason is not None:
        warnings.warn(
            f"hltpy: class {module_name}.{cls.__qualname__} is left untraced: {reason}",
            stacklevel=3,
        )
        return None
    for attr, member in list(vars(cls).items()):
        if (
            inspect.isclass(member)
            and member.__qualname__ == f"{cls.__qualname__}.{member.__name__}"
        ):
            nested = _trace_class(member, module_name)
            if nested is not None:
                setattr(cls, attr, nested)
    traced = TracedClass(cls)
    _wrappers[cls] = traced
    return traced


def _trace_module(module: ModuleType) -> None:
    if getattr(module, "__hltpy_traced__", False):
        return
    # The module's classes become TracedClass wrappers, which the builtin
    # super() refuses as its first argument, and its objects proxies, whose
    # builtin type() is Traced: the module's code gets a super that accepts
    # the wrappers and a type() that sees through proxies (both are the
    # builtins otherwise).
    if "super" not in vars(module):
        module.super = _hltpy.super_
    if "type" not in vars(module):
        module.type = _TracedType
    for attr, member in list(vars(module).items()):
        if getattr(member, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(member):
            setattr(module, attr, TracedFunction(member))
        elif inspect.isclass(member):
            traced = _trace_class(member, module.__name__)
            if traced is not None:
                setattr(module, attr, traced)
    module.__hltpy_traced__ = True


# Library functions that C code (or code that insists on exact builtin
# types) behind them would refuse a traced value for: while a capture runs
# they receive raw values, and a call with traced arguments is one UCall
# node. Replaced where the name says (and in traced modules that bound the
# same object), put back when the capture ends. `capture(boundaries=...)`
# changes the set: ``hltpy.BOUNDARIES | {"mylib.parse"}``.
BOUNDARIES: frozenset[str] = frozenset(
    [
        "builtins.open",
        "io.open",
        "builtins.ord",
        # From 3.12, sum() adds exact floats with a compensation and sumprod()
        # in extended precision: proxies would take their plain paths.
        "builtins.sum",
        *(["math.sumprod"] if hasattr(math, "sumprod") else []),
        *(
            f"os.{name}"
            for name in (
                "fspath",
                "stat",
                "lstat",
                "listdir",
                "scandir",
                "remove",
                "unlink",
                "rename",
                "replace",
                "mkdir",
                "makedirs",
                "rmdir",
                "chdir",
            )
        ),
        *(
            f"os.path.{name}"
            for name in (
                "exists",
                "isfile",
                "isdir",
                "getsize",
                "getmtime",
                "join",
                "basename",
                "dirname",
                "split",
                "splitext",
                "abspath",
                "realpath",
                "normpath",
                "expanduser",
            )
        ),
        *(f"json.{name}" for name in ("dumps", "dump", "loads", "load")),
        *(
            f"re.{name}"
            for name in (
                "match",
                "search",
                "fullmatch",
                "sub",
                "subn",
                "split",
                "findall",
                "finditer",
                "compile",
                "escape",
            )
        ),
        *(
            f"statistics.{name}"
            for name in (
                "mean",
                "fmean",
                "median",
                "mode",
                "stdev",
                "pstdev",
                "variance",
                "pvariance",
                "geometric_mean",
                "harmonic_mean",
                "quantiles",
            )
        ),
        "decimal.Decimal",
        *(f"hashlib.{name}" for name in ("md5", "sha1", "sha256", "sha512")),
    ]
)


def _named(dotted: str) -> tuple[Any, str, Any]:
    """``os.path.join`` -> (the module ``os.path``, ``"join"``, the function)."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        owner = importlib.import_module(module_name or "builtins")
        return owner, attr, getattr(owner, attr)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(
            f"hltpy: cannot find {dotted!r}: give a module's callable as module.name (math.sqrt, "
            f"os.path.join) or a whole module (math)"
        ) from None


def _callables_of(entries: Iterable[Any]) -> list[Callable[..., Any]]:
    """``trace_callables`` entries as callables: a callable; a dotted name
    of one; a module, or a module's name: every public function of it."""
    found: list[Callable[..., Any]] = []
    for entry in entries:
        if isinstance(entry, str):
            module = sys.modules.get(entry)
            if module is None and "." not in entry:
                try:
                    module = importlib.import_module(entry)
                except ImportError:
                    module = None
            entry = module if module is not None else _named(entry)[2]
        if isinstance(entry, ModuleType):
            found.extend(
                member
                for name, member in sorted(vars(entry).items())
                if not name.startswith("_") and callable(member) and not isinstance(member, type)
            )
        elif isinstance(entry, type) and issubclass(entry, BaseException):
            raise ValueError(
                f"hltpy: cannot trace calls of the exception class {entry.__qualname__}: "
                f"it must stay a class for `except` to catch it"
            )
        else:
            found.append(entry)
    return found


class capture:
    """Record a trace into ``path`` for the duration of a ``with`` block.

    The options are the keywords below, each described once in
    ``hltpy._options.OPTIONS`` (``python -m hltpy._options`` prints them).

    The file is complete and valid when the block ends normally and when it
    raises; an unwritable ``path`` raises ``OSError`` before tracing starts.
    After the block, ``path`` and ``nodes`` tell what was written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_every: int = 16384,
        allow_mutation: bool = False,
        max_repr: int = 200,
        values: str = "full",
        locations: bool = True,
        conversions: bool = False,
        on_node: Callable[[Node], object] | None = None,
        trace_callables: Iterable[Callable[..., Any] | str | ModuleType] = (),
        boundaries: Iterable[str] = BOUNDARIES,
        segment_nodes: int | None = None,
        byte_stream_split: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.flush_every = flush_every
        self.allow_mutation = allow_mutation
        self.max_repr = max_repr
        self.values = values
        self.locations = locations
        self.conversions = conversions
        self.on_node = on_node
        self.trace_callables = list(trace_callables)
        self.boundaries = frozenset(boundaries)
        self.segment_nodes = segment_nodes
        self.byte_stream_split = byte_stream_split
        self.nodes: int | None = None
        self._patched: list[tuple[Any, str, Any]] = []

    def _argv(self) -> list[str]:
        argv = [str(a) for a in getattr(sys, "argv", [])]
        return argv[:1] if self.values == "types" else argv

    def start(self) -> capture:
        _hltpy.start(
            self.path,
            argv=self._argv(),
            python_version=platform.python_version(),
            hltpy_version=__version__,
            traced_modules=traced_modules(),
            flush_every=self.flush_every,
            allow_mutation=self.allow_mutation,
            max_repr=self.max_repr,
            values=self.values,
            locations=self.locations,
            conversions=self.conversions,
            on_node=self.on_node,
            segment_nodes=self.segment_nodes,
            byte_stream_split=self.byte_stream_split,
        )
        global _running
        _running = self
        try:
            self._patched = _install_callables(_callables_of(self.trace_callables))
            self._patched += _install_boundaries(self.boundaries)
        except BaseException:
            self.stop("could not install trace_callables")
            raise
        return self

    def stop(self, end_reason: str = "stopped", keep_empty: bool = True) -> int:
        """End the capture; returns the number of nodes written. With
        ``keep_empty=False`` a capture that recorded nothing leaves no file."""
        return self._finish(True, end_reason, keep_empty)

    def _finish(self, closed_cleanly: bool, end_reason: str, keep_empty: bool = True) -> int:
        global _running
        _restore_callables(self._patched)
        self._patched = []
        if _running is self:
            _running = None
        self.path, self.nodes = _hltpy.stop(self._argv(), closed_cleanly, end_reason, keep_empty)
        return self.nodes

    def trace(self) -> Any:
        """The trace this capture wrote, to analyse from Python
        (``hltpy.analysis.Trace``; needs ``hltpy-analyze``)."""
        if self.nodes is None:
            raise RuntimeError(
                "the capture is still running: open its trace after the `with` block (or stop())"
            )
        return open_trace(self.path)

    def __enter__(self) -> capture:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.stop()
        else:
            self.stop(end_reason=f"raised {exc_type.__qualname__}: {str(exc)[:200]}")
        return False


def _install_callables(callables: list[Callable[..., Any]]) -> list[tuple[Any, str, Any]]:
    """Replaces each callable where it is bound: its own module, modules
    that re-export it under its name, and the traced modules (and
    ``__main__``). Returns what to put back."""
    patched: list[tuple[Any, str, Any]] = []
    for original in callables:
        wrapper = TracedCallable(original)
        places: list[tuple[Any, str]] = []
        name = getattr(original, "__name__", None)
        home = sys.modules.get(getattr(original, "__module__", None) or "builtins")
        if name and home is not None and getattr(home, name, None) is original:
            places.append((home, name))
        # Modules that re-export it under its name (heapq.heappush is
        # _heapq.heappush), which is how programs usually reach it. Their
        # dicts are read directly: a module's __getattr__ may import things.
        for module in list(sys.modules.values()):
            if name and module is not home and isinstance(module, ModuleType):
                if vars(module).get(name) is original and (module, name) not in places:
                    places.append((module, name))
        _add_traced_module_places(original, places)
        if not places:
            _restore_callables(patched)
            raise ValueError(
                f"hltpy: cannot trace {original!r}: it is not bound in its module "
                f"or in a traced module; pass the object as its module exports it (e.g. math.sqrt)"
            )
        for owner, attr in places:
            setattr(owner, attr, wrapper)
            patched.append((owner, attr, original))
    return patched


def _add_traced_module_places(original: Any, places: list[tuple[Any, str]]) -> None:
    """Adds to ``places`` the names that the traced modules (and
    ``__main__``) bound to ``original``."""
    for module_name in [*_traced_module_names, "__main__"]:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is original and (module, attr) not in places:
                places.append((module, attr))


def _install_boundaries(names: frozenset[str]) -> list[tuple[Any, str, Any]]:
    """Replaces each named callable in the module the name gives (only
    there: ``os.stat`` is not ``posix.stat``, which the import system
    calls) and in the traced modules that bound it. Returns what to put
    back."""
    patched: list[tuple[Any, str, Any]] = []
    for dotted in sorted(names):
        owner, attr, original = _named(dotted)
        if isinstance(original, TracedCallable):
            continue  # also given to trace_callables
        wrapper = TracedCallable(original)
        places = [(owner, attr)]
        _add_traced_module_places(original, places)
        for place, name in places:
            setattr(place, name, wrapper)
            patched.append((place, name, original))
    return patched


def _restore_callables(patched: list[tuple[Any, str, Any]]) -> None:
    for owner, attr, original in reversed(patched):
        setattr(owner, attr, original)


def open_trace(paths: Any) -> Any:
    """A trace (a file, a directory of segments or of traces, a glob, or a
    list of those) to query and analyse from Python:
    ``hltpy.open_trace("trace.parquet").query("SELECT ...")`` gives a
    ``pyarrow.Table``. See ``hltpy.analysis``."""
    from .analysis import open_trace as open_

    return open_(paths)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hltpy``: the ``%%hltpy`` cell magic (``hltpy._notebook``)."""
    from ._notebook import load_ipython_extension as load

    load(ipython)


class Processor:
    """Processing nodes during tracing, one method per node kind.

    Subclass it, define ``on_Call(node)``, ``on_UDispatch(node)``, … (any
    kind in ``schema/FORMAT.md``), and pass an instance as
    ``capture(on_node=...)``. Kinds without a method are skipped. Raising
    from a method stops the program at the operation that made the node.
    """

    def __call__(self, node: Node) -> None:
        method = getattr(self, "on_" + node.kind, None)
        if method is not None:
            method(node)


# The capture started by this process and not yet stopped, if any.
_running: capture | None = None


def running_capture() -> capture | None:
    """The capture currently running in this process, if any."""
    return _running


def _forget_running_capture() -> None:
    # After fork(): the parent's capture is not the child's to stop.
    global _running
    _running = None


@atexit.register
def _close_forgotten_capture() -> None:
    # A capture still running at exit (started, never stopped) is still
    # written as a valid file, marked as not closed cleanly.
    if _running is not None:
        _running._finish(False, "the interpreter exited while the capture was running")
