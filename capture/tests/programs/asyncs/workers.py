"""An asyncio program written as people write them: coroutine functions
and methods, tasks, gather, a queue, async generators (with asend, athrow
and aclose), async and plain context managers, timeouts, cancellation,
a TaskGroup and errors crossing awaits. Traced whole, it must compute
what it computes untraced."""

import asyncio


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.history = []
        self.lock = asyncio.Lock()

    async def deposit(self, amount):
        async with self.lock:
            await asyncio.sleep(0)
            self.balance = self.balance + amount
            self.history.append(amount)
            return self.balance

    async def audit(self):
        total = 0
        async for entry in entries(self.history):
            total = total + entry
        return total


class Session:
    """An async context manager of the traced module."""

    def __init__(self, name):
        self.name = name
        self.events = []

    async def __aenter__(self):
        await asyncio.sleep(0)
        self.events.append("enter " + self.name)
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.events.append("exit " + self.name + (" after " + exc_type.__name__ if exc_type else ""))
        return exc_type is KeyError


class Scope:
    """A plain context manager of the traced module."""

    def __init__(self, depth):
        self.depth = depth

    def __enter__(self):
        return self.depth + 1

    def __exit__(self, *exc):
        return False


async def entries(items):
    for item in items:
        await asyncio.sleep(0)
        yield item


async def squares(n):
    received = []
    i = 0
    while i < n:
        got = yield i * i
        if got is not None:
            received.append(got)
        i = i + 1
    yield received


async def failing(x):
    await asyncio.sleep(0)
    raise ValueError("bad " + str(x))


async def slow(x):
    await asyncio.sleep(10)
    return x


async def producer(queue, n):
    for i in range(n):
        await queue.put(i * 3)
    await queue.put(None)


async def consumer(queue):
    got = []
    while True:
        item = await queue.get()
        if item is None:
            return got
        got.append(item + 1)


async def scale(x, factor):
    await asyncio.sleep(0)
    return x * factor


async def main(start):
    account = Account("ada", start)
    deposits = await asyncio.gather(*(account.deposit(start + k) for k in range(4)))
    audited = await account.audit()

    queue = asyncio.Queue()
    consumed, _ = await asyncio.gather(consumer(queue), producer(queue, 5))

    gen = squares(4)
    first = await gen.__anext__()
    second = await gen.asend(start)
    rest = [value async for value in gen]
    gen2 = squares(10)
    await gen2.__anext__()
    try:
        await gen2.athrow(KeyError("stop"))
        thrown = "no"
    except KeyError as err:
        thrown = "thrown " + str(err)
    gen3 = squares(10)
    await gen3.__anext__()
    await gen3.aclose()

    async with Session("outer") as session, Session("inner") as inner:
        raise KeyError("swallowed")
    with Scope(start) as depth:
        deeper = depth * 2

    try:
        await asyncio.wait_for(slow(start), timeout=0.01)
        timed_out = False
    except TimeoutError:
        timed_out = True

    task = asyncio.create_task(slow(start))
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
        cancelled = False
    except asyncio.CancelledError:
        cancelled = True

    errors = await asyncio.gather(failing(start), scale(start, 2), return_exceptions=True)
    shown = [repr(e) if isinstance(e, Exception) else e for e in errors]

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(scale(start, k)) for k in range(3)]
    grouped = [t.result() for t in tasks]

    return {
        "deposits": deposits,
        "balance": account.balance,
        "audited": audited,
        "consumed": consumed,
        "squares": [first, second, rest],
        "thrown": thrown,
        "events": session.events + inner.events,
        "deeper": deeper,
        "timed_out": timed_out,
        "cancelled": cancelled,
        "errors": shown,
        "grouped": grouped,
    }
