"""The seed's behaviours, asserted on values and on the nodes written."""

import hltpy


def test_addx_add_to_gives_17_and_a_dispatch_with_bound_arguments(traced_samples, captured):
    import addx

    with captured() as run:
        obj = addx.AddX(10)
        result = obj.add_to(5, z=2)
    assert hltpy.from_traced(result) == 17
    trace = run.trace

    dispatch = trace.one("Dispatch", "add_to")
    assert dispatch.value == 17
    getattr_node = trace[dispatch.input("callable")]
    assert (getattr_node.kind, getattr_node.name) == ("GetAttr", "add_to")
    new_init = trace[getattr_node.input("object")]
    assert (new_init.kind, new_init.name) == ("NewInit", "addx.AddX")
    assert trace[new_init.input("class")].kind == "Class"
    obj_node = trace[new_init.input("object")]
    assert obj_node.kind == "Obj" and obj_node.input("class") == new_init.input("class")

    y = trace[dispatch.input("arg", "0")]
    z = trace[dispatch.input("kwarg", "z")]
    assert (y.kind, y.name, y.value) == ("Argument", "y", 5)
    assert (z.kind, z.name, z.value) == ("Argument", "z", 2)
    assert trace[y.input("value")].kind == "Const"

    # x is read back through the SetAttr that __init__ made.
    read_x = [n for n in trace.of_kind("GetAttr", "x") if n.frame == dispatch.id]
    assert len(read_x) == 1
    set_x = trace[read_x[0].input("source")]
    assert (set_x.kind, set_x.name, set_x.value) == ("SetAttr", "x", 10)
    assert set_x.frame == new_init.id

    # Rows are in completion order: every input is written before its user.
    position = {n.id: i for i, n in enumerate(trace.nodes)}
    for node in trace.nodes:
        for _, _, src in node.inputs:
            assert position[src] < position[node.id], (node, src)
    # A call's id is taken when it starts: smaller than its body's nodes.
    body = [n for n in trace.nodes if n.frame == dispatch.id]
    assert body and all(n.id > dispatch.id for n in body)


def test_addx2_traces_nested_method_calls(traced_samples, captured):
    import addx

    with captured() as run:
        result = addx.AddX2(3).add_twice(1)
    assert hltpy.from_traced(result) == 7
    trace = run.trace
    outer = trace.one("Dispatch", "add_twice")
    inner_calls = trace.of_kind("Dispatch", "add_to")
    assert len(inner_calls) == 2
    assert all(c.frame == outer.id for c in inner_calls)
    # The second add_to takes the first one's result as its argument.
    first, second = sorted(inner_calls, key=lambda c: c.id)
    argument = trace[second.input("arg", "0")]
    assert argument.input("value") == first.id
    assert trace.one("NewInit", "addx.AddX2").value is not None


def test_plus2_is_a_call_with_an_add_inside(traced_samples, captured):
    import addx

    with captured() as run:
        result = addx.plus2(hltpy.trace(40))
    assert hltpy.from_traced(result) == 42
    trace = run.trace
    call = trace.one("Call", "plus2")
    function = trace[call.input("callable")]
    assert (function.kind, function.name) == ("Function", "addx.plus2")
    add = trace.one("UDispatch", "__add__")
    assert add.frame == call.id
    assert call.input("return") == add.id
    assert trace[add.input("arg", "0")].value == 2
    v = trace[add.input("self")]
    assert (v.kind, v.name) == ("Argument", "v")


def test_operator_on_plain_values_is_one_udispatch(captured):
    with captured() as run:
        x = hltpy.trace(3)
        y = x + 1
        z = 10 - y
    assert hltpy.from_traced(z) == 6
    trace = run.trace
    assert [n.kind for n in trace.nodes] == ["Const", "Const", "UDispatch", "Const", "UDispatch"]
    add = trace.one("UDispatch", "__add__")
    assert add.roles() == ["self", "arg"]
    rsub = trace.one("UDispatch", "__rsub__")
    assert rsub.input("self") == add.id and trace[rsub.input("arg")].value == 10
    assert add.line == rsub.line - 1
    assert add.file.endswith("test_seed.py")


def test_deep_tuple_dict_and_frozenset(captured):
    with captured() as run:
        a = hltpy.trace(1)
        pair = hltpy.trace((a, 2))
        mapping = hltpy.trace({"k": a})
        frozen = hltpy.trace(frozenset([a]))
    assert hltpy.from_traced(pair) == (1, 2)
    assert hltpy.from_traced(mapping) == {"k": 1}
    assert hltpy.from_traced(frozen) == frozenset([1])
    trace = run.trace
    deeps = trace.of_kind("Deep")
    assert [d.type for d in deeps] == ["tuple", "dict", "frozenset"]
    tuple_node, dict_node, set_node = deeps
    const_a = trace.of_kind("Const")[0]
    assert tuple_node.input("item", "0") == const_a.id
    assert trace[tuple_node.input("item", "1")].value == 2
    assert dict_node.input("item", "'k'") == const_a.id
    assert set_node.input("item", "0") == const_a.id


def test_slices_are_traced(captured):
    with captured() as run:
        values = hltpy.trace([10, 20, 30, 40, 50])
        low = hltpy.trace(1)
        plain = values[1:-1]
        traced = values[low:4:2]
    assert hltpy.from_traced(plain) == [20, 30, 40]
    assert hltpy.from_traced(traced) == [20, 40]
    trace = run.trace
    plain_get, traced_get = trace.of_kind("GetItem")
    assert trace[plain_get.input("op2")].value == "slice(1, -1, None)"
    key = trace[traced_get.input("op2")]
    assert (key.kind, key.type) == ("Deep", "slice")
    assert key.input("item", "start") == trace.of_kind("Const")[1].id
    assert trace[key.input("item", "stop")].value == 4


def test_iteration_and_generators_as_in_the_seed_graph(traced_samples, captured):
    import seed_graph

    with captured() as run:
        result = seed_graph.simple03(1, 5)
    assert hltpy.from_traced(result) == [1, 2, 3, 4]
    trace = run.trace
    generator = trace.one("Generator", "grange")
    generations = trace.of_kind("Generation")
    assert [g.input("generator", str(i)) for i, g in enumerate(generations)] == [generator.id] * 4
    assert [g.value for g in generations] == [1, 2, 3, 4]
    # The generator body's trace(i) runs inside each Generation.
    for generation in generations:
        assert trace[generation.input("source")].frame == generation.id
    items_calls = trace.of_kind("UDispatch", "items")
    # d2.items() runs once per key of d1 in the nested comprehension.
    assert len(items_calls) == 3
    assert all(trace[c.input("callable")].kind == "GetAttr" for c in items_calls)
    assert trace.of_kind("Iterator") and trace.of_kind("Iteration")
    unpack = trace.one("GetItem")
    assert trace[unpack.input("op1")].kind == "Deep"
    low = trace[generator.input("arg", "0")]
    assert (low.kind, low.name) == ("Argument", "low")
