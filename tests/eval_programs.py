"""Random typed programs for the eval property test: a traced module of one
function whose parameters take values of every kind eval models (ints
across 2**63 and 2**64, floats with subnormals, signed zeros, infinities
and NaN, strings, bytes, tuples, lists, dicts, bools) and whose statements
apply operators, comparisons, builtins and `math` to them.

Expressions are built by the type they should have, so most of them run
rather than raise; each statement's value or exception type is collected,
which is what the untraced and the traced run must agree on."""

import math
import re

from hypothesis import strategies as st

INT_EDGES = [
    0,
    1,
    -1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    -(2**64),
]
FLOAT_EDGES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    0.1,
    0.5,
    1e16,
    2.5,
]

ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(INT_EDGES), st.integers(-5, 5))
floats = st.one_of(st.floats(), st.sampled_from(FLOAT_EDGES))
scalars = st.one_of(ints, floats, st.booleans(), st.text(max_size=4), st.binary(max_size=4))
VALUES = {
    "int": ints,
    "float": floats,
    "bool": st.booleans(),
    "str": st.text(max_size=5),
    "bytes": st.binary(max_size=5),
    "tuple": st.lists(scalars, max_size=4).map(tuple),
    "list": st.lists(st.one_of(ints, floats), max_size=4),
    "dict": st.dictionaries(
        st.one_of(st.text(max_size=2), st.integers(-3, 3)), scalars, max_size=3
    ),
}
NUMBERS = ("int", "float", "bool")
SEQUENCES = ("str", "bytes", "tuple", "list")
COMPARISONS = ("<", "<=", "==", "!=", ">", ">=")
# Callables a program may call: builtins, and `math` on numbers.
NUMBER_CALLS = (
    "abs({})",
    "round({})",
    "int({})",
    "float({})",
    "bool({})",
    "math.floor({})",
    "math.ceil({})",
    "math.sqrt({})",
    "math.fabs({})",
    "math.exp({})",
    "math.log({})",
    "math.trunc({})",
    "math.isfinite({})",
    "math.isnan({})",
    "str({})",
    "-{}",
    "+{}",
)
NUMBER_PAIR_CALLS = (
    "min({}, {})",
    "max({}, {})",
    "divmod({}, {})[0]",
    "divmod({}, {})[1]",
    "math.hypot({}, {})",
    "math.copysign({}, {})",
    "math.fmod({}, {})",
    "math.atan2({}, {})",
    "round({}, 2)",
)
SEQUENCE_CALLS = (
    "len({})",
    "sorted({})",
    "list({})",
    "tuple({})",
    "bool({})",
    "min({})",
    "max({})",
    "{}[::-1]",
    "{}.count({}[0])",
    "{}.index({}[-1])",
)


def source_of(value):
    """Python source for a value: its repr, but for floats that have no
    literal (inf, nan), in parentheses so that a method can follow."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "math.nan" if math.isnan(value) else ("-math.inf" if value < 0 else "math.inf")
    elif isinstance(value, (tuple, list)):
        items = ", ".join(source_of(v) for v in value)
        text = f"[{items}]" if isinstance(value, list) else f"({items},)" if value else "()"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{source_of(k)}: {source_of(v)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return f"({text})"


def literal_of(kind, draw):
    return source_of(draw(VALUES[kind]))


def uses_parameter(source):
    """Applies an operator to a parameter: mentions one and is not one."""
    return re.search(r"\bv\d", source) is not None and re.fullmatch(r"v\d+", source) is None


@st.composite
def expressions(draw, env, kind, depth):
    """Source text of an expression that should have type `kind` (a name of
    VALUES, "number" or "any"), over the parameters in `env` (name →
    kind), at most `depth` operators deep."""
    if kind == "number":
        kind = draw(st.sampled_from(NUMBERS))
    if kind == "any":
        kind = draw(st.sampled_from(sorted(VALUES)))
    params = [name for name, k in env.items() if k == kind or (kind in NUMBERS and k in NUMBERS)]
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if params and draw(st.integers(0, 3)) > 0:
            return draw(st.sampled_from(params))
        return literal_of(kind, draw)

    def sub(k):
        return draw(expressions(env, k, depth - 1))

    if kind in NUMBERS:
        rule = draw(st.integers(0, 6))
        if rule == 0:
            op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%"]))
            return f"({sub('number')} {op} {sub('number')})"
        if rule == 1 and kind != "float":
            op = draw(st.sampled_from(["&", "|", "^"]))
            return f"({sub('int')} {op} {sub(draw(st.sampled_from(['int', 'bool'])))})"
        if rule == 1:
            # float() both sides: an int-valued operand (`v0 * v1`) would
            # make an int power with a huge exponent, which CPython itself
            # takes forever for.
            return f"(float({sub('float')}) ** float({sub('float')}))"
        if rule == 2:
            shift = draw(st.sampled_from(["<<", ">>"]))
            if shift == "<<":
                return f"({sub('int')} << {draw(st.integers(0, 70))})"
            return f"({sub('int')} >> {sub('int')})"
        if rule == 3:
            return f"({sub('number')} ** {draw(st.integers(-3, 8))})"
        if rule == 4:
            return draw(st.sampled_from(NUMBER_CALLS)).format(sub("number"))
        if rule == 5:
            return draw(st.sampled_from(NUMBER_PAIR_CALLS)).format(sub("number"), sub("number"))
        # A comparison, `in`, or a size: bools and ints from anything.
        operand = draw(st.sampled_from(sorted(VALUES)))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            return f"({sub(operand)} {draw(st.sampled_from(COMPARISONS))} {sub(operand)})"
        if choice == 1:
            container = draw(st.sampled_from(["str", "tuple", "list", "dict"]))
            if container == "str":
                # str's `in` refuses a traced left operand unless the
                # string is traced too (a known limit: docs/capture.md).
                strings = [name for name, k in env.items() if k == "str"]
                if not strings:
                    return f"len({sub('str')})"
                return f"({sub('str')} in {draw(st.sampled_from(strings))})"
            return f"({sub('any')} in {sub(container)})"
        return f"len({sub(draw(st.sampled_from(SEQUENCES + ('dict',))))})"
    if kind in SEQUENCES:
        rule = draw(st.integers(0, 4))
        if rule == 0:
            return f"({sub(kind)} + {sub(kind)})"
        if rule == 1:
            return f"({sub(kind)} * {draw(st.integers(-1, 3))})"
        if rule == 2:
            start, stop = draw(st.integers(-4, 4)), draw(st.integers(-4, 4))
            return f"{sub(kind)}[{start}:{stop}]"
        if rule == 3:
            item = sub(kind)
            return draw(st.sampled_from(SEQUENCE_CALLS)).format(item, item)
        if kind == "str":
            return draw(
                st.sampled_from(
                    ["{}.upper()", "{}.strip()", "str({})", "repr({})", "{}.replace('a', 'b')"]
                )
            ).format(sub(draw(st.sampled_from(["str", "number"]))))
        if kind == "tuple":
            return f"({sub('any')}, {sub('any')})"
        if kind == "list":
            return f"[{sub('number')}, {sub('number')}]"
        return f"{sub(kind)}[{draw(st.integers(-3, 3))}:]"
    # dict
    rule = draw(st.integers(0, 2))
    if rule == 0:
        return f"{{{sub('str')}: {sub('any')}, {draw(st.integers(-3, 3))}: {sub('any')}}}"
    if rule == 1:
        return f"dict({sub('dict')})"
    return f"{{**{sub('dict')}, **{sub('dict')}}}"


@st.composite
def indexing(draw, env):
    """A read of an item: a sequence at an index, a dict at a key."""
    kind = draw(st.sampled_from(SEQUENCES + ("dict",)))
    container = draw(expressions(env, kind, 1))
    if kind == "dict":
        return f"{container}[{literal_of(draw(st.sampled_from(['str', 'int'])), draw)}]"
    return f"{container}[{draw(st.integers(-4, 4))}]"


@st.composite
def comparisons(draw, env):
    """Two expressions of one type compared, by any of the six operators."""
    kind = draw(st.sampled_from(sorted(VALUES)))
    left, right = draw(expressions(env, kind, 2)), draw(expressions(env, kind, 2))
    return f"({left} {draw(st.sampled_from(COMPARISONS))} {right})"


@st.composite
def programs(draw):
    """(parameter values, statement expressions): each statement uses a
    parameter under at least one operator, so every program traces work."""
    kinds = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=4))
    values = [draw(VALUES[kind]) for kind in kinds]
    env = {f"v{i}": kind for i, kind in enumerate(kinds)}
    statement = st.one_of(expressions(env, "any", 3), indexing(env), comparisons(env)).filter(
        uses_parameter
    )
    statements = draw(st.lists(statement, min_size=1, max_size=6))
    return values, statements


def module_source(parameters, statements):
    """The program as a module: `main(v0, …)` gives each statement's value,
    or the name of the exception it raised."""
    lines = ["import math", "", "", f"def main({', '.join(parameters)}):", "    out = []"]
    for statement in statements:
        lines += [
            "    try:",
            f"        out.append(('value', {statement}))",
            "    except Exception as error:",
            "        out.append(('raised', type(error).__name__))",
        ]
    lines.append("    return out")
    return "\n".join(lines) + "\n"
