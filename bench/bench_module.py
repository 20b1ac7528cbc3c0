"""A traced module for the capture benchmark."""


class Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, v):
        # Two operations: a multiply and an add.
        return v * 2 + 1
