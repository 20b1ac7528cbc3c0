"""Capture in batch runs: the machinery behind ``python -m hltpy run`` and
the ``HLTPY_TRACE`` environment form.

A batch session owns one capture for a whole process: it traces the named
modules when they are imported, names its output from a template, finishes
the file however the process ends (return, exception, ``sys.exit``, SIGINT,
SIGTERM), follows ``multiprocessing`` children (fork and spawn) into files
of their own, and says clearly when nothing was traced.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import pathlib
import signal
import sys
import threading
import time
from typing import Any

import hltpy
from hltpy import _options

# Environment variables of the environment form; children inherit them.
ENV_TRACE = "HLTPY_TRACE"
ENV_MODULES = "HLTPY_MODULES"
# Set for children of a traced run: they write quietly (a pool worker that
# got no work has nothing to say).
ENV_PARENT = "HLTPY_PARENT"
# The capture options' variables (HLTPY_VALUES, …) are _options'.


def expand_output(template: str, script: str) -> str:
    """Fills ``{pid}``, ``{time}`` and ``{script}`` in an output template."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.6f}"[1:].replace(
        ".", "_"
    )
    try:
        return template.format(pid=os.getpid(), time=stamp, script=script)
    except (KeyError, IndexError, ValueError) as err:
        raise SystemExit(
            f"hltpy: bad output template {template!r}: {err!r}; use {{pid}}, {{time}} and {{script}}"
        ) from None


def child_template(template: str) -> str:
    """The template children use: the parent's, made unique with ``{pid}``."""
    if "{pid}" in template:
        return template
    path = pathlib.PurePath(template)
    if path.suffix:
        return str(path.with_name(f"{path.stem}.{{pid}}{path.suffix}"))
    return f"{template}.{{pid}}"


def check_names(option: str, names: Any) -> None:
    """Stops with the capture's own message when a name of ``option``
    (``trace_callables``, ``boundaries``) cannot be found."""
    try:
        if option == "boundaries":
            for name in names:
                hltpy._named(name)
        else:
            hltpy._callables_of(names)
    except ValueError as err:
        raise SystemExit(str(err)) from None


class TraceOnImport(importlib.abc.MetaPathFinder):
    """Traces the named modules (and their submodules) as they are imported."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.seen: set[str] = set()

    def wanted(self, fullname: str) -> bool:
        return any(fullname == n or fullname.startswith(n + ".") for n in self.names)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not self.wanted(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        finder_self = self

        class TracingLoader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                finder_self.trace(module)

        spec.loader = TracingLoader()
        return spec

    def trace(self, module: Any) -> None:
        self.seen.add(module.__name__)
        hltpy.trace_modules([module.__name__])

    def install(self) -> None:
        sys.meta_path.insert(0, self)
        for name in list(sys.modules):
            if self.wanted(name) and sys.modules[name] is not None:
                self.trace(sys.modules[name])


class SigtermWatcher:
    """Acts on SIGTERM even while the main thread sleeps in C code.

    CPython runs a Python signal handler only when the main thread next
    runs bytecode. A SIGTERM that lands just before the main thread blocks
    in C (a pool worker waiting on its task queue's semaphore, as
    ``Pool.terminate()`` finds it) is never handled there, and the process
    lives on where it would have died. CPython's C-level handler also
    writes the signal's number to the wakeup fd: a thread reading that fd
    learns of the signal at once and runs ``on_sigterm`` itself.

    The program can see it: a daemon thread named ``hltpy-sigterm``, and
    the wakeup fd, which is the process's one; a program that sets its own
    (an asyncio loop with signal handlers) keeps it, and SIGTERM is then
    handled by the Python-level handler alone. Around ``fork()`` the fd is
    unset, so a signal to the new child cannot wake the parent's watcher.
    """

    def __init__(self, on_sigterm: Any) -> None:
        self.on_sigterm = on_sigterm
        self.fds: tuple[int, int] | None = None
        self.paused = False

    def start(self) -> None:
        """Starts watching (from the main thread only: elsewhere Python
        refuses to set the wakeup fd)."""
        if threading.current_thread() is not threading.main_thread():
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
            return
        self.fds = (read_fd, write_fd)
        threading.Thread(
            target=self.watch, args=(read_fd,), name="hltpy-sigterm", daemon=True
        ).start()

    def watch(self, read_fd: int) -> None:
        while True:
            try:
                numbers = os.read(read_fd, 64)
            except OSError:
                return
            if not numbers:
                return
            if signal.SIGTERM in numbers:
                self.on_sigterm(signal.SIGTERM, None)
                return

    def before_fork(self) -> None:
        self.paused = False
        if self.fds is None or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.set_wakeup_fd(-1)
        if previous == self.fds[1]:
            self.paused = True
        else:
            signal.set_wakeup_fd(previous)

    def after_fork_in_parent(self) -> None:
        if self.paused and self.fds is not None:
            signal.set_wakeup_fd(self.fds[1], warn_on_full_buffer=False)
        self.paused = False

    def after_fork_in_child(self) -> None:
        """The parent's watcher thread did not survive the fork: close its
        pipe here and watch anew."""
        if self.fds is not None:
            # Forked from another thread, the child got the parent's fd.
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, self.fds[1]):
                signal.set_wakeup_fd(previous)
            for fd in self.fds:
                os.close(fd)
            self.fds = None
        self.paused = False
        self.start()


class BatchSession:
    """One capture for the whole process, with batch-run habits."""

    def __init__(
        self, template: str, modules: list[str], script: str, options: dict[str, Any]
    ) -> None:
        self.template = template
        self.modules = modules
        self.script = script
        self.options = dict(options)
        for option in ("trace_callables", "boundaries"):
            check_names(option, self.options.get(option, ()))
        self.finder = TraceOnImport(modules)
        self.capture: hltpy.capture | None = None
        self.finished = False
        self.finishing = False
        self.terminate_when_finished = False
        self.quiet = ENV_PARENT in os.environ
        self.watcher = SigtermWatcher(self.on_sigterm)

    def start(self) -> None:
        path = expand_output(self.template, self.script)
        if os.path.isdir(path) and not self.options.get("segment_nodes"):
            path = os.path.join(path, expand_output("hltpy-{script}-{pid}.parquet", self.script))
        # A batch writes into a directory of traces: make it if needed.
        parent = os.path.dirname(path)
        if parent:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError:
                pass  # the capture below names the path and the reason
        self.capture = hltpy.capture(path, **self.options)
        self.capture.start()
        self.finder.install()
        self.export_to_children()
        os.register_at_fork(
            before=self.watcher.before_fork,
            after_in_parent=self.watcher.after_fork_in_parent,
            after_in_child=self.after_fork_in_child,
        )
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self.on_sigterm)
            self.watcher.start()
        _register_exit(self)

    def export_to_children(self) -> None:
        """Spawned children (multiprocessing 'spawn', subprocesses running
        Python) start their own capture from the environment."""
        os.environ[ENV_TRACE] = child_template(self.template)
        os.environ[ENV_PARENT] = str(os.getpid())
        os.environ[ENV_MODULES] = ",".join(self.modules)
        _options.to_environment(self.options, os.environ.__setitem__)

    def after_fork_in_child(self) -> None:
        # A SIGTERM while the child sets up (`Pool.terminate()` on a worker
        # still starting) waits for the child's own capture, then ends it.
        self.finishing = True
        self.terminate_when_finished = False
        try:
            # The parent's file and writer thread are not ours: start afresh.
            hltpy._hltpy.abandon_after_fork()
            hltpy._forget_running_capture()
            self.finished = False
            self.quiet = True
            self.template = child_template(self.template)
            self.capture = hltpy.capture(expand_output(self.template, self.script), **self.options)
            self.capture.start()
            if signal.getsignal(signal.SIGTERM) == self.on_sigterm:
                self.watcher.after_fork_in_child()
            _register_exit(self)
        finally:
            self.finishing = False
        if self.terminate_when_finished:
            self.on_sigterm(signal.SIGTERM, None)

    def on_sigterm(self, signum: int, frame: Any) -> None:
        """Finish the trace, then die of SIGTERM as the process would have.
        Arriving while the trace is being finished, it waits for that. Runs
        on the main thread (the Python handler) or the watcher's, whichever
        comes first; the other finds the trace finished or finishing."""
        if self.finishing:
            self.terminate_when_finished = True
            return
        try:
            self.finish("terminated by SIGTERM")
        finally:
            self.die_of_sigterm()

    @staticmethod
    def die_of_sigterm() -> None:
        hltpy._hltpy.die_of_signal(signal.SIGTERM)

    def finish(self, end_reason: str) -> None:
        if self.finished or self.capture is None:
            return
        self.finished = True
        if hltpy.running_capture() is not self.capture:
            return
        self.finishing = True
        try:
            nodes = self.capture.stop(end_reason, keep_empty=False)
            self.report(nodes)
        finally:
            self.finishing = False
        if self.terminate_when_finished:
            self.die_of_sigterm()

    def report(self, nodes: int) -> None:
        never_imported = [
            n
            for n in self.modules
            if not any(s == n or s.startswith(n + ".") for s in self.finder.seen)
        ]
        if nodes == 0:
            if self.quiet:
                return
            why = (
                f"module(s) {', '.join(never_imported)} were never imported"
                if never_imported
                else "no operation touched a traced value"
                if self.modules
                else "no module was named to trace (use -t MODULE)"
            )
            sys.stderr.write(f"hltpy: nothing was traced, so no trace was written ({why}).\n")
        elif never_imported and not self.quiet:
            sys.stderr.write(
                f"hltpy: note: module(s) {', '.join(never_imported)} were never imported, so not traced; "
                f"{nodes} nodes written to {self.capture.path}.\n"
            )


def _register_exit(session: BatchSession) -> None:
    """Finish at interpreter exit, and in multiprocessing children, which
    leave through os._exit() after running multiprocessing's finalizers.
    A forked child clears the finalizers it inherits and then runs its
    "after fork" hooks: the finalizer is registered from one of those."""
    import atexit
    from multiprocessing import util

    atexit.register(session.finish, "the interpreter exited")
    util.Finalize(None, session.finish, args=("the process finished",), exitpriority=100)
    util.register_after_fork(session, _finalize_in_forked_child)


def _finalize_in_forked_child(session: BatchSession) -> None:
    from multiprocessing import util

    util.Finalize(None, session.finish, args=("the process finished",), exitpriority=100)


def options_from_environment() -> dict[str, Any]:
    return _options.from_environment(os.environ)


def start_from_environment() -> BatchSession | None:
    """The environment form: ``HLTPY_TRACE=out.parquet HLTPY_MODULES=a,b``
    starts a session in a process nobody changed the command line of."""
    template = os.environ.get(ENV_TRACE)
    if not template or hltpy.running_capture() is not None:
        return None
    modules = [m for m in os.environ.get(ENV_MODULES, "").split(",") if m]
    script = (
        pathlib.Path(sys.argv[0]).stem if getattr(sys, "argv", None) and sys.argv[0] else "python"
    )
    session = BatchSession(template, modules, script, options_from_environment())
    session.start()
    return session
