"""A trace is untrusted data: fuzzing every command that writes code or
markup from a trace with traces whose text comes from a hostile corpus.

Traces are made two ways: real captured traces (the samples, and programs
captured here whose names come from the corpus) with their text columns
and metadata rewritten and written through the schema's own writer
(schema/examples/trace_from_json.rs), and programs captured with hostile
attribute names, dict keys, keyword names and strings. For each trace:
`compile` (with and without --allow-constants) writes Python that parses,
holds only what compile emits and calls no name the trace chose; `compile
--check` runs; `infer --stubs` writes stubs that parse and define nothing
but declarations, inside the stub directory; `render` and `report` write
SVG and HTML with no markup from the trace; `expr` prints hostile names as
strings; `eval`, `diff`, `summary` and `check` end with a status, not a
crash. Every hostile string that would run code touches a marker file, and
the marker never appears.

HLTPY_UNTRUSTED_TRACES sets how many rewritten traces (200 by default, as
CI runs it; 10,000 for a nightly-sized run), HLTPY_UNTRUSTED_CAPTURES how
many captured programs (20).
"""

import ast
import html.parser
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import unicodedata
from random import Random
from xml.etree import ElementTree

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANALYZE = os.environ.get("HLTPY_ANALYZE", str(ROOT / ".venv" / "bin" / "hltpy-analyze"))
SAMPLES = ROOT / "samples"
TRACES = int(os.environ.get("HLTPY_UNTRUSTED_TRACES", "200"))
CAPTURES = int(os.environ.get("HLTPY_UNTRUSTED_CAPTURES", "20"))


def hostile_corpus(marker):
    """Strings that are code, markup, escapes or not names, each of those
    that would run code touching `marker`."""
    touch = f"__import__('os').system('touch {marker}')"
    return [
        touch,
        f"v if {touch} == 0 else v",
        f'v if __import__("os").system("touch {marker}") == 0 else v',
        f"v\nimport os; os.system('touch {marker}')",
        f"v\r{touch}",
        f"x\u2028{touch}",
        f"x\u2029{touch}",
        f"x\x0c{touch}",
        f'"""\n{touch}\n"""',
        f"'''\n{touch}\n'''",
        f"x  # \n{touch}",
        f"); {touch} #",
        f"'+{touch}+'",
        f'"+{touch}+"',
        f"\\\n{touch}",
        f"'a' if {touch} else 'b'",
        f"[{touch}]",
        f"{{'k': {touch}}}",
        f"<module os;{touch}>",
        f"<function os.system('touch {marker}')>",
        f"<built-in os.system('touch {marker}')>",
        f"<class {touch}>",
        f"exec('open({str(marker)!r}, \"w\")')",
        "os\nimport antigravity",
        "prog.B\nimport os",
        "\x00",
        "a\x00b",
        "\x1b[31mred\x1b[0m",
        "\u202eevil\u202c",
        "\ufeffbom",
        "#",
        "#!",
        "\\",
        "\\N{",
        "\\x",
        "'",
        '"',
        '"""',
        "'''",
        "\n",
        "\r\n",
        "\t",
        "class",
        "None",
        "lambda",
        "import",
        "__debug__",
        "1x",
        "a b",
        "a.b",
        "a..b",
        "ｆ",
        "²",
        "é",
        "δ",
        "match",
        "_",
        "__init__",
        "__class__",
        "x" * 300,
        "ψ€😀" * 2000,
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</text><script>x</script>",
        "]]>",
        "<!--",
        "-->",
        "&amp;",
        "&#0;",
        "{}",
        "${x}",
        "%s",
        "{0}",
        "javascript:alert(1)",
        "'; DROP TABLE nodes; --",
        '"; DROP TABLE nodes; --',
        "*/",
        "/*",
        "../../../../tmp/evil",
        "/etc/passwd",
        "..",
        ".",
        "",
        " ",
        "'a\\nb'",
        "b'\\x00'",
        "(1, 'x')",
        "{'k': 1}",
        "[1, inf]",
        "1e999",
        "-0.0",
        "nan",
        "frozenset({1})",
        "range(0, 3)",
        "slice(1, 2, None)",
        "<prog.B object>",
        "<module math>",
        "<built-in math.hypot>",
        "<function prog.main>",
        "<class prog.B>",
    ]


def hostile_text(marker):
    corpus = hostile_corpus(marker)
    piece = st.sampled_from(corpus) | st.text(max_size=12)
    return piece | st.lists(piece, min_size=2, max_size=4).map("".join)


def run(*args, env=None, cwd=None, preexec_fn=None):
    done = subprocess.run(
        [ANALYZE, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        errors="replace",
        preexec_fn=preexec_fn,
    )
    # 0, 1 (a finding) and 2 (refused with a message) are answers; a crash
    # or a panic is not.
    assert done.returncode in (0, 1, 2), (args, done.returncode, done.stderr)
    assert "internal error" not in done.stderr and "panicked" not in done.stderr, (
        args,
        done.stderr,
    )
    if done.returncode == 2:
        assert done.stderr.splitlines()[-1].startswith("hltpy-analyze: "), (args, done.stderr)
    # Nothing from a file reaches the terminal as a control sequence.
    assert "\x1b" not in done.stderr, done.stderr
    return done


def writer():
    """The schema's example writer of JSON-described traces, built once."""
    subprocess.run(
        [
            "cargo",
            "build",
            "--profile",
            "analyze",
            "--quiet",
            "-p",
            "hltpy-schema",
            "--example",
            "trace_from_json",
        ],
        cwd=ROOT,
        check=True,
    )
    target = os.environ.get(
        "CARGO_TARGET_DIR", str(pathlib.Path.home() / ".cache" / "hltpy" / "target")
    )
    return pathlib.Path(target) / "analyze" / "examples" / "trace_from_json"


def described(path):
    """A trace file as the JSON description trace_from_json writes."""
    table = pq.read_table(path)
    metadata = {
        k.decode(): v.decode()
        for k, v in pq.read_metadata(path).metadata.items()
        if k.startswith(b"hltpy.")
    }
    nodes = []
    for row in table.to_pylist():
        value = {}
        for column, field in (
            ("value_int", "int"),
            ("value_float", "float"),
            ("value_bool", "bool"),
            ("value_str", "str"),
            ("value_repr", "repr"),
        ):
            if row[column] is not None and not (field == "float" and row[column] != row[column]):
                value = {field: row[column]}
        nodes.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "name": row["name"],
                "inputs": [[i["role"], i["key"], i["src"]] for i in row["inputs"]],
                "frame": row["frame"],
                "thread": row["thread"],
                "file": row["file"],
                "line": row["line"],
                "type": row["type"],
                "value": value,
            }
        )
    return {
        "hltpy_version": metadata.get("hltpy.version", ""),
        "python_version": metadata.get("hltpy.python_version", ""),
        "argv": json.loads(metadata.get("hltpy.argv", "[]")),
        "traced_modules": json.loads(metadata.get("hltpy.traced_modules", "[]")),
        "end_reason": metadata.get("hltpy.end_reason", ""),
        "nodes": nodes,
    }


PROBE = """
    NAME = {name!r}
    KEY = {key!r}
    WORD = {word!r}
    TEXT = {text!r}


    class B:
        def __init__(self, v):
            setattr(self, NAME, v)
            self.plain = v * 2


    def take(**kwargs):
        return kwargs[WORD] + 1


    def main(v):
        b = B(v)
        d = {{KEY: v, "n": TEXT}}
        return getattr(b, NAME) + b.plain + d[KEY] + take(**{{WORD: v}}) + len(d["n"])
"""


def capture_probe(directory, name, key, word, text):
    """The probe program captured with these names; gives the trace."""
    (directory / "prog.py").write_text(
        textwrap.dedent(PROBE).format(name=name, key=key, word=word, text=text)
    )
    trace = directory / "prog.parquet"
    program = (
        f"import sys, hltpy\nsys.path.insert(0, {str(directory)!r})\nhltpy.trace_modules(['prog'])\n"
        f"import prog\nwith hltpy.capture({str(trace)!r}):\n"
        f"    print(hltpy.from_traced(prog.main(hltpy.trace(3))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return trace


# What compile writes: statements, expressions and names of its own.
COMPILE_NODES = {
    "Module",
    "FunctionDef",
    "arguments",
    "arg",
    "Return",
    "Assign",
    "Expr",
    "If",
    "Raise",
    "Try",
    "ExceptHandler",
    "ClassDef",
    "ImportFrom",
    "Import",
    "alias",
    "Call",
    "Attribute",
    "Name",
    "Constant",
    "Subscript",
    "Slice",
    "Tuple",
    "List",
    "Dict",
    "Set",
    "BinOp",
    "UnaryOp",
    "Compare",
    "keyword",
    "Delete",
    "Starred",
    "Load",
    "Store",
    "Del",
    "Add",
    "Sub",
    "Mult",
    "MatMult",
    "Div",
    "FloorDiv",
    "Mod",
    "Pow",
    "LShift",
    "RShift",
    "BitAnd",
    "BitOr",
    "BitXor",
    "USub",
    "UAdd",
    "Invert",
    "Not",
    "Eq",
    "NotEq",
    "Lt",
    "LtE",
    "Gt",
    "GtE",
    "In",
    "Is",
    "IsNot",
}
# Names compile itself calls (builtins and its guard's error).
COMPILE_CALLS = {
    "getattr",
    "setattr",
    "iter",
    "next",
    "len",
    "float",
    "complex",
    "frozenset",
    "slice",
    "bool",
    "int",
    "str",
    "repr",
    "hash",
    "abs",
    "round",
    "GuardFailed",
    "range",
    "set",
    "all",
    "any",
    "bin",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "format",
    "hex",
    "isinstance",
    "list",
    "map",
    "max",
    "min",
    "oct",
    "ord",
    "pow",
    "reversed",
    "sorted",
    "sum",
    "tuple",
    "zip",
}
NEVER_NAMED = {
    "__import__",
    "exec",
    "eval",
    "compile",
    "open",
    "os",
    "system",
    "antigravity",
    "breakpoint",
}


def check_compiled(source):
    """Emitted Python parses, holds only compile's node types, and calls
    only names it bound or its own builtins."""
    tree = ast.parse(source)
    bound = set()
    for node in ast.walk(tree):
        assert type(node).__name__ in COMPILE_NODES, (type(node).__name__, source)
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name):
            assert node.id not in NEVER_NAMED, source
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id in COMPILE_CALLS or node.func.id in bound, (node.func.id, source)


def recording_import(imported):
    """An `__import__` that records what a stub imports and makes an empty
    module instead (typing and __future__ are real)."""

    def record(name, *args, **kwargs):
        if name in ("__future__", "typing"):
            return __import__(name, *args, **kwargs)
        imported.append(name)
        return type(sys)(name)

    return record


STUB_NODES = {
    "Module",
    "Import",
    "ImportFrom",
    "alias",
    "ClassDef",
    "FunctionDef",
    "arguments",
    "arg",
    "AnnAssign",
    "Expr",
    "Constant",
    "Name",
    "Attribute",
    "Subscript",
    "Tuple",
    "BinOp",
    "BitOr",
    "Load",
    "Store",
    "List",
}


def check_stubs(directory):
    """Every stub is inside `directory`, parses, declares only, and runs to
    nothing (its imports recorded, not made)."""
    for stub in directory.rglob("*"):
        assert stub.resolve().is_relative_to(directory.resolve())
        if not stub.is_file():
            continue
        assert stub.suffix == ".pyi", stub
        source = stub.read_text()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            assert type(node).__name__ in STUB_NODES, (type(node).__name__, source)
            if isinstance(node, ast.Name):
                assert node.id not in NEVER_NAMED, source
        imported = []
        builtins = dict(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))
        builtins["__import__"] = recording_import(imported)
        # Run, as a type checker's runtime would, with imports recorded
        # instead of made: declarations only.
        exec(
            compile("from __future__ import annotations\n" + source, str(stub), "exec"),  # noqa: S102
            {"__builtins__": builtins},
        )
        assert all(all(part.isidentifier() for part in name.split(".")) for name in imported), (
            imported
        )


class Markup(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.scripts = set(), set(), 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.scripts += tag == "script"
        for name, value in attrs:
            self.attributes.add(name)
            assert not (value or "").strip().lower().startswith("javascript:"), value


def markup_of(text):
    parser = Markup()
    parser.feed(text)
    return parser


def check_svg(path):
    root = ElementTree.parse(path).getroot()
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        assert tag not in {"script", "foreignObject", "iframe", "img"}, tag
        for name in element.attrib:
            assert not name.rsplit("}", 1)[-1].lower().startswith("on"), name


def check_expr(text):
    """`expr` output: no control sequence, and a hostile name is a string."""
    for c in text:
        # Unassigned characters are harmless; controls, separators and
        # format characters (bidirectional overrides) are not.
        assert c == "\n" or unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp", "Cs"}, repr(
            text
        )
    # Elisions and kind markers (not Python) as names; then, when it is
    # Python, nothing the trace chose is called.
    python = re.sub(r"…#\d+|[A-Za-z]+#\d+|…", "_", text)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in NEVER_NAMED, text


def exercise(trace, work, marker, env, template_report=None):
    """Every command over one trace; asserts what each writes is inert."""
    for extra in ([], ["--allow-constants"]):
        out = work / "compiled.py"
        out.unlink(missing_ok=True)
        done = run("compile", trace, "-o", out, *extra, env=env, cwd=work)
        if done.returncode == 0:
            check_compiled(out.read_text())
    run("compile", trace, "--check", "--python", sys.executable, env=env, cwd=work)
    stubs = work / "stubs"
    shutil.rmtree(stubs, ignore_errors=True)
    done = run("infer", trace, "--stubs", stubs, env=env, cwd=work)
    if stubs.exists():
        check_stubs(stubs)
    done = run("expr", trace, env=env, cwd=work)
    if done.returncode == 0:
        check_expr(done.stdout)
    svg = work / "drawing.svg"
    svg.unlink(missing_ok=True)
    # A few levels: dot lays out a whole trace of hundreds of nodes slowly.
    if run("render", trace, "--depth", "3", "-o", svg, env=env, cwd=work).returncode == 0:
        check_svg(svg)
    page = work / "report.html"
    page.unlink(missing_ok=True)
    if run("report", trace, "-o", page, env=env, cwd=work).returncode == 0:
        markup = markup_of(page.read_text())
        assert markup.scripts == 1
        assert not {a for a in markup.attributes if a.startswith("on")}, markup.attributes
        if template_report is not None:
            assert markup.tags <= template_report.tags | {
                "svg",
                "g",
                "title",
                "text",
                "path",
                "polygon",
                "ellipse",
                "a",
                "polyline",
            }, markup.tags
    run("eval", trace, env=env, cwd=work)
    run("summary", trace, env=env, cwd=work)
    run("check", trace, env=env, cwd=work)
    run(
        "diff",
        trace,
        SAMPLES / "traces" / "addx.parquet",
        "--render",
        work / "diff.dot",
        env=env,
        cwd=work,
    )
    assert not marker.exists(), "a string in a trace ran as code"


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    base = tmp_path_factory.mktemp("untrusted")
    marker = base / "MARKER"
    probe_dir = base / "probe"
    probe_dir.mkdir()
    probe = capture_probe(probe_dir, "v", "k", "w", "text")
    templates = [
        described(SAMPLES / "traces" / f"{name}.parquet")
        for name in ("addx", "kernels", "units", "seed_graph")
    ]
    templates.append(described(probe))
    reports = []
    for index, name in enumerate(("addx", "kernels", "units", "seed_graph")):
        page = base / f"template{index}.html"
        run("report", SAMPLES / "traces" / f"{name}.parquet", "-o", page)
        reports.append(markup_of(page.read_text()))
    page = base / "probe.html"
    run("report", probe, "-o", page)
    reports.append(markup_of(page.read_text()))
    # --check finds the samples' and the probe's modules where they are.
    env = {**os.environ, "PYTHONPATH": f"{SAMPLES}:{probe_dir}"}
    return {
        "base": base,
        "marker": marker,
        "templates": templates,
        "reports": reports,
        "env": env,
        "writer": writer(),
    }


def rewrite(description, choose, hostile):
    """The description with text replaced where `choose` says: names, files,
    types, keys, string values and reprs, and every metadata value."""
    out = json.loads(json.dumps(description))
    for node in out["nodes"]:
        for field in ("name", "file", "type"):
            if choose():
                node[field] = hostile()
        for item in node["inputs"]:
            if item[1] is not None and choose():
                item[1] = hostile()
        if choose():
            node["value"] = {"repr" if choose() else "str": hostile()}
    for field in ("hltpy_version", "python_version", "end_reason"):
        if choose():
            out[field] = hostile()
    if choose():
        out["argv"] = [hostile(), hostile()]
    if choose():
        out["traced_modules"] = [hostile()] + out["traced_modules"]
    return out


@settings(
    max_examples=TRACES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rewritten_traces_never_run_their_text(setting, data):
    marker = setting["marker"]
    template = data.draw(st.integers(0, len(setting["templates"]) - 1), label="template")
    # Few texts replaced keep the program's shape (so compile goes deep);
    # all of them, none of it.
    density = data.draw(st.sampled_from([0.02, 0.1, 0.3, 1.0]), label="density")
    random = Random(data.draw(st.integers(0, 2**64), label="seed"))
    corpus = hostile_corpus(marker)

    def choose():
        return random.random() < density

    def hostile():
        pieces = [random.choice(corpus) for _ in range(random.choice((1, 1, 1, 2, 3)))]
        if random.random() < 0.1:
            pieces.append(
                "".join(chr(random.randrange(0, 0x3000)) for _ in range(random.randrange(1, 8)))
            )
        return "".join(pieces)

    description = rewrite(setting["templates"][template], choose, hostile)
    work = setting["base"] / "work"
    work.mkdir(exist_ok=True)
    trace = work / "hostile.parquet"
    description["path"] = str(trace)
    written = subprocess.run(
        [setting["writer"]],
        check=False,
        input=json.dumps(description) + "\n",
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    exercise(trace, work, marker, setting["env"], setting["reports"][template])


@settings(
    max_examples=CAPTURES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_captured_hostile_names_never_run(setting, data, tmp_path_factory):
    marker = setting["marker"]
    texts = hostile_text(marker)
    # Not a name Python gives a meaning (`__class__`): the program itself
    # would fail untraced.
    name = data.draw(
        texts.filter(lambda t: not (t.startswith("__") and t.endswith("__"))), label="attribute"
    )
    key = data.draw(texts.filter(lambda t: t != "n"), label="key")
    word = data.draw(texts, label="keyword")
    text = data.draw(texts, label="string")
    # The program lives in a directory whose name is hostile too (the
    # trace's file column, and --check's search path).
    # (Not a line break: DataFusion opens no path holding one, and says so.)
    folder = data.draw(
        st.sampled_from(["'", '"', "#", " ", "x\\", "é", "\u202e", "$(touch x)", "`x`", ";"]),
        label="folder",
    )
    work = tmp_path_factory.mktemp("captured") / f"prog{folder}dir"
    work.mkdir()
    trace = capture_probe(work, name, key, word, text)
    env = {**os.environ, "PYTHONPATH": str(work)}
    exercise(trace, work, marker, env)
    # The program's own answer comes back from the compiled function.
    done = run("compile", trace, "--check", "--python", sys.executable, env=env, cwd=work)
    assert done.returncode == 0 and "(as recorded)" in done.stdout, done.stdout + done.stderr


def test_the_corpus_is_live_code(tmp_path):
    """The marker would show it: each corpus entry that is an expression
    touching the marker does so when Python evaluates it."""
    marker = tmp_path / "MARKER"
    live = 0
    for entry in hostile_corpus(marker):
        try:
            expression = ast.parse(entry, mode="eval").body
        except (SyntaxError, ValueError):
            continue
        # A string literal holding the code is data already.
        if "touch" not in entry or isinstance(expression, ast.Constant):
            continue
        subprocess.run(
            [sys.executable, "-c", f"v = 0\n({entry})"], check=False, capture_output=True
        )
        assert marker.exists(), entry
        marker.unlink()
        live += 1
    assert live >= 5


def test_the_issue_probe_is_inert(tmp_path):
    """The reported case: a setattr name that is code, with --check."""
    marker = tmp_path / "MARKER"
    name = f"v if __import__('os').system('touch {marker}') == 0 else v"
    trace = capture_probe(tmp_path, name, "k", "w", "t")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = run("compile", trace, env=env)
    assert done.returncode == 0, done.stderr
    assert "getattr(" in done.stdout and ".v if" not in done.stdout, done.stdout
    check_compiled(done.stdout)
    done = run("compile", trace, "--check", "--python", sys.executable, env=env)
    assert done.returncode == 0 and "(as recorded)" in done.stdout, done.stdout + done.stderr
    assert "compile --check imports prog (" in done.stderr, done.stderr
    assert not marker.exists()


def test_check_refuses_modules_outside_the_source(tmp_path):
    """A trace naming a module that is no file of its program: --check
    refuses to import it unless --allow-import names it."""
    trace = capture_probe(tmp_path, "v", "k", "w", "t")
    description = described(trace)
    for node in description["nodes"]:
        if node["name"] and node["name"].startswith("prog."):
            node["name"] = "antigravity" + node["name"][len("prog") :]
    description["traced_modules"] = ["antigravity"]
    hostile = tmp_path / "hostile.parquet"
    description["path"] = str(hostile)
    subprocess.run(
        [writer()], input=json.dumps(description) + "\n", text=True, check=True, capture_output=True
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = run("compile", hostile, "--check", "--python", sys.executable, env=env)
    assert done.returncode == 2
    assert (
        "would import the module 'antigravity'" in done.stderr
        and "--allow-import antigravity" in done.stderr
    )


def test_a_value_with_no_text_is_drawn(tmp_path):
    """A leaf with an empty name and an empty recorded value (the nightly
    run's find): graphviz refuses an empty label, so render shows `…`."""
    description = {
        "path": str(tmp_path / "empty.parquet"),
        "nodes": [
            {
                "id": 0,
                "kind": "Const",
                "name": "",
                "inputs": [],
                "type": "str",
                "value": {"repr": ""},
            },
            {
                "id": 1,
                "kind": "UDispatch",
                "name": "__add__",
                "inputs": [["self", None, 0], ["arg", "0", 0]],
                "type": "str",
                "value": {"str": ""},
            },
        ],
    }
    subprocess.run(
        [writer()], input=json.dumps(description) + "\n", text=True, check=True, capture_output=True
    )
    svg = tmp_path / "empty.svg"
    done = run("render", description["path"], "-o", svg)
    assert done.returncode == 0, done.stderr
    check_svg(svg)
    assert "…" in svg.read_text()


def test_crafted_ids_allocate_no_more_than_the_trace_holds(tmp_path):
    """A 56-node sample with one constant renumbered to 2**36 - 1 and one
    input naming node 4,000,000,000: the passes keep per-id tables, which
    once grew to the largest id (`eval --set` took 8 GB and 20 s, `eval`
    and `infer` 4 GB). Under a 1 GiB address-space limit every command
    still answers."""
    description = described(SAMPLES / "traces" / "addx.parquet")
    nodes = description["nodes"]
    big = 2**36 - 1
    const = next(n["id"] for n in nodes if n["kind"] == "Const")
    for node in nodes:
        node["id"] = big if node["id"] == const else node["id"]
        node["inputs"] = [[r, k, big if s == const else s] for r, k, s in node["inputs"]]
    reader = next(n for n in nodes if n["inputs"] and n["inputs"][0][2] != big)
    reader["inputs"][0][2] = 4_000_000_000
    description["path"] = str(tmp_path / "crafted.parquet")
    subprocess.run(
        [writer()], input=json.dumps(description) + "\n", text=True, check=True, capture_output=True
    )

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    for command in (["eval"], ["eval", "--set", "add_to.y=6"], ["infer"], ["summary"], ["check"]):
        # An answer, not an abort ("memory allocation of … failed").
        run(*command, description["path"], preexec_fn=limited)
