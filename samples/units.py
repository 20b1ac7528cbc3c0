"""A small DSL of physical quantities with units, for later passes to
analyse (unit inference, constraint extraction).

A Unit is a tuple of exponents of (metre, second, kilogram); a Quantity is a
number with a Unit. The DSL itself does not check that added quantities
agree: `unit_checker.py` does, while tracing.
"""

DIMENSIONS = ("m", "s", "kg")


class Unit:
    def __init__(self, exponents):
        self.exponents = tuple(exponents)

    def __mul__(self, other):
        return Unit(a + b for a, b in zip(self.exponents, other.exponents))

    def __truediv__(self, other):
        return Unit(a - b for a, b in zip(self.exponents, other.exponents))

    def __pow__(self, power):
        return Unit(a * power for a in self.exponents)

    def __eq__(self, other):
        return self.exponents == other.exponents

    def __hash__(self):
        return hash(self.exponents)

    def __repr__(self):
        parts = [f"{d}^{e}" if e != 1 else d for d, e in zip(DIMENSIONS, self.exponents) if e]
        return "*".join(parts) or "1"


METRE = Unit((1, 0, 0))
SECOND = Unit((0, 1, 0))
KILOGRAM = Unit((0, 0, 1))
ONE = Unit((0, 0, 0))


class Quantity:
    def __init__(self, value, unit):
        self.value = value
        self.unit = unit

    def __add__(self, other):
        return Quantity(self.value + other.value, self.unit)

    def __sub__(self, other):
        return Quantity(self.value - other.value, self.unit)

    def __mul__(self, other):
        if isinstance(other, Quantity):
            return Quantity(self.value * other.value, self.unit * other.unit)
        return Quantity(self.value * other, self.unit)

    def __rmul__(self, other):
        return Quantity(other * self.value, self.unit)

    def __truediv__(self, other):
        return Quantity(self.value / other.value, self.unit / other.unit)

    def __pow__(self, power):
        return Quantity(self.value**power, self.unit**power)

    def __repr__(self):
        return f"{self.value} {self.unit}"


def metres(v):
    return Quantity(v, METRE)


def seconds(v):
    return Quantity(v, SECOND)


def kilograms(v):
    return Quantity(v, KILOGRAM)


def speed(distance, time):
    return distance / time


def kinetic_energy(mass, velocity):
    return 0.5 * mass * velocity**2


def fall_distance(g, t):
    return 0.5 * g * t**2


def stopping_distance(velocity, reaction_time):
    # A deliberate mistake, for `hltpy-analyze infer --dimension-attr unit`
    # to find: adds a speed to a distance (the DSL lets it through).
    return velocity + velocity * reaction_time


def main():
    v = speed(metres(100.0), seconds(9.58))
    e = kinetic_energy(kilograms(94.0), v)
    g = metres(9.81) / seconds(1.0) ** 2
    d = fall_distance(g, seconds(2.0))
    s = stopping_distance(v, seconds(0.7))
    return [repr(v), repr(e), repr(d), repr(s)]
