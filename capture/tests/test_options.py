"""What is recorded (values, locations, conversions, chosen untraced
callables) and processing nodes during tracing (on_node)."""

import math
import sys
import traceback

import hltpy
import pyarrow.parquet as pq
import pytest


def every_cell_and_metadata(path):
    table = pq.read_table(path)
    cells = [str(v) for column in table.columns for v in column.to_pylist()]
    metadata = [v.decode() for v in pq.read_metadata(path).metadata.values()]
    return "\n".join(cells + metadata)


def test_values_types_keeps_no_user_data_in_any_column(traced_samples, captured, monkeypatch):
    import everything

    monkeypatch.setattr(sys, "argv", ["prog.py", "--password=ARGSECRET"])
    with captured(values="types", allow_mutation=True) as run:
        secret = hltpy.trace({"KEYSECRET": 424242, "other": "TEXTSECRET"})
        total = secret["KEYSECRET"] + 1.5
        point = everything.Point(hltpy.trace(777001), 2.71828)
        point.norm2()
        secret["new"] = "SETSECRET"
        try:
            secret["MISSINGSECRET"]
        except KeyError:
            pass
    assert hltpy.from_traced(total) == 424243.5
    text = every_cell_and_metadata(run.path)
    for sentinel in [
        "424242",
        "TEXTSECRET",
        "KEYSECRET",
        "777001",
        "2.71828",
        "SETSECRET",
        "MISSINGSECRET",
        "ARGSECRET",
        "424243",
    ]:
        assert sentinel not in text, sentinel
    trace = run.trace
    assert {n.type for n in trace.nodes} >= {"dict", "int", "float", "everything.Point"}
    assert all(n.value is None or n.value.startswith("raised ") for n in trace.nodes)
    assert "raised KeyError" in [n.value for n in trace.nodes]


def test_values_scalars_keeps_scalars_and_drops_reprs(captured):
    with captured(values="scalars") as run:
        x = hltpy.trace([1, 2])[0] + 40
    assert hltpy.from_traced(x) == 41
    # Const list, Const key 0, GetItem 1, Const 40, __add__ 41
    assert [n.value for n in run.trace.nodes] == [None, 0, 1, 40, 41]
    assert all(n.row["value_repr"] is None for n in run.trace.nodes)


def test_bad_values_option_is_refused_by_name(tmp_path):
    with pytest.raises(
        ValueError, match='values must be "full", "scalars" or "types", got "everything"'
    ):
        hltpy.capture(tmp_path / "t.parquet", values="everything").start()
    assert not hltpy._hltpy.capturing()


def test_locations_off_leaves_file_and_line_empty(captured):
    with captured(locations=False) as run:
        hltpy.trace(1) + 1
    assert all(n.file is None and n.line is None for n in run.trace.nodes)


def test_conversions_can_be_recorded(captured):
    with captured(conversions=True) as run:
        x = hltpy.trace(2.5)
        results = (int(x), float(x), bool(x), [10, 20, 30][hltpy.trace(1)])
    assert results == (2, 2.5, True, 20)
    names = [n.name for n in run.trace.of_kind("UDispatch")]
    assert names == ["__int__", "__float__", "__bool__", "__index__"]
    assert run.trace.one("UDispatch", "__bool__").value is True
    with captured() as plain:
        int(hltpy.trace(2.5))
    assert plain.trace.of_kind("UDispatch") == []


def test_chosen_untraced_callables_become_ucall_nodes_and_are_restored(traced_samples, captured):
    original_sqrt, original_len = math.sqrt, len
    with captured(trace_callables=[math.sqrt, len]) as run:
        root = math.sqrt(hltpy.trace(16.0))
        plain = math.sqrt(9.0)  # no traced argument: not part of the trace
        size = len([hltpy.trace(1), 2])
    assert math.sqrt is original_sqrt and len is original_len
    assert hltpy.from_traced(root) == 4.0 and plain == 3.0 and hltpy.from_traced(size) == 2
    ucalls = run.trace.of_kind("UCall")
    assert [n.name for n in ucalls] == ["sqrt", "len"]
    assert run.trace[ucalls[0].input("arg", "0")].value == 16.0
    assert run.trace[ucalls[1].input("arg", "0")].kind == "Deep"
    with pytest.raises(ValueError, match="cannot trace"):
        with captured(trace_callables=[lambda v: v]):
            pass


def test_on_node_sees_every_node_in_file_order_with_values(captured):
    seen = []
    with captured(on_node=seen.append) as run:
        x = hltpy.trace(20)
        y = (x + 1) * 2
    assert hltpy.from_traced(y) == 42
    assert [n.id for n in seen] == [n.id for n in run.trace.nodes]
    assert [n.kind for n in seen] == [n.kind for n in run.trace.nodes]
    assert [n.value for n in seen] == [20, 1, 21, 2, 42]
    mul = seen[-1]
    assert (mul.name, mul.inputs) == (
        "__mul__",
        [("self", None, seen[2].id), ("arg", "0", seen[3].id)],
    )
    assert mul.file == __file__ and mul.line == run.trace.nodes[-1].line
    assert "Node(id=" in repr(mul)


def test_on_node_can_stop_the_program_at_the_offending_line(traced_samples, captured):
    import units
    from unit_checker import UnitChecker, UnitMismatch

    run = captured(on_node=UnitChecker())
    with pytest.raises(UnitMismatch) as err:
        with run:
            ok = units.metres(1.0) + units.metres(2.0)
            bad_line = sys._getframe().f_lineno + 1
            units.metres(1.0) + units.seconds(2.0)
            raise AssertionError("not reached")
    assert hltpy.from_traced(ok.value) == 3.0
    assert f"line {bad_line}: cannot add m and s" in str(err.value)
    frames = traceback.extract_tb(err.value.__traceback__)
    assert any(f.filename == __file__ and f.lineno == bad_line for f in frames)
    # The file is still complete, and holds the node that was rejected.
    assert run.trace.metadata["hltpy.end_reason"].startswith("raised UnitMismatch")
    assert run.trace.of_kind("Dispatch", "__add__")[-1].line == bad_line


def test_on_node_error_from_a_const_is_raised_by_the_operation(captured):
    def refuse_big(node):
        if node.kind == "Const" and node.value == 13:
            raise ValueError("13 refused")

    with pytest.raises(ValueError, match="13 refused"):
        with captured(on_node=refuse_big):
            hltpy.trace(1) + 13
    with pytest.raises(ValueError, match="13 refused"):
        with captured(on_node=refuse_big):
            hltpy.trace(13)


def test_processor_dispatches_nodes_by_kind(captured):
    class CountAdds(hltpy.Processor):
        def __init__(self):
            self.adds = []
            self.consts = 0

        def on_UDispatch(self, node):
            if node.name == "__add__":
                self.adds.append(node.value)

        def on_Const(self, node):
            self.consts += 1

    processor = CountAdds()
    with captured(on_node=processor):
        x = hltpy.trace(1)
        for _ in range(3):
            x = x + 1
        x = x * 2
    # Consts: the traced 1, the loop's `1` (one node for the line), the 2.
    assert processor.adds == [2, 3, 4] and processor.consts == 3


def input_and_int_encodings(path):
    metadata = pq.ParquetFile(path).metadata
    columns = {
        metadata.row_group(0).column(c).path_in_schema: c for c in range(metadata.num_columns)
    }
    return {
        name: set(metadata.row_group(0).column(columns[name]).encodings)
        for name in ("inputs.list.item.src", "value_int")
    }


def test_traces_use_encodings_every_reader_knows_unless_byte_stream_split_is_asked(tmp_path):
    """FORMAT.md, "Readers": PLAIN input ids and ints by default;
    BYTE_STREAM_SPLIT input ids (newer readers only) on request, with the
    same rows."""
    tables = {}
    for split in (False, True):
        path = tmp_path / f"split-{split}.parquet"
        with hltpy.capture(path, byte_stream_split=split):
            x = hltpy.trace(0)
            for _ in range(2000):
                x = x + 1
        tables[split] = pq.read_table(path).drop_columns(["thread"])
        encodings = input_and_int_encodings(path)
        assert ("BYTE_STREAM_SPLIT" in encodings["inputs.list.item.src"]) == split
        assert (
            "PLAIN" in encodings["value_int"]
            and "DELTA_BINARY_PACKED" not in encodings["value_int"]
        )
    assert hltpy.from_traced(x) == 2000
    assert tables[False].equals(tables[True])


def test_byte_stream_split_reaches_batch_runs_by_flag_and_environment(tmp_path):
    import os
    import subprocess

    script = tmp_path / "prog.py"
    script.write_text(
        "import hltpy\nx = hltpy.trace(1)\nfor _ in range(50):\n    x = x + 1\nprint(hltpy.from_traced(x))\n"
    )
    runs = {
        "flag": ([sys.executable, "-m", "hltpy", "run", "--byte-stream-split", "-o", str(tmp_path / "flag.parquet"),
                  str(script)], {}),
        "environment": ([sys.executable, str(script)],
                        {"HLTPY_TRACE": str(tmp_path / "environment.parquet"), "HLTPY_BYTE_STREAM_SPLIT": "1"}),
        "default": ([sys.executable, "-m", "hltpy", "run", "-o", str(tmp_path / "default.parquet"), str(script)], {}),
    }  # fmt: skip
    for name, (command, environment) in runs.items():
        done = subprocess.run(
            command, env={**os.environ, **environment}, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and done.stdout.strip() == "51", (name, done.stderr)
        split = (
            "BYTE_STREAM_SPLIT"
            in input_and_int_encodings(tmp_path / f"{name}.parquet")["inputs.list.item.src"]
        )
        assert split == (name != "default"), name
