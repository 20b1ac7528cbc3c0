"""A small vector program, version 1 of 2 (the other is ../after/): the
pair `hltpy-analyze diff` is shown on. Version 2 moves the step into a
helper, changes the start velocity and adds a damping term."""


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def scale(self, k):
        return Vec(self.x * k, self.y * k)

    def dot(self, other):
        return self.x * other.x + self.y * other.y


def main():
    p = Vec(0.0, 1.0)
    v = Vec(1.0, 0.5)
    for _ in range(3):
        p = p + v.scale(0.1)
    return p.dot(p)
