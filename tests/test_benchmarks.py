"""The capture benchmarks run at a small size, so neither rots unseen:
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
            rows[line[:3]] = [float(n.replace(",", "").rstrip("x")) for n in re.findall(r"[\d,.]+x?(?=\s|$)", line[34:])]
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
        assert re.search(rf"^{program}\s", output, re.M), output


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
    rows = {line[:34].strip(): re.findall(r"([\d.]+)x\s+([\d,]+)/s", line[34:]) for line in lines[3:-1]}
    assert len(rows) == 3 + 5, output
    for name, cells in rows.items():
        assert len(cells) == 3, (name, output)
        assert all(float(ratio) > 0 and int(rate.replace(",", "")) > 0 for ratio, rate in cells), output
