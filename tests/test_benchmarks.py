"""Every benchmark runs at a small size, so none rots unseen:
each still runs every case, the nodes per iteration are what its cases
make, and the figures it prints hold together (no timing is asserted)."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Nodes per iteration of the three cases: one UDispatch; a Dispatch with
# its GetAttr, Argument and two UDispatch; three operations of a step.
NODES_PER_ITERATION = {"(a)": 1, "(b)": 5, "(c)": 3}


def run(script, *args):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def case_rows(output):
    """{"(a)": [numbers of its row...]} for the lines of the three cases."""
    rows = {}
    for line in output.splitlines():
        if line[:3] in NODES_PER_ITERATION:
            rows[line[:3]] = [
                float(n.replace(",", "").rstrip("x"))
                for n in re.findall(r"[\d,.]+x?(?=\s|$)", line[34:])
            ]
    assert sorted(rows) == sorted(NODES_PER_ITERATION), output
    return rows


def test_capture_bench_at_ci_size():
    output = run("capture_bench.py", "--repeat", "1", "--scale", "0.01")
    for case, (iterations, _, _, _, nodes, _, size, _, split_size) in case_rows(output).items():
        assert nodes // iterations == NODES_PER_ITERATION[case], output
        # The opt-in encoding writes smaller files than the default.
        assert 0 < split_size < size, output
    # Every class-heavy program ran, traced and untraced, with equal results.
    for program in ("scheduler", "raytracer", "solver", "quadtree", "slotted"):
        assert re.search(rf"^{program}\s", output, re.MULTILINE), output


def test_capture_instructions_at_ci_size():
    output = run("capture_instructions.py", "--iterations", "1000")
    for case, (untraced, program, writer, _, _, nodes) in case_rows(output).items():
        assert nodes == NODES_PER_ITERATION[case], output
        assert program > untraced and writer > 0, output


def test_versions_bench_at_ci_size():
    """The capture benchmark on 3.11, 3.12 and 3.13 side by side (`make
    test` made the .venv-3.X it needs)."""
    output = run("versions_bench.py", "--repeat", "1", "--scale", "0.01")
    lines = output.splitlines()
    versions = lines[1].split()
    assert [v.rsplit(".", 1)[0] for v in versions] == ["3.11", "3.12", "3.13"], output
    # Every version reads locations from the running frame (capture's
    # layout check at import passed on each).
    assert lines[2].count("from the frame") == 3, output
    rows = {
        line[:34].strip(): re.findall(r"([\d.]+)x\s+([\d,]+)/s", line[34:]) for line in lines[3:-1]
    }
    assert len(rows) == 3 + 5, output
    for name, cells in rows.items():
        assert len(cells) == 3, (name, output)
        assert all(float(ratio) > 0 and int(rate.replace(",", "")) > 0 for ratio, rate in cells), (
            output
        )


# The analyzer's benchmarks at a size of their own, captured afresh each
# run (a trace cached by an earlier build would hide a capture change).
CI_NODES = 20_000


def fresh_run(script, *args):
    for cached in (ROOT / "bench" / "out").glob(f"*-{CI_NODES}.*"):
        cached.unlink()
    return run(script, "--nodes", str(CI_NODES), "--repeat", "1", *args)


def table_rows(output):
    """The cells of each row of the markdown tables the benchmark printed
    (not their headers: a header is the line above a `| ---` line)."""
    lines = output.splitlines()
    headers = {at - 1 for at, line in enumerate(lines) if line.startswith("| ---")}
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for at, line in enumerate(lines)
        if line.startswith("| ") and not line.startswith("| ---") and at not in headers
    ]


def test_analyze_bench_at_ci_size():
    """Both engines give the same rows for every query case."""
    output = run("analyze_bench.py", "--nodes", "100000", "--repeat", "1")
    rows = table_rows(output)
    answers = {row[0]: row[-1] for row in rows if len(row) == 7}
    assert answers == {
        "count by kind": "yes",
        "top-20 callables": "yes",
        "fan-in: edges joined to nodes": "yes",
        "constraints, counted by kind": "yes",
        "summary": "n/a",
    }, output
    inferred = [row for row in rows if row[0] == "infer"]
    assert len(inferred) == 3 and all(int(row[2].replace(",", "")) > 0 for row in inferred), output


def test_eval_bench_at_ci_size():
    # The script itself stops when eval reports a difference.
    output = fresh_run("eval_bench.py")
    (row,) = table_rows(output)
    assert row[0] == "eval, every node" and row[4].endswith(("faster", "slower")), output


def test_compile_bench_at_ci_size():
    # The script itself stops when the emitted function, the untraced and
    # the traced program disagree.
    output = fresh_run("compile_bench.py")
    steps = [row[0] for row in table_rows(output)]
    assert steps[0].startswith("compile (") and "emitted function" in steps, output
    assert "compile the hand-written peer" in steps and "x the hand-written peer" in output, output
    (imported,) = [row for row in table_rows(output) if row[0] == "import the emitted module"]
    per_line, per_token = re.search(
        r"([\d.]+)x the hand-written peer's time per line, ([\d.]+)x per token", imported[3]
    ).groups()
    # Emitted lines are denser than hand-written ones: more per line than per token.
    assert float(per_line) > float(per_token) > 0, imported


def test_diff_bench_at_ci_size():
    output = fresh_run("diff_bench.py")
    (row,) = table_rows(output)
    matched, true_pairs, precision, recall = row[3:7]
    assert int(true_pairs.replace(",", "")) > 0 and int(matched.replace(",", "")) > 0, output
    assert (precision, recall) == ("1.0000", "1.0000"), output


def test_render_bench_at_ci_size():
    output = fresh_run(
        "render_bench.py", "--selection", "500", "--svg-nodes", "60", "--synthetic-nodes", "100000"
    )
    rows = table_rows(output)
    assert len(rows) == 5, output
    drawn = [int(row[1].replace(",", "")) for row in rows[:3]]
    # About the selection asked for, an SVG of dozens of nodes, a cone.
    assert 250 <= drawn[0] <= 2000 and 10 <= drawn[1] <= 200 and drawn[2] > 5, output


def test_passes_bench_at_ci_size():
    """Every pass runs over two real traces (exit codes outside a pass's
    findings stop the script); a row per pass, each over both traces."""
    output = run("passes_bench.py", "--only", "nbody,deltablue")
    rows = table_rows(output)
    assert [row[0] for row in rows] == [
        "check",
        "eval",
        "infer --stubs",
        "render --depth 2",
        "report",
        "diff (itself)",
        "compile (first calls)",
    ], output
    assert all(row[1] == "2" and int(row[2].replace(",", "")) > 100_000 for row in rows), output
