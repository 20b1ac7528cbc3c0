"""Class-heavy programs behave exactly as untraced: explicit base-class
calls, both forms of super, identity, class variables, objects made outside
the capture; and the class-heavy suite gives equal results traced."""

import gc
import pathlib
import types

import hltpy
import pytest
from classy import PROGRAMS
from conftest import untraced_and_traced

PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent / "programs"


@pytest.fixture(scope="module")
def hierarchy():
    hltpy.trace_modules(["hierarchy"])
    import hierarchy

    return hierarchy


def set_attrs(trace, new_init):
    """(name, value, object) of the SetAttr nodes on the NewInit's object."""
    obj = new_init.input("object")
    return [
        (n.name, n.value, n.input("object"))
        for n in trace.of_kind("SetAttr")
        if n.input("object") == obj
    ]


def test_base_init_called_explicitly_sets_the_same_attributes_as_direct_code(hierarchy, captured):
    with captured() as run:
        explicit, direct = hierarchy.explicit_and_direct(3, "b")
        assert (explicit.a, explicit.b) == (3, "b")
    trace = run.trace
    explicit_init = trace.one("NewInit", "hierarchy.Explicit")
    direct_init = trace.one("NewInit", "hierarchy.Direct")
    explicit_sets = set_attrs(trace, explicit_init)
    direct_sets = set_attrs(trace, direct_init)
    assert [(name, value) for name, value, _ in explicit_sets] == [("a", 3), ("b", "b")]
    assert [(name, value) for name, value, _ in direct_sets] == [("a", 3), ("b", "b")]
    # Base.__init__(self, a, b) is a Dispatch on the traced self, with an
    # Argument node per parameter after self, inside Explicit's NewInit.
    base_init = trace.one("Dispatch", "__init__")
    assert base_init.frame == explicit_init.id
    assert base_init.input("self") == explicit_init.input("object")
    arguments = [trace[src] for role, _, src in base_init.inputs if role == "arg"]
    assert [(a.kind, a.name, a.value) for a in arguments] == [
        ("Argument", "a", 3),
        ("Argument", "b", "b"),
    ]
    assert {
        trace[n.id].frame
        for n in trace.of_kind("SetAttr")
        if n.name in "ab" and n.input("object") == explicit_init.input("object")
    } == {base_init.id}


def test_the_same_object_reached_two_ways_is_the_same(hierarchy, captured):
    untraced = hierarchy.identities.__wrapped__(1)
    assert all(untraced.values()), untraced
    with captured() as run:
        traced = hltpy.from_traced(hierarchy.identities(1))
    assert traced == untraced
    # Each read is still its own node: `second.next` read three times.
    reads = [n for n in run.trace.of_kind("GetAttr", "next")]
    assert len(reads) >= 3


def test_class_attributes_are_the_users_own(hierarchy, captured):
    # Class variables live in the user's class, set through the wrapper.
    made_before = hierarchy.Base.made
    with captured() as run:
        traced = hltpy.from_traced(hierarchy.class_attributes(5))
    assert traced["base_eq"] is True
    assert traced["base_repr"] == "<Base 5>"
    assert traced["explicit"] == "Explicit/Base(5)"
    assert traced["old_style"] == "OldStyle/Base(5)"
    assert traced["diamond"] == ["root", "right", "left", "bottom"]
    assert traced["made"] == made_before + 4
    assert hierarchy.Base.made == made_before + 4
    assert type(hierarchy.Base.__dict__["made"]) is int
    assert hierarchy.Base.__name__ == "Base"
    assert hierarchy.Base.__wrapped__.__name__ == "Base"
    trace = run.trace
    # super(OldStyle, self).describe() and Base.describe(self) are traced.
    describes = trace.of_kind("Dispatch", "describe")
    assert len(describes) == 4


def test_dataclasses_and_sentinel_defaults_behave_as_untraced(hierarchy, captured):
    untraced = hierarchy.records.__wrapped__(3)
    with captured() as run:
        traced = hltpy.from_traced(hierarchy.records(3))
    assert traced == untraced
    assert traced["repr"] == "Sample(x=3, y=4, tags=[])"
    # The frozen dataclass's __init__ ran on the raw object: no SetAttr,
    # but its NewInit links the argument.
    frozen = run.trace.of_kind("NewInit", "hierarchy.Frozen")
    assert frozen and all("arg" in n.roles() for n in frozen)
    assert {n.name for n in run.trace.of_kind("SetAttr")} == {"x", "y", "tags"}


def test_an_object_made_at_import_runs_its_methods_raw_and_keeps_raw_values(hierarchy, captured):
    log = hierarchy.LOG
    before = len(log.entries)
    with captured() as run:
        count = hierarchy.use_the_log(hltpy.trace(21))
    assert hltpy.from_traced(count) == before + 1
    assert log.entries[-1] == 42 and type(log.entries[-1]) is int
    # One UDispatch for the call that got a traced value; its body is not traced.
    add = run.trace.one("UDispatch", "add")
    assert add.value == before + 1
    assert not run.trace.of_kind("GetAttr", "entries")


def reachable_proxies(module):
    """hltpy proxies reachable from the module's data (its globals, class
    variables and everything they hold), by a walk over gc referents."""
    seen, found = set(), []
    stack = []
    for value in vars(module).values():
        if isinstance(value, hltpy.TracedClass):
            value = value.__wrapped__
        if isinstance(value, type):
            stack.extend(v for v in vars(value).values() if not callable(v))
        elif not isinstance(value, (types.ModuleType, types.FunctionType, hltpy.TracedFunction)):
            stack.append(value)
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, hltpy.Traced):
            found.append(value)
            continue
        if isinstance(value, (type, types.ModuleType, types.FunctionType, types.CodeType)):
            continue
        stack.extend(gc.get_referents(value))
    return found


RUN = """
import json, sys
sys.path.insert(0, {programs!r})
sys.path.insert(0, {tests!r})
import hltpy
from test_classes import reachable_proxies
mode, name, path = sys.argv[1:4]
if mode == "traced":
    hltpy.trace_modules(["classy." + name])
import importlib
program = importlib.import_module("classy." + name)
if mode == "traced":
    with hltpy.capture(path, allow_mutation=True) as run:
        result = program.main()
    leaked = reachable_proxies(program)
    assert not leaked, f"proxies left in the program's data: {{leaked[:3]}}"
    result = hltpy.from_traced(result)
    nodes = run.nodes
else:
    result = program.main()
    nodes = 0
print(json.dumps({{"result": result, "nodes": nodes}}, sort_keys=True))
"""


@pytest.mark.parametrize("name", PROGRAMS)
def test_class_heavy_program_gives_exactly_the_untraced_result(name, tmp_path):
    code = RUN.format(programs=str(PROGRAMS_DIR), tests=str(PROGRAMS_DIR.parent))
    untraced, traced = untraced_and_traced(code, name, tmp_path / f"{name}.parquet")
    assert traced["result"] == untraced["result"]
    assert traced["nodes"] > 1000


def test_new_called_on_a_traced_class_makes_an_object_of_the_original_class(hierarchy, captured):
    # `Cls.__new__(Cls)` (the seed's new_init, pickle's and copy's idiom,
    # and what `hltpy-analyze compile` writes) gets the wrapper as `cls`.
    base = hierarchy.Base
    made = base.__new__(base)
    assert type(made) is base.__wrapped__ and isinstance(made, base)
    made.__dict__["value"] = 2
    assert made.value == 2
    with captured():
        inside = base.__new__(base)
    assert type(inside) is base.__wrapped__
    with pytest.raises(TypeError):
        base.__new__(3)
