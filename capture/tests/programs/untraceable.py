"""A traced module with a class hltpy cannot trace, next to ones it can
(used by the tests)."""

import enum


class Registry(dict):
    def register(self, key, value):
        self[key] = value


class Failure(ValueError):
    pass


class Mode(enum.Enum):
    FAST = 1
    SAFE = 2


class Fine:
    def __init__(self, v):
        self.v = v
