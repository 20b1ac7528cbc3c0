"""A traced module with classes hltpy cannot trace (used by the tests)."""


class Registry(dict):
    def register(self, key, value):
        self[key] = value


class Failure(ValueError):
    pass


class Fine:
    def __init__(self, v):
        self.v = v
