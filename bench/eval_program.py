"""A traced module for the re-evaluation benchmark: small and big ints,
floats, and a traced class, in a loop (about 22 nodes per step)."""


class Account:
    def __init__(self, balance, rate):
        self.balance = balance
        self.rate = rate

    def grow(self, amount):
        # A GetAttr (its source: the SetAttr of __init__), a multiply, an add.
        return amount + amount * self.rate


def mix(total, big, x, account, steps):
    for i in range(int(steps)):
        total = total + i * 3 - (i // 7) % 5
        big = (big * 3 + i) % 1208925819614629174706189
        x = x * 1.0000001 + 0.5 / (i + 1)
        total = account.grow(total) % 1000003
    return total, big, x
