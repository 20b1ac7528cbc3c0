"""Every node kind appears, with the inputs the format promises."""

import hltpy

# kind -> roles every node of that kind must have (FORMAT.md, "Node kinds").
REQUIRED_ROLES = {
    "Const": set(),
    "Deep": {"item"},
    "Function": set(),
    "Class": set(),
    "Obj": {"class"},
    "NewInit": {"class", "object"},
    "SetAttr": {"object", "value"},
    "GetAttr": {"object"},
    "GetItem": {"op1", "op2"},
    "SetItem": {"op1", "op2", "value"},
    "DelItem": {"op1", "op2"},
    "Argument": {"value"},
    "Call": {"callable"},
    "Dispatch": set(),
    "UCall": set(),
    "UDispatch": set(),
    "Iterator": {"iterable"},
    "Iteration": {"iterator"},
    "Generator": {"callable"},
    "Generation": {"generator"},
}
ALLOWED_ROLES = {
    "Deep": {"item"},
    "Obj": {"class"},
    "NewInit": {"class", "object", "arg", "kwarg", "default"},
    "SetAttr": {"object", "value"},
    "GetAttr": {"object", "source"},
    "GetItem": {"op1", "op2", "source"},
    "SetItem": {"op1", "op2", "value"},
    "DelItem": {"op1", "op2"},
    "Argument": {"value"},
    "Call": {"callable", "arg", "kwarg", "default", "return"},
    "Dispatch": {"callable", "self", "arg", "kwarg", "default", "return"},
    "UCall": {"callable", "arg", "kwarg", "source"},
    "UDispatch": {"callable", "self", "arg", "kwarg", "source"},
    "Iterator": {"iterable"},
    "Iteration": {"iterator", "source"},
    "Generator": {"callable", "arg", "kwarg", "default"},
    "Generation": {"generator", "source"},
}


def test_every_kind_appears_with_its_promised_inputs(traced_samples, captured):
    import everything

    with captured(allow_mutation=True) as run:
        total = everything.uses_everything(3)
        box = hltpy.trace({"a": 1})
        box["b"] = total
        del box["a"]
        hltpy.trace(len)(box)
        hltpy.trace((total, 1))
    # norm2 13, items 6, countdown 3, len 3, first 1, inner.k 3, middle[0] 2
    assert hltpy.from_traced(total) == 31
    trace = run.trace
    assert trace.kinds() == set(REQUIRED_ROLES), set(REQUIRED_ROLES) ^ trace.kinds()
    for node in trace.nodes:
        roles = set(node.roles())
        assert REQUIRED_ROLES[node.kind] <= roles, node
        assert roles <= ALLOWED_ROLES.get(node.kind, set()), node
        for _, _, src in node.inputs:
            assert src in trace.by_id, f"{node} refers to a node that is not in the file"
    ids = [n.id for n in trace.nodes]
    assert len(set(ids)) == len(ids)
    assert int(trace.metadata["hltpy.node_count"]) == len(trace.nodes)
    assert trace.metadata["hltpy.closed_cleanly"] == "true"


def test_binding_covers_defaults_varargs_keyword_only_and_kwargs(traced_samples, captured):
    import everything

    with captured() as run:
        result = everything.all_parameters(1, 2, 10, 20, c=3, z=5)
    assert hltpy.from_traced(result) == 1 + 2 + 30 + 3 + 4 + 5
    trace = run.trace
    call = trace.one("Call", "all_parameters")
    arguments = {
        trace[src].name: (role, key)
        for role, key, src in call.inputs
        if role != "callable" and role != "return"
    }
    assert arguments == {
        "a": ("arg", "0"),
        "b": ("arg", "1"),
        "rest[0]": ("arg", "2"),
        "rest[1]": ("arg", "3"),
        "c": ("kwarg", "c"),
        "d": ("default", "d"),
        "extra[z]": ("kwarg", "z"),
    }
    assert trace.one("Argument", "d").value == 4


def test_wrong_arguments_raise_pythons_own_type_error(traced_samples, captured):
    import everything

    with captured():
        try:
            everything.all_parameters(1)
        except TypeError as err:
            message = str(err)
        else:
            raise AssertionError("missing keyword-only argument was accepted")
    assert "c" in message


def test_exception_inside_traced_call_is_recorded_and_reaches_the_caller(traced_samples, captured):
    import everything

    with captured() as run:
        try:
            everything.fails(hltpy.trace(1))
        except ZeroDivisionError:
            pass
    call = run.trace.one("Call", "fails")
    assert call.type == "ZeroDivisionError"
    assert call.value.startswith("raised ZeroDivisionError")


def test_static_class_methods_inheritance_and_nested_classes(traced_samples, captured):
    import everything

    with captured() as run:
        origin = everything.Point.origin()
        diagonal = everything.Point.diagonal(4)
        derived = everything.Derived(5, 1)
        total = derived.total()
    assert hltpy.from_traced(origin.x) == 0
    assert hltpy.from_traced(diagonal.norm2()) == 32
    assert hltpy.from_traced(total) == 11
    trace = run.trace
    assert trace.one("Call", "origin")
    assert trace.one("Call", "diagonal")
    twice = trace.one("Dispatch", "twice")
    assert twice.frame == trace.one("Dispatch", "total").id
    # super().__init__ is a Dispatch on the traced self, inside the NewInit;
    # the base's SetAttr is recorded in its frame, on the same object.
    new_init = trace.one("NewInit", "everything.Derived")
    base_init = trace.one("Dispatch", "__init__")
    assert base_init.frame == new_init.id
    assert base_init.input("self") == new_init.input("object")
    assert [r for r in base_init.roles() if r != "self"] == ["arg"]
    set_v = trace.one("SetAttr", "v")
    assert set_v.frame == base_init.id
    assert set_v.input("object") == new_init.input("object")
