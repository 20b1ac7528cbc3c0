"""A cooperative-multitasking scheduler in the style of Richards: tasks in a
linked list, explicit `Base.__init__(self, ...)` calls, identity tests on
linked structures, and module-level state made at import time."""

IDLE, WORKER, HANDLER = 0, 1, 2


class Stats:
    """Module-level state: one instance made at import, used in the run."""

    def __init__(self):
        self.switches = 0
        self.by_kind = {}

    def count(self, kind):
        self.switches += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


STATS = Stats()


class Packet:
    def __init__(self, link, ident, kind):
        self.link = link
        self.ident = ident
        self.kind = kind
        self.datum = 0
        self.data = [0] * 4

    def append_to(self, queue):
        self.link = None
        if queue is None:
            return self
        p = queue
        while p.link is not None:
            p = p.link
        p.link = self
        return queue


class Task:
    count = 0

    def __init__(self, ident, priority, queue, scheduler):
        self.ident = ident
        self.priority = priority
        self.queue = queue
        self.scheduler = scheduler
        self.held = False
        self.next = scheduler.head
        scheduler.head = self
        Task.count += 1

    def runnable(self):
        return self.queue is not None and not self.held

    def take(self):
        packet = self.queue
        self.queue = packet.link
        return packet

    def __repr__(self):
        return f"Task({self.ident})"


class Idle(Task):
    def __init__(self, ident, scheduler, seed):
        Task.__init__(self, ident, 0, None, scheduler)
        self.seed = seed
        self.rounds = 0

    def step(self):
        self.rounds += 1
        self.seed = (self.seed * 1103515245 + 12345) % 65536
        target = WORKER if self.seed % 2 == 0 else HANDLER
        STATS.count("idle")
        return self.scheduler.release(target)


class Worker(Task):
    def __init__(self, ident, priority, queue, scheduler):
        Task.__init__(self, ident, priority, queue, scheduler)
        self.processed = 0
        self.total = 0

    def step(self):
        if self.queue is None:
            return self.scheduler.hold(self)
        packet = self.take()
        for i in range(len(packet.data)):
            packet.data[i] = (packet.datum + i * self.priority) % 26
        self.total += sum(packet.data)
        self.processed += 1
        STATS.count("worker")
        return self.scheduler.send(packet, HANDLER)


class Handler(Task):
    def __init__(self, ident, priority, queue, scheduler):
        Task.__init__(self, ident, priority, queue, scheduler)
        self.handled = []

    def step(self):
        if self.queue is None:
            return self.scheduler.hold(self)
        packet = self.take()
        packet.datum += 1
        self.handled.append(packet.datum)
        STATS.count("handler")
        if packet.datum % 3 == 0:
            return self.scheduler.send(packet, WORKER)
        return self.scheduler.current


class Scheduler:
    def __init__(self):
        self.head = None
        self.current = None
        self.table = {}
        self.steps = 0

    def add(self, task):
        self.table[task.ident] = task

    def find(self, ident):
        t = self.head
        while t is not None:
            if t.ident == ident:
                return t
            t = t.next
        return None

    def hold(self, task):
        task.held = True
        return task.next

    def release(self, ident):
        task = self.find(ident)
        if task is None:
            return self.current
        task.held = False
        if task.priority > self.current.priority:
            return task
        return self.current

    def send(self, packet, ident):
        task = self.find(ident)
        if task is None:
            return self.current
        task.held = False
        task.queue = packet.append_to(task.queue)
        if task.priority > self.current.priority:
            return task
        return self.current

    def run(self, limit):
        self.current = self.head
        while self.current is not None and self.steps < limit:
            task = self.current
            if task.runnable() or task is self.table[IDLE]:
                self.current = task.step()
            else:
                self.current = task.next
            if self.current is None:
                self.current = self.head
            self.steps += 1
        return self.steps


def main(scale=1.0):
    scheduler = Scheduler()
    queue = None
    for i in range(4):
        queue = Packet(queue, i, WORKER)
    tasks = [
        Idle(IDLE, scheduler, 42),
        Worker(WORKER, 1000, queue, scheduler),
        Handler(HANDLER, 2000, None, scheduler),
    ]
    for task in tasks:
        scheduler.add(task)
    assert scheduler.find(WORKER) is tasks[1]
    steps = scheduler.run(int(400 * scale))
    worker, handler = tasks[1], tasks[2]
    return {
        "steps": steps,
        "tasks": Task.count,
        "processed": worker.processed,
        "total": worker.total,
        "handled": handler.handled[-5:],
        "switches": STATS.switches,
        "by_kind": sorted(STATS.by_kind.items()),
        "order": [repr(t) for t in tasks],
        "head_is_last": scheduler.head is tasks[-1],
    }
