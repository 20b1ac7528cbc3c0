"""A traced module of class hierarchies (used by test_classes.py): explicit
base-class calls, both forms of super, a cooperative diamond, class
variables, identity of linked objects, an object made at import,
dataclasses (plain and frozen) and a sentinel default."""

from dataclasses import dataclass, field


class Base:
    made = 0

    def __init__(self, a, b):
        self.a = a
        self.b = b
        Base.made += 1

    def describe(self):
        return "Base(%s)" % self.a

    def __eq__(self, other):
        if not isinstance(other, Base):
            return NotImplemented
        return self.a == other.a

    __hash__ = None

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.a)


class Direct:
    def __init__(self, a, b):
        self.a = a
        self.b = b


class Explicit(Base):
    def __init__(self, a, b):
        Base.__init__(self, a, b)

    def describe(self):
        return "Explicit/" + Base.describe(self)


class OldStyle(Base):
    def __init__(self, a, b):
        super(OldStyle, self).__init__(a, b)

    def describe(self):
        return "OldStyle/" + super(OldStyle, self).describe()


class Root:
    def __init__(self, **kw):
        self.trail = ["root"]


class Left(Root):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.trail.append("left")


class Right(Root):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.trail.append("right")


class Bottom(Left, Right):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.trail.append("bottom")


class Link:
    def __init__(self, value, next=None):
        self.value = value
        self.next = next


class Log:
    """Made at import, so outside any capture."""

    def __init__(self):
        self.entries = []

    def add(self, entry):
        self.entries.append(entry)
        return len(self.entries)


LOG = Log()


def explicit_and_direct(a, b):
    return Explicit(a, b), Direct(a, b)


def identities(v):
    first = Link(v)
    second = Link(v + 1, first)
    ring = [first, second]
    table = {"first": first}
    return {
        "next_is_first": second.next is first,
        "list_item_is_first": ring[0] is first,
        "dict_value_is_first": table["first"] is first,
        "twice_the_same": second.next is second.next,
        "not_second": second.next is not second,
        "compare_is_true": (first.value < second.value) is True,
        "none_stays_none": first.next is None,
        "eq_not_implemented": Base(v, 0).__eq__(v) is NotImplemented,
    }


def class_attributes(v):
    plain = Base(v, 1)
    other = Base(v, 2)
    return {
        "base_eq": Base.__eq__(plain, other),
        "base_repr": Base.__repr__(plain),
        "explicit": Explicit(v, 0).describe(),
        "old_style": OldStyle(v, 0).describe(),
        "diamond": Bottom().trail,
        "made": Base.made,
        "equal_objects": plain == other,
    }


def use_the_log(v):
    return LOG.add(v * 2)


_MISSING = object()


@dataclass
class Sample:
    x: float
    y: float = 0.0
    tags: list = field(default_factory=list)

    def norm2(self):
        return self.x * self.x + self.y * self.y


@dataclass(frozen=True)
class Frozen:
    a: int

    def twice(self):
        return Frozen(self.a * 2)


def pick(value, fallback=_MISSING):
    if fallback is _MISSING:
        return value
    return fallback


def records(v):
    p = Sample(v, v + 1)
    q = Sample(v, v + 1)
    f = Frozen(v).twice()
    return {
        "norm2": p.norm2(),
        "equal": p == q,
        "repr": repr(p),
        "frozen": f.a,
        "frozen_equal": Frozen(v) == Frozen(v),
        "hash_equal": hash(Frozen(v)) == hash(Frozen(v)),
        "sentinel_default": pick(v),
        "sentinel_given": pick(v, 7),
    }
