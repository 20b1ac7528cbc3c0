"""Programs give the same results traced and untraced."""

import json
import pathlib
import subprocess
import sys

import pytest

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
PROGRAMS = ["addx", "seed_graph", "units", "kernels"]

RUN = """
import json, sys
sys.path.insert(0, {samples!r})
import hltpy
traced = sys.argv[1] == "traced"
if traced:
    hltpy.trace_modules([{name!r}])
import {name} as program
if traced:
    with hltpy.capture(sys.argv[2], allow_mutation=True):
        result = hltpy.from_traced(program.main())
else:
    # seed_graph calls hltpy.trace itself, so unwrap in both modes.
    result = hltpy.from_traced(program.main())
print(json.dumps(result))
"""


@pytest.mark.parametrize("name", PROGRAMS)
def test_sample_gives_the_same_result_traced_and_untraced(name, tmp_path):
    code = RUN.format(samples=str(SAMPLES), name=name)
    outputs = {}
    for mode in ("untraced", "traced"):
        done = subprocess.run(
            [sys.executable, "-c", code, mode, str(tmp_path / f"{name}.parquet")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        outputs[mode] = json.loads(done.stdout)
    assert outputs["traced"] == outputs["untraced"]
    assert (tmp_path / f"{name}.parquet").stat().st_size > 0
