"""A traced module that exercises every node kind (used by the tests)."""

from hltpy import trace


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm2(self):
        return self.x * self.x + self.y * self.y

    @staticmethod
    def origin():
        return Point(0, 0)

    @classmethod
    def diagonal(cls, v):
        return cls(v, v)


class Base:
    def __init__(self, v):
        self.v = v

    def twice(self):
        return self.v * 2


class Derived(Base):
    def __init__(self, v, w):
        super().__init__(v)
        self.w = w

    def total(self):
        return self.twice() + self.w


class Outer:
    class Inner:
        def __init__(self, k):
            self.k = k


def countdown(n):
    while n > 0:
        yield n
        n = n - 1


def all_parameters(a, b=2, *rest, c, d=4, **extra):
    return a + b + sum(rest) + c + d + sum(extra.values())


def fails(v):
    return v / 0


def uses_everything(v):
    p = Point(v, 2)
    total = p.norm2()
    items = trace([1, 2, 3])
    first = items[0]
    middle = items[1:-1]
    for i in items:
        total = total + i
    for k in countdown(2):
        total = total + k
    total = total + len(items)
    inner = Outer.Inner(v)
    return total + first + inner.k + middle[0]
