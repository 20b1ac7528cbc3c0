"""A run with a spawned or forked child for the option tests: each
process computes with the traced module options_dsl and prints what it got."""

import multiprocessing
import sys

import hltpy
import options_dsl as dsl


def report(who, x):
    print(who, dsl.work(x), "flush_every", hltpy.running_capture().flush_every, flush=True)


def child():
    report("child", 4.0)


if __name__ == "__main__":
    report("parent", 3.0)
    process = multiprocessing.get_context(sys.argv[1]).Process(target=child)
    process.start()
    process.join()
    sys.exit(process.exitcode)
