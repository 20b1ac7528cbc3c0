"""Library boundaries: traced strings, bytes and numbers handed to the
library functions whose C code refuses a proxy (open, os, os.path, json,
re, statistics, decimal, hashlib) work as untraced and give UCall nodes;
the set is an option; trace_callables takes modules and dotted names."""

import builtins
import ctypes
import decimal
import hashlib
import io
import json
import math
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import warnings

import hltpy
import pytest


def use_the_libraries(name, number, data):
    """What a program does with a file name, a number and bytes."""
    with open(name, "w") as f:
        f.write("hello")
    return [
        os.path.exists(name),
        os.path.getsize(name),
        os.path.basename(name),
        os.path.join(name, "x"),
        os.fspath(name),
        os.stat(name).st_size,
        json.dumps({"n": number, "l": [number, 1]}),
        re.match(r".*/(\w+)\.txt", name).group(1),
        statistics.mean([number, 3.5]),
        str(decimal.Decimal(number)),
        isinstance(decimal.Decimal(1), decimal.Decimal),
        hashlib.sha256(data).hexdigest(),
    ]


def test_traced_values_cross_the_default_boundaries_and_give_ucalls(tmp_path, captured):
    name = str(tmp_path / "notes.txt")
    untraced = use_the_libraries(name, 2.5, b"ab")
    originals = (builtins.open, json.dumps, os.path.exists, decimal.Decimal)
    with captured() as run:
        traced = use_the_libraries(hltpy.trace(name), hltpy.trace(2.5), hltpy.trace(b"ab"))
    assert hltpy.from_traced(traced) == untraced
    # Put back when the capture ends.
    assert (builtins.open, json.dumps, os.path.exists, decimal.Decimal) == originals
    assert builtins.open is io.open
    trace = run.trace
    calls = {n.name: n for n in trace.of_kind("UCall")}
    assert {
        "open",
        "exists",
        "getsize",
        "basename",
        "join",
        "fspath",
        "stat",
        "dumps",
        "match",
        "mean",
        "Decimal",
        "openssl_sha256",
    } <= set(calls)
    # The traced file name is the argument of open and exists.
    name_node = trace.of_kind("Const")[0]
    assert name_node.value == name
    assert calls["open"].input("arg", "0") == name_node.id
    assert calls["exists"].input("arg", "0") == name_node.id


def test_a_replaced_function_is_still_found_in_sets_of_functions(captured):
    untraced = (
        os.stat in os.supports_fd,
        os.stat in os.supports_follow_symlinks,
        os.stat == os.stat,
    )
    original = os.stat
    with captured():
        assert type(os.stat).__name__ == "TracedCallable"
        # shutil.copystat asks `fn in os.supports_follow_symlinks`.
        assert (
            os.stat in os.supports_fd,
            os.stat in os.supports_follow_symlinks,
            os.stat == original,
        ) == untraced
        assert hash(os.stat) == hash(original) and os.stat != os.lstat


def test_the_set_of_boundaries_is_an_option(tmp_path, captured):
    name = str(tmp_path / "n.txt")
    with captured(boundaries=frozenset()) as run:
        with pytest.raises(TypeError):
            json.dumps(hltpy.trace(2))
        # A path goes to open through __fspath__ even so, unrecorded.
        with open(hltpy.trace(name), "w"):
            pass
    assert not run.trace.of_kind("UCall")
    with captured(boundaries=hltpy.BOUNDARIES - {"json.dumps"}):
        assert hltpy.from_traced(re.escape(hltpy.trace("a.b"))) == r"a\.b"
        with pytest.raises(TypeError):
            json.dumps(hltpy.trace(2))
    import textwrap

    with captured(boundaries=hltpy.BOUNDARIES | {"textwrap.shorten"}) as run:
        short = textwrap.shorten(hltpy.trace("a b c d e f"), width=7)
    assert hltpy.from_traced(short) == "a [...]"
    assert run.trace.one("UCall", "shorten")
    with (
        pytest.raises(ValueError, match="cannot find 'textwrap.nope'"),
        captured(boundaries={"textwrap.nope"}),
    ):
        pass


def test_trace_callables_take_modules_and_dotted_names(captured):
    with captured(trace_callables=[math, "cmath.sqrt"]) as run:
        x = hltpy.trace(2.0)
        values = [math.sqrt(x), math.atan2(x, 1.0), math.hypot(x, x)]
        import cmath

        root = cmath.sqrt(x)
    assert hltpy.from_traced(values) == [math.sqrt(2.0), math.atan2(2.0, 1.0), math.hypot(2.0, 2.0)]
    assert hltpy.from_traced(root) == cmath.sqrt(2.0)
    assert {n.name for n in run.trace.of_kind("UCall")} == {"sqrt", "atan2", "hypot"}
    assert len(run.trace.of_kind("UCall", "sqrt")) == 2
    assert math.sqrt.__class__.__name__ == "builtin_function_or_method"
    with (
        pytest.raises(ValueError, match="exception class InvalidOperation"),
        captured(trace_callables=[decimal.InvalidOperation]),
    ):
        pass
    with (
        pytest.raises(ValueError, match="cannot find 'math.nope'"),
        captured(trace_callables=["math.nope"]),
    ):
        pass


def test_an_untraced_call_that_raised_is_a_node_with_its_exception(captured):
    """`math.sqrt(-1.0)` and `ord("ab")` raise as they do untraced, and each
    is a UCall whose value is the exception: eval recomputes the error."""
    with captured(trace_callables=[math]) as run:
        for call, argument in [(math.sqrt, -1.0), (ord, "ab")]:
            with pytest.raises((ValueError, TypeError)) as raised:
                call(hltpy.trace(argument))
            untraced = pytest.raises(type(raised.value), call, argument)
            assert str(raised.value) == str(untraced.value)
    (sqrt,) = run.trace.of_kind("UCall", "sqrt")
    (ordinal,) = run.trace.of_kind("UCall", "ord")
    assert sqrt.value == "raised ValueError('math domain error')"
    assert (
        ordinal.value
        == "raised TypeError('ord() expected a character, but string of length 2 found')"
    )


PROGRAM = """
import json, math, sys
sys.path.insert(0, {here!r})
import geometry
print(json.dumps(geometry.report(3.0)))
"""

GEOMETRY = """
import json, math

def report(x):
    return [math.sqrt(x), math.floor(x), json.loads(json.dumps(x))]
"""


def test_command_line_and_environment_forms(tmp_path):
    (tmp_path / "geometry.py").write_text(GEOMETRY)
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM.format(here=str(tmp_path)))
    out = tmp_path / "cli.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hltpy",
            "run",
            "-t",
            "geometry",
            "--trace-callable",
            "math",
            "--no-boundary",
            "json.dumps",
            "--boundary",
            "json.loads",
            "-o",
            str(out),
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # json.dumps is not a boundary any more: a traced float is refused.
    assert done.returncode == 1 and "TypeError" in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hltpy",
            "run",
            "-t",
            "geometry",
            "--trace-callable",
            "math",
            "-o",
            str(out),
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [math.sqrt(3.0), 3, 3.0]
    import pyarrow.parquet as pq

    names = {r["name"] for r in pq.read_table(out).to_pylist() if r["kind"] == "UCall"}
    assert names == {"sqrt", "floor", "dumps", "loads"}
    bad = subprocess.run(
        [sys.executable, "-m", "hltpy", "run", "--no-boundary", "json.nope", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "'json.nope' is not one of hltpy.BOUNDARIES" in bad.stderr
    env = dict(
        os.environ,
        HLTPY_TRACE=str(tmp_path / "env.parquet"),
        HLTPY_MODULES="geometry",
        HLTPY_BOUNDARIES="none",
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "TypeError" in done.stderr


def test_traced_bytes_lend_c_their_buffer(captured):
    import struct
    import zlib

    with captured():
        data = hltpy.trace(b"ab")
        array_like = hltpy.trace(bytearray(b"xy"))
        joined = b"".join([data, b"c", array_like])
        view = memoryview(data)
        unpacked = struct.unpack("2s", data)
        checksum = zlib.crc32(data)
        with pytest.raises(TypeError, match="a bytes-like object is required"):
            memoryview(hltpy.trace(3))
        # An int's proxy is an index, not a buffer: bytes(n) is n zero bytes.
        zeros = bytes(hltpy.trace(3))
    assert zeros == b"\0\0\0"
    assert joined == b"abcxy" and view.obj == b"ab" and not hltpy.is_traced(view.obj)
    assert unpacked == (b"ab",) and checksum == zlib.crc32(b"ab")
    del data
    assert view.tobytes() == b"ab"
    view.release()


def c_protocols(value):
    """What C code asks of an object's type before treating it as one:
    index, buffer, callable, iterator, path (CPython's own checks)."""
    api = ctypes.pythonapi
    for check in (
        api.PyIndex_Check,
        api.PyObject_CheckBuffer,
        api.PyCallable_Check,
        api.PyIter_Check,
    ):
        check.argtypes, check.restype = [ctypes.py_object], ctypes.c_int
    fspath = getattr(type(value), "__fspath__", None)
    return (
        api.PyIndex_Check(value),
        api.PyObject_CheckBuffer(value),
        api.PyCallable_Check(value),
        api.PyIter_Check(value),
        fspath is not None,
    )


def test_a_proxy_offers_c_the_protocols_of_its_value(captured):
    """Raw str and bytes have no `__fspath__`: their proxies have it in
    place of `PyUnicode_Check`/`PyBytes_Check`, which no proxy passes."""
    values = [
        3,
        2**80,
        2.5,
        1 + 2j,
        "text",
        b"bytes",
        bytearray(b"b"),
        memoryview(b"m"),
        [1],
        (1,),
        {1: 2},
        {1},
        range(3),
        iter([1]),
        (x for x in [1]),
        len,
        math.sqrt,
        object(),
        pathlib.Path("/tmp"),
        decimal.Decimal(1),
        io.BytesIO(b"x"),
    ]
    with captured():
        for value in values:
            expected = c_protocols(value)
            if isinstance(value, (str, bytes)):
                expected = expected[:4] + (True,)
            assert c_protocols(hltpy.trace(value)) == expected, value


def test_traced_paths_work_in_c_functions_that_are_no_boundary(tmp_path, captured):
    """`os` functions read a path through `__fspath__` (an int stays a file
    descriptor); no boundary is involved."""
    folder = tmp_path / "d"
    folder.mkdir()
    with captured(boundaries=()):
        name = hltpy.trace(str(folder / "f.txt"))
        encoded = hltpy.trace(os.fsencode(folder / "g.txt"))
        handle = os.open(name, os.O_CREAT | os.O_WRONLY)
        written = os.write(hltpy.trace(handle), hltpy.trace(b"abc"))
        os.close(handle)
        os.chmod(name, 0o600)
        os.utime(name, (1, 2))
        with warnings.catch_warnings():
            # 3.11 takes bytes through the buffer first, with the warning it
            # gives untraced for a bytearray; 3.12 through __fspath__.
            warnings.simplefilter("ignore", DeprecationWarning)
            os.link(name, encoded)
        access = os.access(name, os.R_OK)
        mode = os.stat(name).st_mode & 0o777
        mtime = os.stat(name).st_mtime
        with open(name, "rb") as f:
            content = f.read()
        shutil.copy(name, hltpy.trace(str(folder / "h.txt")))
        resolved = pathlib.Path(name).read_text()
        listed = sorted(os.listdir(hltpy.trace(str(folder))))
        with pytest.raises(
            TypeError, match="expected str, bytes or os.PathLike object, not Traced"
        ):
            os.fspath(hltpy.trace([name]))
        not_callable = callable(name) or callable(hltpy.trace(3))
    assert written == 3 and content == b"abc" and resolved == "abc"
    assert listed == ["f.txt", "g.txt", "h.txt"] and access and mode == 0o600 and mtime == 2
    assert not not_callable


def test_sums_of_traced_floats_are_the_untraced_sums(captured):
    """From 3.12 CPython sums exact floats with a compensation (and sumprod
    in extended precision); a proxy would be added plainly. These floats
    give another result when added plainly."""
    floats = [1e16, 1.0, -1e16, 0.5, 3.25e-5, 1e-3] * 3
    weights = [0.1, 3.0, 7.25, -2.0, 1e8, 1.0 / 3.0] * 3
    untraced = [sum(floats), sum(floats, 0.5), sum([2, *floats])]
    if hasattr(math, "sumprod"):
        untraced.append(math.sumprod(floats, weights))
    with captured() as run:
        traced_floats = [hltpy.trace(f) for f in floats]
        traced = [sum(traced_floats), sum(traced_floats, 0.5), sum([2, *traced_floats])]
        if hasattr(math, "sumprod"):
            traced.append(math.sumprod(traced_floats, [hltpy.trace(w) for w in weights]))
    assert hltpy.from_traced(traced) == untraced
    assert len(run.trace.of_kind("UCall")) == len(untraced)
