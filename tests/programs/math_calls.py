"""Every function of `math`, `sum`, `ord`, `chr`, and `round` to a number
of digits, on random and edge arguments,
with traced arguments and `math` given to `trace_callables`: each call is a
UCall node whose recorded result eval must recompute bit for bit.

    python math_calls.py TRACE SEED ROUNDS
"""

import math
import random
import sys

import hltpy

EDGE = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-310, -1e-310, 5e-324, 2.2250738585072014e-308, 1e308, -1e308,
        math.inf, -math.inf, math.nan, math.pi, 1e-20, 700.0, 710.0, -745.0, 171.5, -0.5, 3, -3, 0, 1, 2**53 + 1,
        2**70 + 3, 10**30 + 7, -(2**64), 2**1100 + 1, 1 - 2**-53, 0.1, 1e16, 23.0, 24.0]
ONE = ["acos", "acosh", "asin", "asinh", "atan", "atanh", "cbrt", "cos", "cosh", "erf", "erfc", "exp", "exp2",
       "expm1", "fabs", "sin", "sinh", "sqrt", "tan", "tanh", "log", "log2", "log10", "log1p", "degrees",
       "radians", "isfinite", "isinf", "isnan", "frexp", "modf", "ulp", "gamma", "lgamma", "floor", "ceil", "trunc"]
TWO = ["atan2", "copysign", "fmod", "remainder", "pow", "log", "hypot", "nextafter", "isclose", "ldexp", "dist"]
INTS = ["isqrt", "factorial", "gcd", "lcm", "comb", "perm"]
ERRORS = (ValueError, OverflowError, TypeError, ZeroDivisionError)


def main(path, seed, rounds):
    rng = random.Random(seed)

    def number():
        kind = rng.random()
        if kind < 0.3:
            return rng.choice(EDGE)
        if kind < 0.55:
            return rng.uniform(-10, 10)
        if kind < 0.75:
            return rng.uniform(-1, 1) * 10 ** rng.randint(-320, 308)
        if kind < 0.9:
            return rng.randint(-1000, 1000)
        return rng.randint(-(2**80), 2**80)

    traced_calls = []

    def call(function, *args):
        # A call given no traced value (`sum([])`, `hypot()`) makes no node.
        if any(hltpy.is_traced(a) or isinstance(a, list) and any(map(hltpy.is_traced, a)) for a in args):
            traced_calls.append(function)
        try:
            return hltpy.from_traced(function(*args))
        except ERRORS as err:
            return repr(err)

    if hasattr(math, "sumprod"):
        # Cancellation a plain float loop loses; an int sum that overflows a
        # word before floats; an int too large for the float phase; a total
        # that overflows and leaves the float phase.
        for p, q in [([1e16, 1.0, -1e16], [1, 1.0, True]), ([2**62, 2**62, 1.5], [1, 1, 2.0]),
                     ([3, 0.1, 2**1100, 0.2], [4, 0.3, 1.0, 0.7]), ([0.1] * 10, [0.1] * 10),
                     ([1e308, 1e308, -1e308], [10.0, 1.0, 1.0])]:
            call(math.sumprod, [hltpy.trace(x) for x in p], [hltpy.trace(y) for y in q])
    three = [name for name in ("fma",) if hasattr(math, name)]
    with hltpy.capture(path, trace_callables=[math, chr]):
        for _ in range(rounds):
            for name in ONE:
                if hasattr(math, name):
                    call(getattr(math, name), hltpy.trace(number()))
            for name in TWO:
                a, b = number(), rng.randint(-1100, 1100) if name == "ldexp" else number()
                if name == "dist":
                    a, b = [hltpy.trace(number()) for _ in range(3)], [hltpy.trace(number()) for _ in range(3)]
                    call(math.dist, a, b)
                else:
                    call(getattr(math, name), hltpy.trace(a), hltpy.trace(b))
            for name in three:
                call(getattr(math, name), *(hltpy.trace(number()) for _ in range(3)))
            call(math.hypot, *(hltpy.trace(number()) for _ in range(rng.randint(0, 6))))
            # Floats of one scale, so that sums round; sum() compensates from 3.12.
            scale = 10 ** rng.randint(-20, 20)
            floats = [hltpy.trace(rng.uniform(-1, 1) * scale) for _ in range(rng.randint(0, 9))]
            mixed = [hltpy.trace(number()) for _ in range(rng.randint(0, 5))]
            for items in (floats, mixed, [hltpy.trace(1), *floats]):
                for function in (math.fsum, sum, math.prod):
                    call(function, items)
            if hasattr(math, "sumprod"):
                # Runs of word-sized ints, of floats (with ints and bools
                # among them) and of anything, so that sumprod's int, float
                # and generic phases each start, overflow and hand over.
                def term(scale=scale):
                    kind = rng.random()
                    if kind < 0.3:
                        return rng.randint(-(2**31), 2**31)
                    if kind < 0.4:
                        return rng.choice([2**62, -(2**63), 2**63 - 1, 3037000500, 2**64])
                    if kind < 0.75:
                        return rng.uniform(-1, 1) * scale
                    if kind < 0.8:
                        return rng.random() < 0.5
                    return number()

                length = rng.randint(0, 8)
                p = [hltpy.trace(term()) for _ in range(length)]
                q = [hltpy.trace(term()) for _ in range(length + (rng.random() < 0.1))]
                call(math.sumprod, p, q)
            text = rng.choice(["", "a", "é", "☃", "ab", "\U0001f600"])
            call(ord, hltpy.trace(text))
            call(ord, hltpy.trace(text.encode()[:rng.randint(0, 2)]))
            call(ord, hltpy.trace(rng.randint(0, 9)))
            call(chr, hltpy.trace(rng.choice([0, 65, 233, 0x10FFFF, 0x110000, -1, rng.randint(0, 0xD7FF)])))
            for digits in (rng.randint(-20, 20), rng.randint(-400, 400)):
                call(round, hltpy.trace(number()), digits)
            call(round, hltpy.trace(rng.randint(0, 99) / 8), 2)
            for name in INTS:
                count = 2 if name in ("comb", "perm", "gcd", "lcm") else 1
                call(getattr(math, name), *(hltpy.trace(rng.randint(-5, 80)) for _ in range(count)))
    return traced_calls


if __name__ == "__main__":
    print(len(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
