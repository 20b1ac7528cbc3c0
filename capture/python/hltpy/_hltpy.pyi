"""Type stubs for hltpy's native module (checked by `make lint` with
mypy's stubtest against the built module)."""

from typing import Any, Callable, final

__version__: str
__all__ = [
    "__version__",
    "Traced",
    "Node",
    "TracedFunction",
    "TracedClass",
    "TracedCallable",
    "super_",
    "trace",
    "from_traced",
    "is_traced",
    "_raw",
    "node_id",
    "start",
    "stop",
    "capturing",
    "_fast_locations",
    "_fast_proxies",
    "abandon_after_fork",
    "die_of_signal",
    "add_traced_modules",
]

@final
class Traced:
    """A traced value: every operation on it is recorded, then forwarded."""
    def __getattribute__(self, name: str, /) -> Any: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __round__(self, ndigits: Any = None) -> Any: ...
    def __trunc__(self) -> Any: ...
    def __floor__(self) -> Any: ...
    def __ceil__(self) -> Any: ...
    def __complex__(self) -> complex: ...

@final
class TracedFunction:
    """A traced module's function; calling it traces arguments and body."""
    __name__: str
    __qualname__: str
    __wrapped__: Callable[..., Any]
    def __new__(cls, function: Callable[..., Any], receiver: Any = None) -> TracedFunction: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

@final
class TracedClass:
    """A traced module's class; calling it makes a traced object."""
    __wrapped__: type
    def __new__(cls, class_: type) -> TracedClass: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type]: ...

@final
class TracedCallable:
    """An untraced callable whose calls with traced arguments are recorded."""
    __name__: str
    __qualname__: str
    __wrapped__: Callable[..., Any]
    def __new__(cls, callable: Callable[..., Any]) -> TracedCallable: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

@final
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
def _raw(value: Any) -> Any: ...
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
    byte_stream_split: bool,
) -> None: ...
def stop(
    argv: list[str], closed_cleanly: bool = True, end_reason: str = "stopped", keep_empty: bool = True
) -> tuple[str, int]: ...
def abandon_after_fork() -> None: ...
def die_of_signal(signum: int) -> None: ...
def capturing() -> bool: ...
def _fast_proxies() -> bool: ...
def _fast_locations() -> bool: ...
def add_traced_modules(names: list[str]) -> None: ...
