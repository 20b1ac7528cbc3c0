"""A traced class whose __init__ stores traced values, read back by code
that is not traced."""


class Holder:
    def __init__(self, value, items):
        self.value = value * 2
        self.items = items
        self.first = items[0]


def build(v):
    return Holder(v, [v, v + 1])
