"""The program behind the seed's picture (Graph.gv.png): traced dicts,
tuples built by iterating `.items()`, unpacking, and a traced generator.

    simple03(1, 5) == [1, 2, 3, 4]
"""

from hltpy import trace


def grange(low, high):
    for i in range(int(low), int(high)):
        yield trace(i)


def simple03(a, x):
    d1 = trace({"a": a, "b": 2})
    d2 = trace({"x": x, "y": 12})
    d3 = trace({(k1, k2): (v1, v2) for k1, v1 in d1.items() for k2, v2 in d2.items()})
    v1, v2 = d3[("a", "x")]
    return list(grange(v1, v2))


def main():
    return simple03(1, 5)
