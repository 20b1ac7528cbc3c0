"""Every place a capture option appears agrees with its one definition,
``hltpy._options.OPTIONS``: the signature of ``hltpy.capture``, the native
``_hltpy.start`` and its stub, the flags of ``python -m hltpy run``, the
``HLTPY_*`` variables, and the option table of docs/capture.md.
(What each option does is ``test_run_options.py``'s.)"""

import ast
import inspect
import pathlib
import re

import hltpy
import pytest
from hltpy import _hltpy, _options
from hltpy._cli import DESCRIPTION, run_parser, split_run_arguments

ROOT = pathlib.Path(__file__).resolve().parents[2]
# What the Python side gives `_hltpy.start` besides the options.
RUN_FACTS = ["argv", "python_version", "hltpy_version", "traced_modules"]


def test_hltpy_capture_takes_each_option_with_its_default():
    parameters = list(inspect.signature(hltpy.capture.__init__).parameters.values())
    assert [p.name for p in parameters[:2]] == ["self", "path"]
    keywords = parameters[2:]
    assert [p.name for p in keywords] == [o.name for o in _options.OPTIONS]
    for parameter in keywords:
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, parameter
        default = _options.BY_NAME[parameter.name].default
        if parameter.name == "boundaries":
            default = hltpy.BOUNDARIES
        assert parameter.default == default, parameter


def native_keywords_of(signature: str) -> list[str]:
    return [
        name.strip().split(":")[0].split("=")[0].strip()
        for name in signature.split("*,", 1)[1].rstrip(")").split(",")
        if name.strip()
    ]


def test_the_native_start_and_its_stub_take_the_native_options():
    native = [o.name for o in _options.OPTIONS if o.native]
    assert native_keywords_of(_hltpy.start.__text_signature__) == RUN_FACTS + native
    stub = ast.parse((ROOT / "capture/python/hltpy/_hltpy.pyi").read_text())
    (start,) = [n for n in stub.body if isinstance(n, ast.FunctionDef) and n.name == "start"]
    assert [a.arg for a in start.args.kwonlyargs] == RUN_FACTS + native


def test_the_docs_table_is_the_definitions():
    docs = (ROOT / "docs/capture.md").read_text()
    table = _options.markdown_table()
    assert table in docs, (
        "docs/capture.md's option table differs from hltpy._options: "
        "paste `python -m hltpy._options` over it"
    )


# A value other than the default, for each option with a flag or variable.
OTHER = {
    "flush_every": 7,
    "allow_mutation": True,
    "max_repr": 33,
    "values": "types",
    "locations": False,
    "conversions": True,
    "trace_callables": ["math.sqrt", "len"],
    "boundaries": frozenset({"json.dumps"}),
    "segment_nodes": 1000,
    "byte_stream_split": True,
}


def flag_arguments(option: _options.Option, value) -> list[str]:
    match option.kind:
        case "bool":
            return [option.flag]
        case "names":
            return [arg for name in value for arg in (option.flag, name)]
        case "boundaries":
            return ["--no-boundary", "all", "--boundary", "json.dumps"]
        case _:
            return [option.flag, str(value)]


@pytest.mark.parametrize(
    "option", [o for o in _options.OPTIONS if o.kind != "api"], ids=lambda o: o.name
)
def test_each_option_travels_by_flag_and_by_variable(option):
    value = OTHER[option.name]
    # Where hltpy's options end and the program begins.
    arguments = flag_arguments(option, value)
    assert split_run_arguments([*arguments, "prog.py", "-x"]) == (
        arguments,
        "prog.py",
        None,
        ["-x"],
    )
    parsed = run_parser().parse_args(arguments)
    assert _options.from_flags(parsed)[option.name] == value
    defaults = _options.from_flags(run_parser().parse_args([]))
    assert defaults[option.name] == (
        hltpy.BOUNDARIES
        if option.kind == "boundaries"
        else list(option.default)
        if option.kind == "names"
        else option.default
    )
    exported = {}
    _options.to_environment({option.name: value}, exported.__setitem__)
    assert list(exported) == [option.variable]
    assert option.variable in DESCRIPTION
    assert re.fullmatch(r"HLTPY_[A-Z_]+", option.variable)
    assert _options.from_environment(exported) == {option.name: value}


def test_a_bad_variable_names_itself():
    with pytest.raises(SystemExit, match="HLTPY_MAX_REPR='lots' is not a valid max_repr"):
        _options.from_environment({"HLTPY_MAX_REPR": "lots"})


def test_every_flag_is_in_the_help():
    text = run_parser().format_help()
    for option in _options.OPTIONS:
        if option.flag:
            assert option.flag in text, option.name
