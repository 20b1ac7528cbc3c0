"""Programs give the same results traced and untraced."""

import pathlib
import subprocess
import sys

import pytest
from conftest import untraced_and_traced

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
    untraced, traced = untraced_and_traced(code, tmp_path / f"{name}.parquet")
    assert traced == untraced
    assert (tmp_path / f"{name}.parquet").stat().st_size > 0


FORMS = """
import json, sys, warnings
sys.path.insert(0, {programs!r})
sys.path.insert(0, {tests!r})
import hltpy
from test_classes import reachable_proxies
mode, path = sys.argv[1:3]
if mode == "traced":
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hltpy.trace_modules(["fidelity.forms"])
    refused = [str(w.message) for w in caught]
from fidelity import forms
if mode == "traced":
    with hltpy.capture(path, allow_mutation=True) as run:
        result = forms.main()
    assert not reachable_proxies(forms)
    result = hltpy.from_traced(result)
    result["refused"] = refused
else:
    result = forms.main()
print(json.dumps(result))
"""


def test_class_forms_dsls_use_give_the_untraced_results(tmp_path):
    programs = SAMPLES.parent / "capture" / "tests" / "programs"
    code = FORMS.format(programs=str(programs), tests=str(programs.parent))
    untraced, traced = untraced_and_traced(code, tmp_path / "forms.parquet")
    refused = traced.pop("refused")
    assert traced == untraced
    # Only the Enum is refused (its metaclass decides what calling it gives), once.
    assert refused == [
        "hltpy: class fidelity.forms.Color is left untraced: its metaclass EnumType decides what calling the class gives"
    ]
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "forms.parquet").to_pylist()
    made = {r["name"] for r in rows if r["kind"] == "NewInit"}
    assert {
        "fidelity.forms.Square",
        "fidelity.forms.Money",
        "fidelity.forms.Point",
        "fidelity.forms.Stack",
        "fidelity.forms.Registry",
        "fidelity.forms.Vec",
        "fidelity.forms.Metres",
    } <= made
    # A builtin-based class's method is one UDispatch on the traced object.
    assert any(r["kind"] == "UDispatch" and r["name"] == "push" for r in rows)


def test_fractions_traced_as_a_module_gives_exact_results(tmp_path):
    code = """
import sys, hltpy
hltpy.trace_modules(["fractions"])
import fractions
with hltpy.capture(sys.argv[1]):
    total = fractions.Fraction(3, 4) + fractions.Fraction(1, 6)
print(repr(hltpy.from_traced(total)))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "f.parquet")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Fraction(11, 12)"
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "f.parquet").to_pylist()
    kinds = {(r["kind"], r["name"]) for r in rows}
    assert ("Obj", "fractions.Fraction") in kinds and ("NewInit", "fractions.Fraction") in kinds
    assert ("Dispatch", "__add__") in kinds
