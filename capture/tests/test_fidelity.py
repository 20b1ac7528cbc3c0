"""Nothing of hltpy stays in the user's data, and mutation through traced
values computes exactly what the untraced program computes."""

import json
import pathlib

import hltpy
from conftest import untraced_and_traced

PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent / "programs"

NBODY = """
import json, sys
sys.path.insert(0, {programs!r})
sys.path.insert(0, {tests!r})
import hltpy
from test_classes import reachable_proxies
mode, path = sys.argv[1:3]
if mode == "traced":
    hltpy.trace_modules(["fidelity.nbody"])
from fidelity import nbody
if mode == "traced":
    with hltpy.capture(path, allow_mutation=True):
        result = nbody.main(100)
    leaked = reachable_proxies(nbody)
    assert not leaked, f"proxies left in the program's data: {{leaked[:3]}}"
    result = hltpy.from_traced(result)
else:
    result = nbody.main(100)
# The program's own lists, read by untraced code after the run.
result["system"] = [[[c.hex() for c in r], [c.hex() for c in v], m.hex()] for r, v, m in nbody.SYSTEM]
print(json.dumps(result))
"""


def test_nbody_traced_with_mutation_is_bit_identical(tmp_path, captured):
    code = NBODY.format(programs=str(PROGRAMS_DIR), tests=str(PROGRAMS_DIR.parent))
    path = tmp_path / "nbody.parquet"
    untraced, traced = untraced_and_traced(code, path)
    assert traced == untraced
    # The velocity updates are SetItem nodes; later reads link back to them.
    from conftest import Trace

    trace = Trace(path)
    set_items = {n.id for n in trace.of_kind("SetItem")}
    assert len(set_items) > 1000
    linked = [
        n
        for n in trace.of_kind("GetItem")
        if any(r == "source" and src in set_items for r, _, src in n.inputs)
    ]
    assert len(linked) > 1000
    assert all(trace[n.input("source")].value == n.value for n in linked[:200])


def test_a_traced_init_stores_raw_values_that_untraced_code_reads(captured):
    hltpy.trace_modules(["fidelity.holders"])
    from fidelity import holders

    with captured() as run:
        holder = holders.build(hltpy.trace(5))
        raw = hltpy.from_traced(holder)
    # Untraced code reading the object sees plain values, as untraced.
    assert type(raw.value) is int and raw.value == 10
    assert type(raw.items) is list and [type(i) for i in raw.items] == [int, int]
    assert type(raw.first) is int
    assert json.dumps(vars(raw)) == '{"value": 10, "items": [5, 6], "first": 5}'
    # The traced reads still link to the writes of __init__.
    with captured() as run:
        doubled = holder.value + 1
    assert hltpy.from_traced(doubled) == 11
    assert run.trace.one("GetAttr", "value").value == 10


def test_a_proxy_of_a_list_wraps_the_users_own_list(captured):
    xs = [1, 2, 3]
    assert hltpy.from_traced(hltpy.trace(xs)) is xs
    with captured(allow_mutation=True):
        traced = hltpy.trace(xs)
        traced[0] = traced[1] * 10
        traced.append(4)
    assert xs == [20, 2, 3, 4]
    assert all(type(x) is int for x in xs)


ALIASING = """
import heapq, json, sys
sys.path.insert(0, {programs!r})
import hltpy
mode, path = sys.argv[1:3]
if mode == "traced":
    hltpy.trace_modules(["fidelity.aliasing"])
from fidelity import aliasing
if mode == "traced":
    # heappush insists on a real list: it is traced as a callable, found
    # through heapq, which re-exports _heapq's.
    with hltpy.capture(path, allow_mutation=True, trace_callables=[heapq.heappush]):
        result = hltpy.from_traced(aliasing.main())
else:
    result = aliasing.main()
print(json.dumps(result))
"""


def test_mutation_through_aliases_reaches_the_users_containers(tmp_path):
    code = ALIASING.format(programs=str(PROGRAMS_DIR))
    untraced, traced = untraced_and_traced(code, tmp_path / "a.parquet")
    assert traced == untraced
    assert traced["held"] == [5, 3]


def test_an_untraced_call_that_changes_a_copy_changes_the_users_list(captured):
    import heapq

    with captured(trace_callables=[heapq.heappush]):
        first = hltpy.trace(4)
        heap = [first, 9]  # the program's own list, holding a traced value
        heapq.heappush(heap, 1)
    assert [hltpy.from_traced(v) for v in heap] == [1, 9, 4]


def test_a_stored_list_is_the_callers_own_list_with_raw_values(captured):
    hltpy.trace_modules(["fidelity.holders"])
    from fidelity import holders

    with captured():
        items = [hltpy.trace(1), 2]
        holder = holders.Holder(hltpy.trace(5), items)
    raw = hltpy.from_traced(holder)
    assert raw.items is items
    assert [type(i) for i in items] == [int, int]


def test_a_class_variable_stores_the_users_own_list_with_raw_values(captured):
    hltpy.trace_modules(["fidelity.holders"])
    from fidelity import holders

    with captured():
        items = [hltpy.trace(1), 2]
        holders.Holder.shared = items  # through the traced class's wrapper
    assert holders.Holder.__wrapped__.shared is items
    assert [type(i) for i in items] == [int, int]
