"""Compile benchmark: `hltpy-analyze compile` on a captured trace, and the
emitted function against the program it came from, side by side in one run.

    python bench/compile_bench.py [--nodes 1000000] [--repeat 3] [--analyze PATH]

Captures bench/eval_program.py (the re-evaluation benchmark's program: a
loop over ints, big ints, floats and a traced method) once into
bench/out/eval-N.parquet. Compile time is the whole command (process
start, reading, emitting); the emitted module is straight-line code of
the whole run, so importing it (CPython compiling it to bytecode) is timed
on its own, beside CPython compiling hand-written source of about as many
lines (the standard library's first modules by name), per line and per
code token. Then, in one process: the untraced program, the emitted
function on the recorded inputs, and the traced program (recording into a
trace) — medians of the repeats.
"""

import argparse
import importlib.util
import io
import os
import pathlib
import statistics
import sys
import sysconfig
import time
import tokenize

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from analyze_bench import measure  # noqa: E402
from eval_bench import NODES_PER_STEP, captured_trace  # noqa: E402


def hand_written_peer(lines):
    """Source written by people, about `lines` long: the standard library's
    top-level modules in name order, whole, until they reach it."""
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files, total = [], 0
    for path in sorted(stdlib.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        files.append((path, text))
        total += text.count("\n")
        if total >= lines:
            break
    return files, total


def code_tokens(text):
    """Python tokens that are code (names, operators, literals): what the
    compiler works through; comments, blank lines and indentation aside."""
    layout = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    return sum(
        1
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type not in layout
    )


def timed(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--analyze", default=str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
    args = parser.parse_args()

    path = captured_trace(args.nodes)
    import hltpy
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    emitted = OUT / f"compiled-{args.nodes}.py"
    print(
        f"trace: {path.relative_to(ROOT)} ({rows:,} nodes, captured from bench/eval_program.py); "
        f"{os.cpu_count()} cores; median of {args.repeat}"
    )
    print()
    compile_times, peak = [], 0.0
    for _ in range(args.repeat):
        seconds, memory, _ = measure(
            [args.analyze, "compile", "--progress", "never", str(path), "-o", str(emitted)]
        )
        compile_times.append(seconds)
        peak = max(peak, memory)
    lines = emitted.read_text().count("\n")

    # Importing compiles the module's bytecode: a fresh module object each
    # time, from source (no cached .pyc is written for a spec from a path).
    def load():
        spec = importlib.util.spec_from_file_location(f"compiled_{args.nodes}", emitted)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    sys.dont_write_bytecode = True
    import_seconds, module = timed(load, args.repeat)
    peer_files, peer_lines = hand_written_peer(lines)
    peer_seconds, _ = timed(
        lambda: [compile(text, str(path), "exec") for path, text in peer_files], args.repeat
    )
    # Per line: the peer's last file takes it a little past `lines`. Per
    # token too: an emitted line is one dense statement, a hand-written one
    # often a docstring's or a short one, so the same number of lines is
    # not the same amount of code.
    compile_ratio = (import_seconds / lines) / (peer_seconds / peer_lines)
    tokens = code_tokens(emitted.read_text())
    peer_tokens = sum(code_tokens(text) for _, text in peer_files)
    token_ratio = (import_seconds / tokens) / (peer_seconds / peer_tokens)

    spec = importlib.util.spec_from_file_location("untraced_eval_program", HERE / "eval_program.py")
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    hltpy.trace_modules(["eval_program"])
    import eval_program

    steps = args.nodes // NODES_PER_STEP

    def untraced():
        return plain.mix(0, 2**80 + 1, 1.5, plain.Account(100, 0.25), steps)

    def traced():
        with hltpy.capture(OUT / "compile-bench-traced.parquet"):
            account = eval_program.Account(hltpy.trace(100), hltpy.trace(0.25))
            return hltpy.from_traced(
                eval_program.mix(
                    hltpy.trace(0),
                    hltpy.trace(2**80 + 1),
                    hltpy.trace(1.5),
                    account,
                    hltpy.trace(steps),
                )
            )

    base, expected = timed(untraced, args.repeat)
    ran, got = timed(module.compiled, args.repeat)
    recorded, again = timed(traced, args.repeat)
    if not (got == expected == again):
        raise SystemExit(f"results differ: untraced {expected}, compiled {got}, traced {again}")
    compile_seconds = statistics.median(compile_times)
    print("| step | seconds | ratio to untraced | notes |")
    print("| --- | ---: | ---: | --- |")
    print(
        f"| compile ({rows:,} nodes) | {compile_seconds:.2f} | | {rows / compile_seconds / 1e6:.2f} M nodes/s, "
        f"peak {peak:.0f} MiB, {lines:,} lines |"
    )
    print(
        f"| import the emitted module | {import_seconds:.2f} | | CPython compiling {lines:,} lines "
        f"({tokens:,} tokens): {compile_ratio:.1f}x the hand-written peer's time per line, "
        f"{token_ratio:.2f}x per token |"
    )
    print(
        f"| compile the hand-written peer | {peer_seconds:.2f} | | the standard library's first "
        f"{len(peer_files)} modules, {peer_lines:,} lines ({peer_tokens:,} tokens) |"
    )
    print(f"| untraced program | {base:.3f} | 1.0x | eval_program.mix, {steps:,} steps |")
    print(f"| emitted function | {ran:.3f} | {ran / base:.2f}x | straight-line, same result |")
    print(
        f"| traced program | {recorded:.3f} | {recorded / base:.1f}x | capture into a trace |",
        flush=True,
    )


if __name__ == "__main__":
    main()
