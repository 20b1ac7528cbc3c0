"""Mutation through aliases: lists and dicts that hold traced values,
passed to traced functions and to untraced ones."""

import heapq


class Thing:
    def __init__(self, v):
        self.v = v


def fill(xs, d):
    xs[0] = 5
    xs.append(7)
    d["z"] = 1


class Queue:
    def __init__(self):
        self.items = []

    def push(self, item):
        heapq.heappush(self.items, item)


def main():
    a = Thing(1)
    held = [a, 2]
    table = {"k": a}
    fill(held, table)
    heap = [a.v + 2, a.v]
    heapq.heappush(heap, a.v - 1)
    queue = Queue()
    for v in (5, 1, 3):
        queue.push(v)
    return {
        "held": [held[0], len(held)],
        "table": sorted(table),
        "heap": list(heap),
        "queue": list(queue.items),
    }
