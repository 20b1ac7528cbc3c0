"""The Python API: trace/from_traced/is_traced, traced classes seen by
isinstance, the immutable style and opting in to mutation, data flow
through attributes and items, and capture's own contract."""

import math
import weakref

import hltpy
import pytest


def test_trace_and_from_traced_round_trip_and_conversions_are_raw(captured):
    with captured():
        x = hltpy.trace(2.5)
        assert hltpy.is_traced(x) and not hltpy.is_traced(2.5)
        assert hltpy.trace(x) is x
        assert float(x) == 2.5 and int(x) == 2 and bool(x) is True
        assert str(x) == "2.5" and repr(x) == "2.5" and f"{x:.2f}" == "2.50"
        assert isinstance(x, float)
        assert math.floor(x) == 2 and round(x) == 2
        assert hltpy.from_traced([x, {"k": (x,)}]) == [2.5, {"k": (2.5,)}]
        i = hltpy.trace(5)
        assert [0, 1, 2, 3, 4, 5][i] == 5  # __index__
        assert hash(i) == hash(5)
        assert divmod(i, 2) == (2, 1) and pow(i, 2) == 25 and pow(i, 2, 3) == 1
        assert (-i, +i, abs(-i), ~i) == (-5, 5, 5, -6)
        assert (i << 1, i >> 1, i & 4, i | 2, i ^ 1) == (10, 2, 4, 7, 4)
        assert (i < 6, i <= 5, i == 5, i != 5, i > 4, i >= 6) == (
            True,
            True,
            True,
            False,
            True,
            False,
        )
        assert 3 in hltpy.trace([1, 2, 3]) and len(hltpy.trace("abc")) == 3


def test_every_operator_records_its_dunder(captured):
    with captured() as run:
        i = hltpy.trace(6)
        _ = [i + 1, 1 + i, i - 1, 1 - i, i * 2, 2 * i, i / 4, 4 / i, i // 4, 40 // i, i % 4, 40 % i]
        _ = [i**2, 2**i, i << 1, 1 << i, i >> 1, 64 >> i, i & 3, 3 & i, i | 1, 1 | i, i ^ 1, 1 ^ i]
        _ = [divmod(i, 4), divmod(40, i), -i, +i, abs(i), ~i, i < 1, i == 6]
    names = {n.name for n in run.trace.of_kind("UDispatch")}
    for op in [
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "lshift",
        "rshift",
        "and",
        "or",
        "xor",
        "divmod",
    ]:
        assert f"__{op}__" in names and f"__r{op}__" in names, op
    assert {"__neg__", "__pos__", "__abs__", "__invert__", "__lt__", "__eq__"} <= names


def test_matmul_is_traced(captured):
    class Matrix:
        def __init__(self, v):
            self.v = v

        def __matmul__(self, other):
            return Matrix(self.v * other.v)

        def __rmatmul__(self, other):
            return Matrix(other.v * self.v + 1)

    class Plain:
        v = 2

    with captured() as run:
        product = hltpy.trace(Matrix(2)) @ Matrix(3)
        reflected = Plain() @ hltpy.trace(Matrix(3))
    assert product.v == 6 and reflected.v == 7
    assert {n.name for n in run.trace.of_kind("UDispatch")} >= {"__matmul__", "__rmatmul__"}


def test_traced_class_answers_isinstance_issubclass_and_can_be_subclassed(traced_samples, captured):
    import everything

    with captured():
        p = everything.Point(1, 2)
        assert isinstance(p, everything.Point)
        assert isinstance(p, everything.Point.__wrapped__)
        assert not isinstance(3, everything.Point)
        assert issubclass(everything.Derived, everything.Base)
        assert not issubclass(everything.Base, everything.Derived)

        class Local(everything.Base):
            pass

        assert issubclass(Local, everything.Base)
        assert everything.Point.__name__ == "Point"
        assert everything.all_parameters.__name__ == "all_parameters"
        assert "traced class everything.Point" in repr(everything.Point)


def test_setattr_outside_init_is_refused_with_class_and_attribute(traced_samples, captured):
    import everything

    with captured():
        p = everything.Point(1, 2)
        with pytest.raises(AttributeError) as err:
            p.x = 5
        assert "'x'" in str(err.value) and "everything.Point" in str(err.value)
        assert "allow_mutation=True" in str(err.value)
        assert hltpy.from_traced(p.x) == 1
        with pytest.raises(AttributeError):
            hltpy.trace([1])[0] = 2


def test_helpers_inside_init_fill_the_objects_containers_then_it_is_immutable(captured):
    hltpy.trace_modules(["building"])
    import building

    with captured() as run:
        coeffs, table, first = building.build(hltpy.trace(12.0))
        series = building.Series(2, hltpy.trace(1.0))
        with pytest.raises(AttributeError) as err:
            series.coeffs[0] = 5.0
        assert "assign an item of a traced list object outside its __init__" in str(err.value)
        # A container the object does not hold stays immutable inside __init__.
        with pytest.raises(AttributeError):
            building.Borrower(hltpy.trace(["a", "b"]))
    assert hltpy.from_traced((coeffs, table, first)) == building.build.__wrapped__(12.0)
    trace = run.trace
    writes = trace.of_kind("SetItem")
    # Per Series built: one write per coefficient, 4 table cells, 1 index entry;
    # each write is in a helper's frame (a Dispatch of _fill / _tabulate).
    assert len(writes) == 9 + 7
    assert {trace[w.frame].name for w in writes} == {"_fill", "_tabulate"}
    assert len(trace.of_kind("DelItem")) == 2


def test_mutation_opt_in_traces_setattr_setitem_and_links_reads(traced_samples, captured):
    import kernels

    with captured(allow_mutation=True) as run:
        state = kernels.oscillator([1.0, 0.0], 0.1, 2)
    assert hltpy.from_traced(state) == kernels.oscillator.__wrapped__([1.0, 0.0], 0.1, 2)
    trace = run.trace
    writes = trace.of_kind("SetItem")
    assert len(writes) == 4
    # Each read of state[1] after the first write links to the latest write.
    linked = [n for n in trace.of_kind("GetItem") if "source" in n.roles()]
    assert linked
    for read in linked:
        writer = trace[read.input("source")]
        assert writer.kind == "SetItem" and writer.id < read.id


def test_untraced_callables_get_raw_arguments_and_give_ucall_nodes(captured):
    seen = []

    def spy(*args, **kwargs):
        seen.append((args, kwargs))
        return sum(args)

    with captured() as run:
        x = hltpy.trace(2)
        total = hltpy.trace(spy)(x, [x, 1][0], k=(x,))
        method = hltpy.trace([3, 1, 2]).index(x)
    assert seen == [((2, 2), {"k": (2,)})]
    assert all(not hltpy.is_traced(a) for a in seen[0][0])
    assert hltpy.from_traced(total) == 4 and hltpy.from_traced(method) == 2
    ucall = run.trace.one("UCall", "spy")
    assert ucall.roles() == ["callable", "arg", "arg", "kwarg"]
    assert run.trace[ucall.input("kwarg", "k")].kind == "Deep"
    assert run.trace.one("UDispatch", "index")


def test_values_outside_a_capture_still_compute(captured):
    x = hltpy.trace(4)
    assert hltpy.from_traced(x * 2) == 8
    with captured() as run:
        y = x + 1  # an older proxy enters this capture as a Const
    assert hltpy.from_traced(y) == 5
    assert [n.kind for n in run.trace.nodes] == ["Const", "Const", "UDispatch"]
    assert run.trace.nodes[0].value == 4


def test_node_id_names_the_node_in_the_file(captured):
    with captured() as run:
        x = hltpy.trace(7) * 3
        node = hltpy.node_id(x)
    assert run.trace[node].name == "__mul__" and run.trace[node].value == 21
    assert hltpy.node_id(5) is None


def test_streaming_flushes_batches_and_the_file_holds_every_node(captured):
    import pyarrow.parquet as pq

    with captured(flush_every=100) as run:
        x = hltpy.trace(0)
        for _ in range(1000):
            x = x + 1
    assert hltpy.from_traced(x) == 1000
    # The traced 0, one Const for the loop's `1` (same line, same call),
    # and 1000 adds.
    assert len(run.trace.nodes) == 1002 == run.capture.nodes
    assert pq.ParquetFile(run.path).metadata.num_rows == 1002
    one = run.trace.of_kind("Const")[1]
    assert one.value == 1
    assert all(n.input("arg", "0") == one.id for n in run.trace.of_kind("UDispatch"))


def test_a_number_in_a_traced_function_is_one_const_in_every_call(traced_samples, captured):
    import addx

    with captured() as run:
        results = [addx.plus2(hltpy.trace(v)) for v in (1, 2, 3)]
    assert [hltpy.from_traced(r) for r in results] == [3, 4, 5]
    calls = run.trace.of_kind("Call", "plus2")
    adds = run.trace.of_kind("UDispatch", "__add__")
    assert len(calls) == len(adds) == 3
    # `v + 2` in each call reads the one Const 2, made in the first call.
    two = {add.input("arg", "0") for add in adds}
    assert len(two) == 1
    const = run.trace[two.pop()]
    assert (const.kind, const.value, const.frame) == ("Const", 2, calls[0].id)
    assert [add.frame for add in adds] == [call.id for call in calls]


def test_a_calls_result_reuses_the_bodys_proxy_only_when_nothing_else_sees_it(captured):
    hltpy.trace_modules(["returns"])
    import returns

    with captured() as run:
        plain = returns.scaled(hltpy.trace(3))
        kept = returns.scaled_and_kept(hltpy.trace(4))
        watched = returns.scaled_and_watched(hltpy.trace(5))
        results = [hltpy.node_id(r) for r in (plain, kept, watched)]
        kept_inside = hltpy.node_id(returns.KEPT[-1])
        watched_inside = returns.WATCHERS[-1]()
    assert [hltpy.from_traced(r) for r in (plain, kept, watched)] == [7, 9, 11]
    # Each result stands for its call, whichever proxy it is.
    assert results == [call.id for call in run.trace.of_kind("Call")]
    # The proxy the body kept in a list is not the result, and still
    # stands for the addition that made it.
    assert returns.KEPT[-1] is not kept
    assert (run.trace[kept_inside].kind, run.trace[kept_inside].name) == ("UDispatch", "__add__")
    # The one a weak reference watched was not taken over: it died with
    # the call, as before.
    assert watched_inside is None


def test_two_numbers_on_one_line_are_two_consts_however_often_it_runs(captured):
    with captured() as run:
        x = hltpy.trace(5)
        for _ in range(4):
            y = x * 2 + 1
    assert hltpy.from_traced(y) == 11
    # The traced 5, then one Const per number: the 2 and the 1 share a line
    # and an operand position, but not an instruction.
    assert sorted(c.value for c in run.trace.of_kind("Const")) == [1, 2, 5]
    assert len(run.trace.nodes) == 3 + 8


def test_the_proxy_type_cannot_be_subclassed():
    # The hot paths recognise a proxy by its exact type (flow.rs): a
    # subclass of Traced would not be seen as one.
    with pytest.raises(TypeError):

        class Sub(hltpy.Traced):
            pass


def _lines_of(function, marker):
    """Line numbers of the source lines of `function` that end with `marker`."""
    import inspect

    source, first = inspect.getsourcelines(function)
    return [first + i for i, line in enumerate(source) if line.rstrip().endswith(marker)]


def test_locations_come_from_the_running_frame_in_generators_recursion_and_comprehensions(captured):
    import sys

    # On the CPython versions whose frame layout capture knows, locations
    # are read from the interpreter's frame (no frame object made per
    # call): the layout check at import passed.
    if sys.version_info[:2] in ((3, 11), (3, 12), (3, 13)):
        assert hltpy._hltpy._fast_locations()

    def scaled(x):
        for k in range(3):
            yield x * (k + 2)  # mul

    def deeper(x, n):
        if n == 0:
            return x
        return deeper(x + 1, n - 1)  # add

    def program(x):
        ys = [y - 1 for y in scaled(x)]  # sub
        return deeper(ys[0], 4), [y // 2 for y in ys]  # div

    with captured() as run:
        top, halves = program(hltpy.trace(10))
    assert (hltpy.from_traced(top), hltpy.from_traced(halves)) == (23, [9, 14, 19])
    expected = {
        "__mul__": _lines_of(scaled, "# mul"),
        "__add__": _lines_of(deeper, "# add"),
        "__sub__": _lines_of(program, "# sub"),
        "__floordiv__": _lines_of(program, "# div"),
    }
    counts = {"__mul__": 3, "__add__": 4, "__sub__": 3, "__floordiv__": 3}
    for name, lines in expected.items():
        nodes = run.trace.of_kind("UDispatch", name)
        assert len(nodes) == counts[name], name
        assert {(n.file, n.line) for n in nodes} == {(__file__, lines[0])}, name


def test_a_huge_flush_every_buffers_as_rows_come(captured):
    # It used to reserve room for all those rows up front: the process
    # was killed asking for 100 GB.
    with captured(flush_every=10**12) as run:
        x = hltpy.trace(1.5)
        for _ in range(50):
            x = x * 2
    assert hltpy.from_traced(x) == 1.5 * 2**50
    assert len(run.trace.nodes) == 52


def test_capture_refuses_a_second_capture_and_bad_options(tmp_path):
    with hltpy.capture(tmp_path / "a.parquet"):
        with pytest.raises(RuntimeError, match="already running"):
            hltpy.capture(tmp_path / "b.parquet").start()
    with pytest.raises(ValueError, match="flush_every"):
        hltpy.capture(tmp_path / "c.parquet", flush_every=0).start()
    assert not (tmp_path / "c.parquet.partial").exists()
    assert not (tmp_path / "c.parquet").exists()


def test_proxies_are_garbage_collected(captured):
    class Node:
        def __init__(self):
            self.me = None

    with captured(allow_mutation=True):
        obj = Node()
        ref = weakref.ref(obj)
        traced = hltpy.trace(obj)
        traced.me = traced  # a cycle through a proxy stored in the object
        proxy_ref = weakref.ref(traced)
        del obj, traced
    import gc

    gc.collect()
    assert ref() is None and proxy_ref() is None


def test_freed_proxies_release_what_they_held_and_their_memory_serves_other_values(
    traced_samples, captured
):
    import sys

    import units

    # Proxies are made and freed by hltpy itself (a free list of their
    # memory, its own tp_dealloc), not pyo3: the layout check passed.
    assert hltpy._hltpy._fast_proxies()
    big = 10**40
    before = sys.getrefcount(big)
    fired = []
    with captured():
        # More proxies than the free list keeps: some memory goes back to Python.
        proxies = [hltpy.trace(big) for _ in range(3000)]
        assert sys.getrefcount(big) == before + 3000
        watchers = [weakref.ref(p, fired.append) for p in proxies[:5]]
        del proxies
        assert sys.getrefcount(big) == before
        assert len(fired) == 5 and all(w() is None for w in watchers)

        # A value with identity has one proxy while it lives. Freed, its
        # memory is reused for other values' proxies; tracing the value again
        # must not hand one of those out.
        class Box:
            def __init__(self, v):
                self.v = v

        box = Box(2.0)
        first = hltpy.trace(box)
        assert hltpy.trace(box) is first
        del first
        others = [hltpy.trace(Box(float(i))) for i in range(50)]
        again = hltpy.trace(box)
        assert hltpy.from_traced(again) is box
        assert hltpy.from_traced(again.v) == 2.0
        assert [hltpy.from_traced(o.v) for o in others[:3]] == [0.0, 1.0, 2.0]

        # A traced method read from a proxy holds its function, receiver and
        # name; they are given back when it is freed.
        meter = units.Quantity(2.0, units.Unit({"m": 1}))
        meter.__add__  # noqa: B018 (the first read may cache the name)
        held = sys.getrefcount(meter), sys.getrefcount("__add__")
        methods = [meter.__add__ for _ in range(10)]
        assert sys.getrefcount(meter) == held[0] + 10
        del methods
        assert (sys.getrefcount(meter), sys.getrefcount("__add__")) == held
        total = meter + meter
    assert hltpy.from_traced(total.value) == 4.0


def test_a_class_hltpy_cannot_trace_is_left_untraced_with_a_clear_warning(captured):
    with pytest.warns(UserWarning) as caught:
        hltpy.trace_modules(["untraceable"])
    # Once, naming the class and the reason; builtin bases are traced.
    assert [str(w.message) for w in caught] == [
        "hltpy: class untraceable.Mode is left untraced: its metaclass EnumType decides what calling the class gives"
    ]
    import untraceable

    assert isinstance(untraceable.Fine, hltpy.TracedClass)
    assert isinstance(untraceable.Registry, hltpy.TracedClass)
    assert not isinstance(untraceable.Mode, hltpy.TracedClass)
    assert not isinstance(untraceable.Failure, hltpy.TracedClass)  # exceptions: silently
    assert "untraceable" in hltpy.traced_modules()
    with captured() as run:
        registry = untraceable.Registry()
        registry.register("a", untraceable.Fine(1))
        mode = untraceable.Mode(2)
    assert mode is untraceable.Mode.SAFE
    assert hltpy.from_traced(registry["a"].v) == 1
    # The dict stores the raw object; the call is one UDispatch on the registry.
    assert type(dict.__getitem__(hltpy.from_traced(registry), "a")) is untraceable.Fine.__wrapped__
    assert [n.kind for n in run.trace.nodes if n.kind in ("NewInit", "Obj")] == [
        "Obj",
        "NewInit",
        "Obj",
        "NewInit",
    ]
    made = run.trace.one("NewInit", "untraceable.Registry")
    assert run.trace.one("UDispatch", "register").input("self") == made.id


def test_the_version_has_one_source_the_crate():
    import importlib.metadata
    import pathlib
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[2]
    crate = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    assert hltpy.__version__ == crate
    assert importlib.metadata.version("hltpy") == crate
    assert (
        "version"
        in tomllib.loads((root / "capture" / "pyproject.toml").read_text())["project"]["dynamic"]
    )
