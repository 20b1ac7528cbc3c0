"""`hltpy-analyze compile`: the emitted functions run in CPython. On the
recorded inputs they give the recorded result; on new inputs they give what
the original program gives, or raise hltpy.GuardFailed where the program
would have taken another path."""

import ast
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import hltpy
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
SAMPLES = ROOT / "samples"
sys.path.insert(0, str(SAMPLES))


def compile_trace(trace, *args, check=False):
    extra = ["--check", "--python", sys.executable] if check else []
    # The committed traces name the sample files where they were captured,
    # which is not where this checkout is: the samples' own directory is
    # where --check finds their modules.
    env = {**os.environ, "PYTHONPATH": str(SAMPLES)}
    return subprocess.run(
        [ANALYZE, "compile", str(trace), *map(str, args), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )


def load(tmp_path, trace, *args, name="compiled"):
    """The emitted module, imported."""
    out = tmp_path / f"{name}_{abs(hash(args))}.py"
    done = compile_trace(trace, *args, "-o", out)
    assert done.returncode == 0, done.stderr
    spec = importlib.util.spec_from_file_location(out.stem, out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, out.read_text()


def node_id(trace, kind, name):
    done = subprocess.run(
        [
            ANALYZE,
            "query",
            f"SELECT min(id) FROM nodes WHERE kind = '{kind}' AND name = '{name}'",
            str(trace),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


def assert_does_real_work(source):
    """The emitted `compiled` computes: it applies operators or reads items
    and attributes itself, rather than calling the program to do it (a
    whole run whose main returned an untraced value compiles to
    `units.main()`, which re-runs the program and proves nothing)."""
    [function] = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "compiled"
    ]
    work = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Subscript, ast.BoolOp)
    assert any(isinstance(node, work) for node in ast.walk(function)), source


# The whole run of each sample, but units': its main returns a value its
# untraced code built, so the run compiles to a call of main; its traced
# functions are compiled one by one instead.
@pytest.mark.parametrize(
    "sample, selection",
    [
        ("addx", None),
        ("seed_graph", None),
        ("kernels", None),
        ("units", "Call speed"),
        ("units", "Call kinetic_energy"),
        ("units", "Call fall_distance"),
    ],
)
def test_each_sample_gives_its_recorded_result(sample, selection, tmp_path):
    trace = SAMPLES / "traces" / f"{sample}.parquet"
    args = [] if selection is None else ["--node", node_id(trace, *selection.split())]
    done = compile_trace(trace, *args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("compiled: ") and done.stdout.rstrip().endswith(
        "(as recorded)"
    ), done.stdout
    _, source = load(tmp_path, trace, *args)
    assert_does_real_work(source)


def test_the_emitted_modules_are_as_ruff_formats_them(tmp_path):
    """ruff's checks (line length, unused imports and names, pyflakes) pass
    and `ruff format` changes nothing, for every sample and a few nodes."""
    outputs = []
    # Under a long directory, as on a CI machine: the trace's path is in the docstring.
    traces = (
        tmp_path
        / "a_directory_name_long_enough_to_push_the_trace_path_past_eighty_eight_characters"
    )
    traces.mkdir()
    for sample, nodes in [
        ("addx", []),
        ("seed_graph", ["Call simple03"]),
        ("kernels", ["Call horner", "Call euler_decay"]),
        ("units", ["Call speed", "Call kinetic_energy", "Call fall_distance"]),
    ]:
        trace = traces / f"{sample}.parquet"
        shutil.copy(SAMPLES / "traces" / f"{sample}.parquet", trace)
        for selection in [None, *nodes]:
            args = [] if selection is None else ["--node", node_id(trace, *selection.split())]
            out = tmp_path / f"{sample}_{len(outputs)}.py"
            done = compile_trace(trace, *args, "-o", out)
            assert done.returncode == 0, done.stderr
            outputs.append(out)
    ruff = [sys.executable, "-m", "ruff"]
    checked = subprocess.run(
        [*ruff, "check", "--isolated", "--select", "E,F,W", "--line-length", "88", *outputs],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [*ruff, "format", "--isolated", "--diff", *outputs], capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_seeds_examples_on_new_inputs(tmp_path):
    import addx

    trace = SAMPLES / "traces" / "addx.parquet"
    add_to, source = load(tmp_path, trace, "--node", node_id(trace, "Dispatch", "add_to"))
    assert "def compiled(y=5, z=2):" in source
    assert add_to.compiled() == 17
    assert add_to.compiled(7, z=1) == addx.AddX(10).add_to(7, z=1) == 18
    plus2, _ = load(tmp_path, trace, "--node", node_id(trace, "Call", "plus2"))
    assert [plus2.compiled(v) for v in (40, -3, 2.5)] == [addx.plus2(v) for v in (40, -3, 2.5)]
    twice, _ = load(tmp_path, trace, "--node", node_id(trace, "Dispatch", "add_twice"))
    assert twice.compiled(10) == addx.AddX2(3).add_twice(10) == 16


def test_the_seeds_generator_program_guards_what_untraced_code_used(tmp_path):
    import seed_graph

    trace = SAMPLES / "traces" / "seed_graph.parquet"
    simple03, source = load(tmp_path, trace, "--node", node_id(trace, "Call", "simple03"))
    assert "def compiled(a=1, x=5):" in source, source
    assert (
        simple03.compiled() == simple03.compiled(1, 5) == seed_graph.simple03(1, 5) == [1, 2, 3, 4]
    )
    # grange(v1, v2) ran range(int(low), int(high)) untraced: the values
    # it was given are part of the path.
    with pytest.raises(hltpy.GuardFailed, match="grange's low was 1 when recorded"):
        simple03.compiled(2, 5)
    with pytest.raises(hltpy.GuardFailed, match="grange's high was 5 when recorded"):
        simple03.compiled(1, 7)


def test_kernels_on_new_inputs_and_the_paths_they_assume(tmp_path):
    import kernels

    trace = SAMPLES / "traces" / "kernels.parquet"
    horner, source = load(tmp_path, trace, "--node", node_id(trace, "Call", "horner"))
    assert horner.compiled([2.0, 0.5, -1.0], 3.0) == kernels.horner([2.0, 0.5, -1.0], 3.0)
    # The loop ran over three coefficients: four take another path.
    with pytest.raises(
        hltpy.GuardFailed, match="kernels.py:7: the recorded run iterated over 3 items"
    ):
        horner.compiled([1.0, 2.0, 3.0, 4.0], 2.0)
    euler, _ = load(tmp_path, trace, "--node", node_id(trace, "Call", "euler_decay"))
    assert euler.compiled(2.0, 0.25, 0.02) == kernels.euler_decay(2.0, 0.25, 0.02, 100)
    # range(steps) is untraced: the step count is part of the path.
    with pytest.raises(hltpy.GuardFailed, match="steps was 100"):
        euler.compiled(steps=5)
    oscillator, _ = load(tmp_path, trace, "--node", node_id(trace, "Call", "oscillator"))
    # Each call starts from a fresh copy of the recorded state.
    assert oscillator.compiled() == oscillator.compiled() == kernels.oscillator([1.0, 0.0], 0.1, 10)
    state = [0.5, 0.5]
    assert oscillator.compiled(state, 0.2) is state
    assert state == kernels.oscillator([0.5, 0.5], 0.2, 10)


def capture_program(tmp_path, name, source, run, options="", imports="math"):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    trace = tmp_path / f"{name}.parquet"
    program = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import hltpy, {imports}
        hltpy.trace_modules([{name!r}])
        import {name}
        with hltpy.capture({str(trace)!r}{options}):
            print(hltpy.from_traced({run}))
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return trace


BRANCHY = """
def scale(x, limit):
    if x > limit:
        return (x - limit) * 2
    return x + limit
"""


def test_a_guard_fires_on_the_other_branch(tmp_path):
    trace = capture_program(tmp_path, "branchy", BRANCHY, "branchy.scale(5, 3)")
    sys.path.insert(0, str(tmp_path))
    import branchy

    module, source = load(tmp_path, trace)
    assert "raise GuardFailed" in source
    assert module.compiled() == 4
    assert module.compiled(9, 1) == branchy.scale(9, 1) == 16
    with pytest.raises(hltpy.GuardFailed, match=r"branchy\.py:3 was True when recorded"):
        module.compiled(1, 3)


COUNTING = """
def grange(low, high):
    for i in range(int(low), int(high)):
        yield i * 2


def run(a, b):
    if a > b:
        return list(grange(b, a))
    return list(grange(a, b))
"""


@pytest.mark.parametrize(
    "options, reason", [("", "grange's high was 4"), (", conversions=True", r"int\(b\) was 4")]
)
def test_a_value_untraced_code_used_is_guarded(tmp_path, options, reason):
    trace = capture_program(
        tmp_path, "counting", COUNTING, "counting.run(hltpy.trace(1), hltpy.trace(4))", options
    )
    module, _ = load(tmp_path, trace)
    assert module.compiled() == module.compiled(1, 4) == [2, 4, 6]
    with pytest.raises(hltpy.GuardFailed, match=reason):
        module.compiled(1, 3)
    with pytest.raises(hltpy.GuardFailed, match="was False when recorded"):
        module.compiled(5, 3)


FILES = """
import os


def readable_size(name, extra):
    if os.access(name, os.R_OK):
        return len(name) + extra
    return extra
"""


def test_a_traced_path_handed_to_c_is_guarded(tmp_path):
    """`os.access(name)` reads the traced name through `__fspath__`: with
    conversions recorded, the path the run took depends on that name."""
    present = tmp_path / "present.txt"
    present.write_text("x")
    run = f"files.readable_size(hltpy.trace({str(present)!r}), hltpy.trace(1))"
    trace = capture_program(tmp_path, "files", FILES, run, ", conversions=True, boundaries=()")
    module, source = load(tmp_path, trace)
    assert "os.fspath(name)" in source
    assert module.compiled() == module.compiled(str(present), 1) == len(str(present)) + 1
    with pytest.raises(hltpy.GuardFailed, match=r"os\.fspath\(name\) was '"):
        module.compiled(str(tmp_path / "absent.txt"), 1)


GEOMETRY = """
import math


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
        self.lib = math


def dist(p, q):
    return p.lib.hypot(p.x - q.x, p.y - q.y)
"""


def test_an_untraced_library_call_is_imported_and_called(tmp_path):
    trace = capture_program(
        tmp_path,
        "geometry",
        GEOMETRY,
        "geometry.dist(geometry.Point(0.0, 0.0), geometry.Point(3.0, 4.0))",
    )
    sys.path.insert(0, str(tmp_path))
    import geometry

    module, source = load(tmp_path, trace)
    assert "import geometry" in source and "def compiled(p=None, q=None):" in source
    assert ".hypot(" in source
    assert module.compiled() == 5.0
    a, b = geometry.Point(1.0, 2.0), geometry.Point(4.0, 6.0)
    assert module.compiled(a, b) == geometry.dist(a, b) == 5.0
    done = compile_trace(trace, check=True)
    assert done.returncode == 0 and "(as recorded)" in done.stdout, done.stdout + done.stderr


NORM = """
import math


def norm(v):
    return math.hypot(v[0], v[1])
"""


def test_a_traced_callable_is_imported_by_its_module(tmp_path):
    trace = capture_program(
        tmp_path, "norms", NORM, "norms.norm([6.0, 8.0])", ", trace_callables=[math.hypot]"
    )
    module, source = load(tmp_path, trace)
    assert "import math" in source and "= math.hypot(" in source, source
    assert module.compiled() == 10.0
    assert module.compiled([5.0, 12.0]) == 13.0


def test_values_traced_at_top_level_are_the_parameters(tmp_path):
    trace = tmp_path / "top.parquet"
    with hltpy.capture(trace):
        x = hltpy.trace(3)
        y = (x - 1) * x
    assert hltpy.from_traced(y) == 6
    module, source = load(tmp_path, trace)
    assert "def compiled(in0=3, in1=1):" in source, source
    assert module.compiled() == 6
    assert module.compiled(10) == 90


SCALED = """
def scaled(x, scale):
    return x * scale.factor
"""


def test_a_value_that_is_not_python_fails_the_compile_naming_it(tmp_path):
    # A SimpleNamespace is no literal, and its class is not traced: the
    # compile cannot rebuild it.
    trace = capture_program(
        tmp_path,
        "scaling",
        SCALED,
        "scaling.scaled(hltpy.trace(5), types.SimpleNamespace(factor=2))",
        imports="types",
    )
    done = compile_trace(trace)
    assert done.returncode == 2
    assert "cannot compile node" in done.stderr and "namespace(factor=2)" in done.stderr
    assert "not a Python literal" in done.stderr and "--allow-constants" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    import types

    module, source = load(tmp_path, trace, "--allow-constants")
    assert "def compiled(x=5, scale=None):" in source, source
    assert module.compiled(7, types.SimpleNamespace(factor=3)) == 21


def test_units_on_new_inputs(tmp_path):
    """Quantities whose units are module globals (METRE, entered as values)
    and Units built from generator expressions."""
    import units

    trace = SAMPLES / "traces" / "units.parquet"
    speed, source = load(tmp_path, trace, "--node", node_id(trace, "Call", "speed"))
    assert (
        "t1 = units.Unit.__new__(units.Unit)" in source and "t1.exponents = (1, 0, 0)" in source
    ), source
    assert repr(speed.compiled()) == "10.438413361169102 m*s^-1"
    new = (units.metres(42.0), units.seconds(4.0))
    assert repr(speed.compiled(*new)) == repr(units.speed(*new)) == "10.5 m*s^-1"
    energy, _ = load(tmp_path, trace, "--node", node_id(trace, "Call", "kinetic_energy"))
    new = (units.kilograms(2.0), units.metres(3.0) / units.seconds(1.0))
    assert repr(energy.compiled(*new)) == repr(units.kinetic_energy(*new)) == "9.0 m^2*s^-2*kg"
    fall, _ = load(tmp_path, trace, "--node", node_id(trace, "Call", "fall_distance"))
    new = (units.metres(1.6) / units.seconds(1.0) ** 2, units.seconds(3.0))
    assert repr(fall.compiled(*new)) == repr(units.fall_distance(*new))
    # The DSL does not check units, and neither does its compiled form.
    assert (
        repr(fall.compiled(units.metres(2.0), units.kilograms(1.0)))
        == repr(units.fall_distance(units.metres(2.0), units.kilograms(1.0)))
        == "1.0 m*kg^2"
    )


REST = """
def total(first, *rest, scale=1, **weights):
    acc = first
    for i in range(len(rest)):
        acc = acc + rest[i] * weights.get("w", 1)
    return acc * scale
"""


def test_star_args_and_kwargs_are_parameters(tmp_path):
    trace = capture_program(
        tmp_path,
        "rest",
        REST,
        "rest.total(hltpy.trace(1), hltpy.trace(2), hltpy.trace(3), scale=hltpy.trace(10), w=hltpy.trace(2))",
    )
    sys.path.insert(0, str(tmp_path))
    import rest

    module, source = load(tmp_path, trace)
    assert "def compiled(first=1, *rest, scale=10, **weights):" in source, source
    assert module.compiled() == rest.total(1, 2, 3, scale=10, w=2) == 110
    assert module.compiled(5, 1, 1, scale=2, w=3) == rest.total(5, 1, 1, scale=2, w=3) == 22
    # Another count of *rest entries or of keywords takes another path.
    with pytest.raises(hltpy.GuardFailed, match="2 extra positional"):
        module.compiled(5, 1, 1, 1, w=3)
    with pytest.raises(hltpy.GuardFailed, match="1 extra keyword"):
        module.compiled(5, 1, 1, w=3, v=4)


def test_a_trace_of_many_batches_compiles_in_row_order(tmp_path):
    """A 40,000-node run (several batches, read by parallel scans in any
    order): compile takes rows in file order, every time (it used to read
    them through the query engine and fail about one run in two with
    "read before it is computed")."""
    source = ROOT / "bench" / "eval_program.py"
    shutil.copy(source, tmp_path / "eval_program.py")
    trace = tmp_path / "mix.parquet"
    program = (
        f"import sys, hltpy\nsys.path.insert(0, {str(tmp_path)!r})\nhltpy.trace_modules(['eval_program'])\n"
        f"import eval_program as m\nwith hltpy.capture({str(trace)!r}):\n"
        "    account = m.Account(hltpy.trace(100), hltpy.trace(0.25))\n"
        "    m.mix(hltpy.trace(0), hltpy.trace(2**80 + 1), hltpy.trace(1.5), account, hltpy.trace(1800))\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True)
    call = node_id(trace, "Call", "mix")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for _ in range(6):
        done = subprocess.run(
            [
                ANALYZE,
                "compile",
                str(trace),
                "--node",
                str(call),
                "--check",
                "--python",
                sys.executable,
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip().endswith("(as recorded)"), done.stdout


SCENE = """
WEIGHT = None


class Vec:
    def __init__(self, x):
        self.x = x

    def plus(self, other):
        return Vec(self.x + other.x)


class Scene:
    def __init__(self):
        self.focus = Vec(0.0)
        self.items = []

    def look_at(self, p):
        self.focus = p

    def add(self, name, v):
        self.items.append((name, v))

    def total(self):
        s = self.focus
        for (name, v) in self.items:
            s = s.plus(v)
        return s.x

    def weighted(self):
        return self.total() * Weight().w


class Weight:
    def __init__(self):
        self.w = WEIGHT.x


def build(k):
    global WEIGHT
    WEIGHT = Vec(k)
    scene = Scene()
    scene.look_at(Vec(k * 2.0))
    scene.add("a", Vec(k + 1.0))
    scene.add("b", Vec(k + 3.0))
    far = Vec(k).plus(Vec(10.0))
    return scene, far


def main(k):
    scene, far = build(k)
    return scene.total() + far.plus(Vec(1.0)).x + scene.weighted()
"""


@pytest.mark.parametrize(
    "call, expected",
    [
        # Reads state that methods outside the cone set (`look_at`, an append
        # in `add`) and takes the second item of each pair.
        ("total", 4 * 1.5 + 4.0),
        # Its arguments are objects the run made (not literals): made in the
        # function the way the run made them.
        ("plus", 1.5 + 10.0 + 1.0),
    ],
)
def test_a_method_call_deep_in_a_run_compiles_and_passes_its_check(
    tmp_path, monkeypatch, call, expected
):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "scene", raising=False)
    trace = capture_program(
        tmp_path, "scene", SCENE, "scene.main(hltpy.trace(1.5))", ", allow_mutation=True"
    )
    node = node_id(trace, "Dispatch", call)
    if call == "plus":  # the third plus: `far.plus(Vec(1.0))`, on a Vec two calls made
        node = int(
            subprocess.run(
                [
                    ANALYZE,
                    "query",
                    "SELECT id FROM nodes WHERE kind = 'Dispatch' AND name = 'plus' ORDER BY id",
                    str(trace),
                    "--format",
                    "csv",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()[4]
        )
    done = compile_trace(trace, "--node", node, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("(as recorded)"), done.stdout
    module, _ = load(tmp_path, trace, "--node", node)
    result = module.compiled()
    assert getattr(result, "x", result) == expected


def test_a_call_reading_a_global_the_run_set_is_refused_naming_it(tmp_path):
    """`Weight()` reads the module global WEIGHT, set by untraced code: the
    compiled module, which calls `Weight()`, would read None there."""
    trace = capture_program(
        tmp_path, "scene", SCENE, "scene.main(hltpy.trace(1.5))", ", allow_mutation=True"
    )
    lines = textwrap.dedent(SCENE).splitlines()
    read, made = (
        lines.index(line) + 1 for line in ["        self.w = WEIGHT.x", "    WEIGHT = Vec(k)"]
    )
    weighted = node_id(trace, "Dispatch", "weighted")
    done = compile_trace(trace, "--node", weighted, check=True)
    assert done.returncode == 2
    assert (
        f"(called, not written out) reads at scene.py:{read} a value the run made at scene.py:{made}"
        in done.stderr
    ), done.stderr


def test_a_class_or_a_long_value_passes_the_check_as_recorded(tmp_path):
    """The check prints a class as the capture records it, and a value the
    capture cut short matches what it starts with."""
    source = "def make(n):\n    return Box(n), [n] * 100\n\n\nclass Box:\n    def __init__(self, n):\n        self.n = n\n"
    trace = capture_program(tmp_path, "boxes", source, "boxes.make(hltpy.trace(7))")
    for kind, name in [("Class", "boxes.Box"), ("Call", "make")]:
        done = compile_trace(trace, "--node", node_id(trace, kind, name), check=True)
        assert done.returncode == 0 and "(as recorded)" in done.stdout, done.stdout + done.stderr


def test_several_nodes_compile_into_one_module_of_functions(tmp_path):
    """Each --node becomes compiled_<id>, and each computes as the program."""
    import addx

    trace = SAMPLES / "traces" / "addx.parquet"
    add_to, plus2 = node_id(trace, "Dispatch", "add_to"), node_id(trace, "Call", "plus2")
    module, source = load(tmp_path, trace, "--node", add_to, "--node", plus2)
    assert f"def compiled_{add_to}(" in source and f"def compiled_{plus2}(" in source, source
    assert getattr(module, f"compiled_{add_to}")(7, z=1) == addx.AddX(10).add_to(7, z=1) == 18
    assert getattr(module, f"compiled_{plus2}")(-3) == addx.plus2(-3)
    assert_does_real_work(source.replace(f"def compiled_{add_to}(", "def compiled("))
