"""Proxies handed to C: every pairing of a traced value of many types
(numbers, strings, bytes, buffers, containers, iterators, generators,
coroutines, frames, code objects, arrays, memoryviews) with many C
functions of the standard library, called inside a capture in a child
process. C code may refuse a proxy (any Python exception), but it must
never crash the interpreter and never be driven into an internal error
(SystemError): that is C treating a proxy as the object it wraps."""

import json
import subprocess
import sys

PROGRAM = r"""
import array, asyncio, binascii, bisect, codecs, collections, copy, decimal, fractions, functools
import gc, hashlib, heapq, inspect, itertools, json, marshal, math, operator, os, pickle, re
import statistics, struct, sys, types, unicodedata, weakref, zlib
import hltpy

def generator():
    yield 1
    yield 2

async def coroutine_function():
    return 1

def values():
    return [
        3, -7, 2**70, 2.5, float("nan"), True, 3 + 4j, "text", "ä", "", b"bytes", bytearray(b"ba"),
        [1, 2], (1, 2), {"a": 1}, {1, 2}, frozenset({3}), range(4), slice(1, 3),
        memoryview(b"mv"), array.array("i", [1, 2]), iter([1, 2]), generator(), coroutine_function(),
        sys._getframe(), generator.__code__, decimal.Decimal("1.5"), fractions.Fraction(1, 3),
        None, len, math, object(), Exception("e"), type,
    ]

FUNCTIONS = [
    len, iter, next, hash, abs, repr, str, int, float, bool, bytes, bytearray, memoryview, list, tuple,
    dict, set, frozenset, sorted, sum, min, max, any, all, enumerate, zip, reversed, callable, format, ord,
    chr, hex, oct, bin, id, vars, dir, round, complex, divmod, isinstance, issubclass, getattr,
    math.sqrt, math.floor, math.fsum, math.prod, math.isfinite, math.gcd, math.hypot, math.trunc,
    operator.index, operator.add, operator.getitem, operator.concat, operator.length_hint, operator.not_,
    struct.pack, array.array, json.dumps, pickle.dumps, copy.copy, copy.deepcopy, marshal.dumps,
    zlib.crc32, hashlib.sha256, binascii.hexlify, re.compile, re.escape, os.fspath, os.path.join,
    os.stat, itertools.islice, itertools.chain, functools.reduce, collections.Counter, collections.deque,
    heapq.heapify, bisect.bisect, "".join, ",".split, asyncio.iscoroutine, inspect.isawaitable,
    inspect.iscoroutine, inspect.isgenerator, sys.getsizeof, weakref.ref, gc.get_referents,
    codecs.encode, unicodedata.name, decimal.Decimal, fractions.Fraction, statistics.mean,
    types.coroutine, asyncio.ensure_future, asyncio.run, str.upper, int.bit_length, list.append,
    dict.fromkeys, bytes.fromhex, float.fromhex, object.__sizeof__, type,
]

counts = collections.Counter()
with hltpy.capture(sys.argv[1], allow_mutation=True):
    for function in FUNCTIONS:
        for value in values():
            traced = hltpy.trace(value)
            for args in ((traced,), (traced, traced), (traced, 1), ([traced],), ((traced, 2),)):
                try:
                    result = function(*args)
                    if inspect.iscoroutine(result):
                        result.close()
                    counts["returned"] += 1
                except SystemError as err:
                    print(f"SystemError from {function!r}{args!r}: {err}", file=sys.stderr)
                    counts["system error"] += 1
                except BaseException:
                    counts["raised"] += 1
        for value in values():
            if inspect.iscoroutine(value):
                value.close()
print(json.dumps(counts))
"""


def test_c_functions_never_crash_or_fail_internally_on_proxies(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-W",
            "ignore",
            "-c",
            PROGRAM,
            str(tmp_path / "c.parquet"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout)
    assert counts.get("system error", 0) == 0, done.stderr[-3000:]
    # Both outcomes happened many times: the calls really ran.
    assert counts["returned"] > 1000 and counts["raised"] > 1000, counts
