"""A small vector program, version 2 of 2 (the other is ../before/): the
step moved into a helper, the start velocity changed, a damping term
added."""


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


def advance(p, v, dt):
    return p + v.scale(dt)


def main():
    p = Vec(0.0, 1.0)
    v = Vec(1.0, 0.25)
    for _ in range(3):
        p = advance(p, v, 0.1)
    return p.dot(p) * 0.99
