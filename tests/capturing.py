"""Captures a small program written by a test: its module traced whole."""

import subprocess
import sys
import textwrap


def capture_module(directory, module, source, expression, options=""):
    """Writes `source` as `module`.py in `directory`, traces the module, and
    captures `expression` (Python over `module` and `hltpy`, e.g.
    "m.main(hltpy.trace('v'))", with the module as `m`) into
    `module`.parquet there, with `hltpy.capture`'s keyword `options`
    ("max_repr=10000"); gives the trace's path and the repr of the
    expression's value."""
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    trace = directory / f"{module}.parquet"
    program = (
        f"import sys, hltpy\nsys.path.insert(0, {str(directory)!r})\nhltpy.trace_modules([{module!r}])\n"
        f"import {module} as m\nwith hltpy.capture({str(trace)!r}, {options}):\n"
        f"    result = hltpy.from_traced({expression})\nprint(repr(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return trace, done.stdout.strip()
