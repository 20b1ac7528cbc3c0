"""Classes with `__slots__`, properties with setters, and a class
variable counter."""


class Account:
    __slots__ = ("_owner", "_cents", "history")
    opened = 0

    def __init__(self, owner, cents=0):
        self._owner = owner
        self._cents = cents
        self.history = []
        Account.opened += 1

    @property
    def owner(self):
        return self._owner

    @property
    def balance(self):
        return self._cents / 100

    @balance.setter
    def balance(self, value):
        self.history.append(self._cents)
        self._cents = round(value * 100)

    def deposit(self, cents):
        self.balance = self.balance + cents / 100
        return self

    def __lt__(self, other):
        return self._cents < other._cents


class Savings(Account):
    __slots__ = ("rate",)

    def __init__(self, owner, cents, rate):
        Account.__init__(self, owner, cents)
        self.rate = rate

    def accrue(self):
        self.balance = self.balance * (1 + self.rate)
        return self.balance


def main(scale=1.0):
    accounts = [Account("a", 100), Savings("b", 5000, 0.01), Account("c")]
    for i in range(int(300 * scale)):
        accounts[i % 3].deposit(i * 7)
        if i % 5 == 0:
            accounts[1].accrue()
    ranked = sorted(accounts)
    return {
        "balances": [a.balance for a in accounts],
        "owners": [a.owner for a in ranked],
        "opened": Account.opened,
        "history": [len(a.history) for a in accounts],
        "richest_is_savings": max(accounts) is accounts[1],
    }
