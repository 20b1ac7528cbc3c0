"""Classes as DSLs write them: ABCs, numbers ABCs, NamedTuple, Enum
members as values, and classes deriving from builtin types."""

import abc
import enum
import numbers
from typing import NamedTuple


class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self):
        ...

    def describe(self):
        return "%s of area %.2f" % (type(self).__name__, self.area())


class Square(Shape):
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


class Money(numbers.Number):
    def __init__(self, cents):
        self.cents = cents

    def __add__(self, other):
        return Money(self.cents + other.cents)

    def __eq__(self, other):
        return isinstance(other, Money) and self.cents == other.cents

    __hash__ = None


class Point(NamedTuple):
    x: float
    y: float

    def norm2(self):
        return self.x * self.x + self.y * self.y


class Color(enum.Enum):
    RED = 1
    GREEN = 2

    def warm(self):
        return self is Color.RED


class Metres(float):
    def __add__(self, other):
        return Metres(float(self) + float(other))

    def __repr__(self):
        return "%sm" % float.__repr__(self)


class Count(int):
    def twice(self):
        return Count(self * 2)


class Name(str):
    def shout(self):
        return Name(self.upper() + "!")


class Vec(tuple):
    def __new__(cls, *items):
        return super().__new__(cls, items)

    def __add__(self, other):
        return Vec(*(a + b for a, b in zip(self, other)))

    def dot(self, other):
        return sum(a * b for a, b in zip(self, other))


class Stack(list):
    def push(self, item):
        self.append(item)
        return self

    def peek(self):
        return self[-1]


class Registry(dict):
    def __setitem__(self, key, value):
        super().__setitem__(key.lower(), value)

    def total(self):
        return sum(self.values())


def main():
    square = Square(3)
    money = Money(150) + Money(25)
    p = Point(3.0, 4.0)
    q = p._replace(y=0.5)
    color = Color(1)
    m = Metres(1.5) + Metres(2.0)
    stack = Stack().push(1).push(2)
    registry = Registry()
    registry["A"] = 1
    registry["b"] = 2
    return {
        "square": square.describe(),
        "is_shape": isinstance(square, Shape),
        "money": money.cents,
        "money_eq": money == Money(175),
        "is_number": isinstance(money, numbers.Number),
        "point": [p.norm2(), list(q), p.x, p[1]],
        "color": [color.name, color.warm(), Color.GREEN.warm(), color is Color.RED],
        "metres": [repr(m), float(m) * 2],
        "count": [Count(4).twice(), type(Count(4).twice()).__name__],
        "name": Name("hi").shout(),
        "vec": [list(Vec(1, 2) + Vec(3, 4)), Vec(1, 2).dot(Vec(3, 4))],
        "stack": [stack.peek(), len(stack), list(stack)],
        "registry": [sorted(registry.items()), registry.total()],
    }
