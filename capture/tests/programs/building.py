"""Objects built by helper methods that their __init__ calls, as a real
geodesics library builds its series coefficients: the helpers fill
containers the object holds, by item."""


class Series:
    def __init__(self, order, scale):
        self.order = order
        self.coeffs = [0.0] * order
        self.table = [[0, 0], [0, 0]]
        self.index = {}
        self._fill(scale)
        self._tabulate()

    def _fill(self, scale):
        for i in range(self.order):
            self.coeffs[i] = scale / (i + 1)
        del self.coeffs[self.order - 1]

    def _tabulate(self):
        for i in range(2):
            for j in range(2):
                self.table[i][j] = self.coeffs[0] * (i + j)
        self.index["first"] = self.coeffs[0]


class Borrower:
    def __init__(self, given):
        self.size = len(given)
        given[0] = "changed"


def build(scale):
    series = Series(4, scale)
    return series.coeffs, series.table, series.index["first"]
