"""The seed's first examples, as a module to trace: a class that adds a
stored number, a class built from it, and a plain function.

    AddX(10).add_to(5, z=2) == 17
"""


class AddX:
    def __init__(self, x):
        self.x = x

    def add_to(self, y, z=0):
        return self.x + y + z


class AddX2:
    """Adds its number twice, through an AddX it owns."""

    def __init__(self, x):
        self.inner = AddX(x)

    def add_twice(self, y):
        return self.inner.add_to(self.inner.add_to(y))


def plus2(v):
    return v + 2


def main():
    return [AddX(10).add_to(5, z=2), AddX2(3).add_twice(1), plus2(40)]
