"""The crates' inside walls, read from their `use` lines.

hltpy-analyze's modules form layers without a circle, and no subcommand
uses another (each is Args -> load -> pass -> print); the capture crate's
layers below the proxy (state, summaries, locations, recorder, writer
thread) form no circle and use nothing above them; above them, the one
recursion the design needs — a call wraps its result in proxies and a
proxy's slot makes a call (`calls` <-> `proxy`) — is stated in both
files' docs.

A module's dependencies are the `crate::NAME` paths in its file (and its
directory's files, for a module with a directory), test code and comments
left out.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATE_PATH = re.compile(r"\bcrate::(\w+)(?:::(\w+))?")
USE_GROUP = re.compile(r"\buse crate::\{([^;]*)\};", re.S)


def without_tests(text):
    """The file's code before its `#[cfg(test)]` module, comments left
    out (a doc link is not a dependency)."""
    code = text.split("#[cfg(test)]", 1)[0]
    return "\n".join(line.split("//", 1)[0] for line in code.splitlines())


def modules(src):
    """{module: set of modules it names}, for a crate's src directory.
    Submodules of `commands` count as modules of their own
    (`commands::diff`); other directories as one module."""
    found = {}
    for path in sorted(src.rglob("*.rs")):
        relative = path.relative_to(src)
        if relative.name in ("lib.rs", "main.rs"):
            continue
        parts = relative.with_suffix("").parts
        if parts[0] == "commands" and parts[-1] != "mod":
            name = f"commands::{parts[-1]}"
        else:
            name = parts[0]
        text = without_tests(path.read_text())
        names = set()
        for first, second in CRATE_PATH.findall(text):
            names.add(f"commands::{second}" if first == "commands" and second else first)
        for group in USE_GROUP.findall(text):
            for item in re.split(r"[,\s]+", group):
                head = item.split("::")[0].strip("{} ")
                if head and head != "self":
                    names.add(head)
        # A command's own text names its neighbours through `super::`.
        if name.startswith("commands::"):
            names |= {f"commands::{m}" for m in re.findall(r"\bsuper::(\w+)", text)}
        found.setdefault(name, set()).update(names - {name})
    return found


def cycle(graph, allowed=frozenset()):
    """A circle of modules (as a list), or None; `allowed` are edges
    (a, b) left out."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if (node, nxt) in allowed or nxt not in graph:
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_analyzer_has_no_import_circle():
    graph = modules(ROOT / "analyze" / "src")
    assert "commands::diff" in graph and "tables" in graph, sorted(graph)
    assert cycle(graph) is None, f"import circle: {' -> '.join(cycle(graph))}"


def test_no_command_uses_another():
    graph = modules(ROOT / "analyze" / "src")
    crossing = {
        (command, used)
        for command, uses in graph.items()
        if command.startswith("commands::")
        for used in uses
        if used.startswith("commands::")
    }
    assert not crossing, f"commands using commands: {sorted(crossing)}"


def test_layers_below_the_commands_do_not_use_them():
    graph = modules(ROOT / "analyze" / "src")
    upward = {
        (module, used)
        for module, uses in graph.items()
        if not module.startswith("commands::")
        for used in uses
        if used.startswith("commands")
    }
    assert not upward, f"layers using commands: {sorted(upward)}"


# The capture's layers below the proxy: the state every layer reads, the
# value summaries, source locations, the recorder and its writer thread.
BELOW_THE_PROXY = {
    "state",
    "summary",
    "locations",
    "writer_thread",
    "recorder",
    "frames",
    "gil_cell",
}


def test_the_capture_below_the_proxy_has_no_circle_and_uses_nothing_above():
    graph = modules(ROOT / "capture" / "src")
    assert BELOW_THE_PROXY <= set(graph), sorted(graph)
    upward = {
        (module, used)
        for module in BELOW_THE_PROXY
        for used in graph[module]
        if used not in BELOW_THE_PROXY
    }
    assert not upward, f"below the proxy, using what is above: {sorted(upward)}"
    below = {m: graph[m] & BELOW_THE_PROXY for m in BELOW_THE_PROXY}
    assert cycle(below) is None, f"import circle: {' -> '.join(cycle(below))}"


def test_the_calls_proxy_recursion_is_stated_in_both_files():
    graph = modules(ROOT / "capture" / "src")
    assert "proxy" in graph["calls"] and "calls" in graph["proxy"]
    for name, other in [("calls", "proxy"), ("proxy", "calls")]:
        docs = (ROOT / "capture" / "src" / f"{name}.rs").read_text().split("\nuse ", 1)[0]
        assert f"`{name}` and `{other}` use each other" in docs, name


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ],
)
def test_the_circle_finder_finds_circles(graph, expected):
    assert cycle(graph) == expected
