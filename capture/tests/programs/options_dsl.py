"""What the option tests trace: each operation is one that a capture
option changes the recording of (a conversion, a callable given to
trace_callables, boundaries, a long value, a mutation, many nodes)."""

import html
import math
import os.path


class Box:
    def __init__(self, v):
        self.v = v


def work(x):
    y = x * 2.0 + 1.0
    root = math.sqrt(y)
    whole = int(y)
    joined = os.path.join(y.hex(), "x")
    words = html.escape(y.hex())
    text = y.hex() * 40
    for i in range(30):
        y = y + i
    box = Box(y)
    try:
        box.v = y + 1
        mutated = "mutated"
    except AttributeError:
        mutated = "refused"
    return root + y + len(joined) + len(text) + len(words) + whole, mutated
