"""eval recomputes `math` as the CPython that recorded the trace: every
function of the module, on random and edge arguments
(signed zeros, subnormals, infinities, NaN, ints beyond a float), traced
through the real capture on each CPython the suite has, agrees bit for bit
with the recorded results, errors included, and nothing is opaque. The
seed is new each run (HLTPY_MATH_SEED repeats one); it is in the failure."""

import os
import pathlib
import random
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
PROGRAM = ROOT / "tests" / "programs" / "math_calls.py"
PYTHONS = {
    "3.11": ROOT / ".venv" / "bin" / "python",
    **{v: ROOT / f".venv-{v}" / "bin" / "python" for v in ("3.12", "3.13")},
}


@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_eval_recomputes_math_bit_for_bit(tmp_path, version):
    python = PYTHONS[version]
    if not python.exists():
        pytest.fail(f"{python} is missing: `make versions` makes it")
    seed = int(os.environ.get("HLTPY_MATH_SEED", random.randrange(2**32)))
    trace = tmp_path / "math.parquet"
    done = subprocess.run([python, PROGRAM, trace, str(seed), "60"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = int(done.stdout)
    done = subprocess.run([ANALYZE, "eval", trace], capture_output=True, text=True)
    # Exit status 1 is "differences found": the summary says how many.
    assert done.returncode in (0, 1), done.stderr
    summary = re.search(
        r"(\d+) matched by value, \d+ by type only, (\d+) differed, (\d+) opaque", done.stdout
    )
    matched, differed, opaque = map(int, summary.groups())
    assert (differed, opaque) == (0, 0), f"seed {seed} on {version}:\n{done.stdout[:4000]}"
    # Every call given a traced value made a node, and it was compared.
    assert matched >= calls, f"seed {seed} on {version}: {calls} traced calls\n{done.stdout}"
