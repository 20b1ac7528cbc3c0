"""A released pure-Python library no one here wrote, as a user traces it:
geographiclib (pinned, from PyPI), its geodesic `Inverse` and `Direct`
run with `python -m hltpy run -t geographiclib --allow-mutation` and every
`math` function recorded (`--trace-callable`). The traced run prints what
the untraced one prints; eval recomputes it with no difference; compile
turns each function's first call into a function that passes --check;
diff against a copy with one series coefficient changed names that
coefficient as the first divergence; check, infer (stubs mypy accepts),
render and report run on it."""

import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
VERSION = "2.1"
CACHE = (
    pathlib.Path(os.environ.get("HLTPY_CACHE", pathlib.Path.home() / ".cache" / "hltpy"))
    / f"geographiclib-{VERSION}"
)
PROGRAM = """
import json
from geographiclib.geodesic import Geodesic
out = []
for lat1, lon1, lat2, lon2 in [(-41.32, 174.81, 40.96, -5.50), (0.0, 0.0, 0.5, 179.7), (51.5, -0.12, 40.7, -74.0)]:
    inverse = Geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2)
    out.append([inverse["s12"], inverse["azi1"], inverse["azi2"]])
    direct = Geodesic.WGS84.Direct(lat1, lon1, inverse["azi1"], inverse["s12"] / 2)
    out.append([direct["lat2"], direct["lon2"]])
print(json.dumps([[x.hex() for x in row] for row in out]))
"""
# The series coefficients of A1 (geodesic.py); the copy changes one.
COEFFICIENTS = "1, 4, 64, 0, 256,"


def analyze(*args):
    return subprocess.run(
        [ANALYZE, *map(str, args)], capture_output=True, text=True, check=False, timeout=600
    )


def library():
    """The pinned wheel's package directory (downloaded once)."""
    if not (CACHE / "geographiclib" / "geodesic.py").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                f"geographiclib=={VERSION}",
                "-d",
                str(CACHE),
            ],
            check=True,
            timeout=600,
        )
        with zipfile.ZipFile(next(CACHE.glob("geographiclib-*.whl"))) as wheel:
            wheel.extractall(CACHE)
    return CACHE / "geographiclib"


def run(directory, traced, trace=None, max_repr=None):
    """The program in `directory` (beside its copy of the library), untraced
    or traced; what it printed."""
    (directory / "geodesics.py").write_text(PROGRAM)
    command = [sys.executable, "geodesics.py"]
    if traced:
        callables = [f"math.{name}" for name in dir(math) if callable(getattr(math, name))]
        command = [
            sys.executable,
            "-m",
            "hltpy",
            "run",
            "-t",
            "geographiclib",
            "--allow-mutation",
            "-o",
            str(trace),
            *(["--max-repr", str(max_repr)] if max_repr else []),
            *(argument for name in callables for argument in ("--trace-callable", name)),
            "geodesics.py",
        ]
    done = subprocess.run(
        command, cwd=directory, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Traces of the library as released (values kept whole, and cut at the
    default max_repr) and of a copy with one coefficient changed."""
    work = tmp_path_factory.mktemp("geographiclib")
    traces = {}
    for label, edit, max_repr in [
        ("whole", None, 100_000),
        ("default", None, None),
        ("changed", "65", 100_000),
    ]:
        directory = work / label
        shutil.copytree(library(), directory / "geographiclib")
        if edit:
            source = directory / "geographiclib" / "geodesic.py"
            text = source.read_text()
            assert text.count(COEFFICIENTS) == 1
            source.write_text(text.replace(COEFFICIENTS, COEFFICIENTS.replace("64", edit)))
        untraced = run(directory, traced=False)
        traces[label] = directory / f"{label}.parquet"
        assert run(directory, traced=True, trace=traces[label], max_repr=max_repr) == untraced, (
            label
        )
    return traces


def test_eval_recomputes_the_library_without_a_difference(runs):
    for label in ("whole", "default"):
        done = analyze("eval", runs[label])
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        matched, differed = map(
            int,
            re.search(
                r"(\d+) matched by value, \d+ by type only, (\d+) differed", done.stdout
            ).groups(),
        )
        assert differed == 0 and matched > 10_000, done.stdout[:3000]
        if label == "whole":
            # Lists kept whole are indexed, not opaque (they were, cut short).
            assert "indexing" not in done.stdout, done.stdout[:3000]
        else:
            assert "indexing list: an input's recorded value was cut short" in done.stdout, (
                done.stdout[:3000]
            )


def test_compile_passes_its_check_on_each_functions_first_call(runs):
    trace = runs["whole"]
    done = analyze(
        "query",
        "--format",
        "csv",
        "SELECT min(id) FROM nodes WHERE kind IN ('Call', 'Dispatch', "
        "'NewInit') GROUP BY kind, name ORDER BY 1",
        trace,
    )
    firsts = done.stdout.splitlines()[1:]
    assert len(firsts) >= 20, done.stdout
    done = analyze(
        "compile",
        trace,
        *(a for first in firsts for a in ("--node", first)),
        "--check",
        "--python",
        sys.executable,
        "-o",
        trace.with_suffix(".py"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    checked = [line for line in done.stdout.splitlines() if line.startswith("compiled_")]
    assert len(checked) == len(firsts) and all(
        line.endswith("(as recorded)") for line in checked
    ), done.stdout


def test_diff_names_the_changed_coefficient_as_the_first_divergence(runs):
    done = analyze("diff", runs["whole"], runs["changed"])
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    first = re.search(r"^first divergence: (.*)$", done.stdout, re.MULTILINE).group(1)
    assert first.startswith("~ Const = [1, 4, 65, 0, 256], was [1, 4, 64, 0, 256] (node "), first
    assert "geodesic.py:" in first, first
    done = analyze("diff", runs["whole"], runs["whole"])
    assert done.returncode == 0 and "equivalent: all" in done.stdout, done.stdout[-2000:]


def test_check_infer_render_and_report_run_on_it(runs, tmp_path):
    trace = runs["whole"]
    assert analyze("check", trace).returncode == 0
    done = analyze("infer", trace, "--stubs", tmp_path / "stubs")
    assert done.returncode in (0, 1), done.stderr
    stubs = sorted((tmp_path / "stubs").rglob("*.pyi"))
    assert stubs, done.stdout
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "-p", "geographiclib"],
        cwd=tmp_path / "stubs",
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert mypy.returncode == 0, mypy.stdout[-2000:]
    done = analyze("render", trace, "--depth", "2", "-o", tmp_path / "geo.svg")
    assert done.returncode == 0, done.stderr
    done = analyze("report", trace, "-o", tmp_path / "geo.html")
    assert done.returncode == 0 and (tmp_path / "geo.html").stat().st_size > 10_000, done.stderr
