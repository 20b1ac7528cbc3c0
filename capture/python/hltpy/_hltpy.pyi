"""Type stubs for hltpy's native module."""

from typing import Any, Callable

class Traced:
    """A traced value: every operation on it is recorded, then forwarded."""
    def __getattr__(self, name: str) -> Any: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class TracedFunction:
    """A traced module's function; calling it traces arguments and body."""
    __wrapped__: Callable[..., Any]
    def __init__(self, function: Callable[..., Any], receiver: Any = None) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class TracedClass:
    """A traced module's class; calling it makes a traced object."""
    __wrapped__: type
    def __init__(self, cls: type, *, raw_init: bool = False) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class TracedCallable:
    """An untraced callable whose calls with traced arguments are recorded."""
    __wrapped__: Callable[..., Any]
    def __init__(self, callable: Callable[..., Any]) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class Node:
    """A node as an ``on_node`` callback sees it."""
    id: int
    kind: str
    name: str | None
    inputs: list[tuple[str, str | None, int]]
    value: Any
    file: str | None
    line: int | None
    frame: int | None
    thread: int

def super_(*args: Any) -> super: ...
def trace(value: Any) -> Any: ...
def from_traced(value: Any) -> Any: ...
def is_traced(value: Any) -> bool: ...
def node_id(value: Any) -> int | None: ...
def start(
    path: str,
    *,
    argv: list[str],
    python_version: str,
    hltpy_version: str,
    traced_modules: list[str],
    flush_every: int,
    allow_mutation: bool,
    max_repr: int,
    values: str,
    locations: bool,
    conversions: bool,
    on_node: Callable[[Node], object] | None,
    segment_nodes: int | None,
) -> None: ...
def stop(
    argv: list[str], closed_cleanly: bool = True, end_reason: str = "stopped", keep_empty: bool = True
) -> tuple[str, int]: ...
def abandon_after_fork() -> None: ...
def capturing() -> bool: ...
def add_traced_modules(names: list[str]) -> None: ...
