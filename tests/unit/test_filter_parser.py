"""The filter and order_by parsers: ASTs, literals, error messages, and fuzzing."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from tunetrack.errors import InvalidInput
from tunetrack.search import And, Comparison, Or, OrderKey, parse_filter, parse_order_by
from tunetrack.search.filter import ATTRIBUTE_KINDS, tokenize
from tunetrack.store.sql.filters import experiment_filter_clause, run_filter_clause


def C(entity: str, key: str, op: str, value: object) -> Comparison:
    return Comparison(entity, key, op, value)  # type: ignore[arg-type]


ACC = C("metric", "acc", ">", 0.9)
RF = C("param", "model", "=", "rf")
TEAM = C("tag", "team", "!=", "x")


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.9", ACC),
        ("metric.acc>0.9", ACC),
        ("METRICS.acc   >   0.9", ACC),
        ("params.model = 'rf'", RF),
        ('param.model = "rf"', RF),
        ("tags.team != 'x'", TEAM),
        ("tag.team != 'x'", TEAM),
        ("attributes.status = 'finished'", C("attribute", "status", "=", "FINISHED")),
        ("attribute.run_name LIKE 'rf%'", C("attribute", "run_name", "LIKE", "rf%")),
        ("attr.run_name ilike 'RF%'", C("attribute", "run_name", "ILIKE", "RF%")),
        ("run.user_id = 'ann'", C("attribute", "user_id", "=", "ann")),
        ("run_name = 'a'", C("attribute", "run_name", "=", "a")),
        ("Status != 'Running'", C("attribute", "status", "!=", "RUNNING")),
        ("created >= 5", C("attribute", "start_time", ">=", 5)),
        ("end_time < 1.5e12", C("attribute", "end_time", "<", 1.5e12)),
        ("experiment_id = '12'", C("attribute", "experiment_id", "=", 12)),
        ("experiment_id IN (1, '2')", C("attribute", "experiment_id", "IN", (1, 2))),
        ("name LIKE 'iris%'", C("attribute", "name", "LIKE", "iris%")),
        ("metrics.val.acc <= 1", C("metric", "val.acc", "<=", 1)),
        ('metrics."val.acc" <= 1', C("metric", "val.acc", "<=", 1)),
        ("params.`my key` = 'v'", C("param", "my key", "=", "v")),
        ('tags."a ""q"" b" = \'v\'', C("tag", 'a "q" b', "=", "v")),
        ("params.train/lr-max_2 = '1'", C("param", "train/lr-max_2", "=", "1")),
        ("metrics.loss < -3", C("metric", "loss", "<", -3)),
        ("metrics.loss < -.5", C("metric", "loss", "<", -0.5)),
        ("metrics.loss < 2.", C("metric", "loss", "<", 2.0)),
        ("metrics.loss < 1E-3", C("metric", "loss", "<", 0.001)),
        ("metrics.loss < inf", C("metric", "loss", "<", math.inf)),
        ("metrics.loss > -Infinity", C("metric", "loss", ">", -math.inf)),
        ("metrics.n = 99999999999999999999", C("metric", "n", "=", 1e20)),
        ("metrics.acc IN (1, 2.5)", C("metric", "acc", "IN", (1, 2.5))),
        ("metrics.acc not  IN (1)", C("metric", "acc", "NOT IN", (1,))),
        ("params.d In ('3','5')", C("param", "d", "IN", ("3", "5"))),
        ('params.d NOT IN ("3")', C("param", "d", "NOT IN", ("3",))),
        ("status in ('failed', 'KILLED')", C("attribute", "status", "IN", ("FAILED", "KILLED"))),
        (r"params.p = 'it\'s'", C("param", "p", "=", "it's")),
        ("params.p = 'it''s'", C("param", "p", "=", "it's")),
        (r'params.p = "say \"hi\""', C("param", "p", "=", 'say "hi"')),
        (r"params.p = 'a\\b'", C("param", "p", "=", "a\\b")),
        (r"params.p = 'C:\dir'", C("param", "p", "=", "C:\\dir")),
        (r"params.p LIKE '50\%'", C("param", "p", "LIKE", "50\\%")),
        ("params.p = ''", C("param", "p", "=", "")),
        ("params.p = 'ünï ✓'", C("param", "p", "=", "ünï ✓")),
    ],
)
def test_parse_comparison(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


def test_comparison_remembers_its_column() -> None:
    expr = parse_filter("metrics.a = 1 and  params.b = 'x'")
    assert isinstance(expr, And)
    assert [c.column for c in expr.items] == [1, 20]  # type: ignore[union-attr]


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("metrics.acc > 0.9 or params.model = 'rf' and tags.team != 'x'") == Or(
        (ACC, And((RF, TEAM)))
    )
    assert parse_filter("metrics.acc > 0.9 AND params.model = 'rf' Or tags.team != 'x'") == Or(
        (And((ACC, RF)), TEAM)
    )


def test_parentheses_override_precedence_and_chains_flatten() -> None:
    assert parse_filter("(metrics.acc > 0.9 or params.model = 'rf') and tags.team != 'x'") == And(
        (Or((ACC, RF)), TEAM)
    )
    assert parse_filter("metrics.acc > 0.9 and (params.model = 'rf' and tags.team != 'x')") == (
        And((ACC, RF, TEAM))
    )
    assert parse_filter("((((metrics.acc > 0.9))))") == ACC


def _caret_column(message: str) -> int:
    lines = message.split("\n")
    assert len(lines) == 3, message
    assert lines[2].strip() == "^"
    return lines[2].index("^") - 1  # two spaces of indent, 1-based column


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("metrics.acc > and x", 15, "expected a value after '>'"),
        ("metrics.acc >", 14, "expected a value after '>', got the end"),
        ("metricz.acc > 1", 1, "unknown entity 'metricz'"),
        ("foo = 'x'", 1, "unknown attribute 'foo'"),
        ("attributes.`foo bar` = 'x'", 12, "unknown attribute 'foo bar'"),
        ("metrics.acc 0.5", 13, "expected an operator"),
        ("metrics.acc", 12, "expected an operator"),
        ("metrics.acc == 1", 14, "expected a value after '='"),
        ("metrics.acc ! 1", 13, "unexpected character '!'"),
        ("params.x = 'abc", 12, "unterminated string"),
        ('params."x = 1', 8, "unterminated string"),
        ("params.`x = 1", 8, "unterminated quoted key"),
        ("(metrics.a = 1", 1, "this '(' is never closed"),
        ("((metrics.a = 1) and metrics.b = 2", 1, "this '(' is never closed"),
        ("metrics.a = 1)", 14, "')' has no matching '('"),
        ("metrics.a = 1 x", 15, "expected AND or OR"),
        ("metrics.a = 1 and", 18, "expected a comparison like metrics.acc > 0.9 after 'and'"),
        ("and metrics.a = 1", 1, "expected a comparison"),
        ("metrics.a = 1 or or metrics.b = 2", 18, "got 'or'"),
        ("(metrics.a = 1 metrics.b = 2)", 16, "expected ')', AND or OR"),
        ("()", 2, "expected a comparison"),
        ("params.a IN ()", 14, "empty IN list"),
        ("params.a NOT IN ()", 18, "empty NOT IN list"),
        ("params.a IN 'x'", 13, "expected '(' after IN"),
        ("params.a IN ('x',)", 18, "expected a value after ','"),
        ("params.a IN ('x' 'y')", 18, "expected ',' or ')'"),
        ("params.a IN ('x'", 13, "this '(' is never closed"),
        ("params.a NOT LIKE 'x'", 14, "expected IN after NOT"),
        ("metrics.acc > 'high'", 15, "metrics.acc compares numbers, got the string 'high'"),
        ("metrics.acc IN (1, 'b')", 20, "compares numbers"),
        ("metrics.acc LIKE '1%'", 13, "metrics.acc does not support LIKE"),
        ("params.a < '1'", 10, "does not support <; use one of =, !=, LIKE, ILIKE, IN, NOT IN"),
        ("tags.a >= 'x'", 8, "tags.a does not support >="),
        ("params.depth = 3", 16, "params.depth compares strings: quote the value, '3'"),
        ("run_name = rf", 12, "unquoted value 'rf'"),
        ("start_time > 'yesterday'", 14, "start_time compares numbers"),
        ("start_time LIKE '1%'", 12, "does not support LIKE"),
        ("status = 'done'", 10, "valid statuses: RUNNING, SCHEDULED, FINISHED, FAILED"),
        ("status LIKE 'F%'", 8, "status does not support LIKE"),
        ("experiment_id = 'abc'", 17, "must be an integer id"),
        ("metrics.acc = nan", 15, "NaN"),
        ("metrics.acc > 1.2.3", 15, "invalid number '1.2.3'"),
        ("metrics.acc > 1abc", 15, "invalid number"),
        ("metrics. > 1", 10, "expected a key after 'metrics.'"),
        ("metrics.'acc' > 1", 9, "backticks or double quotes"),
        ('metrics."" > 1', 9, "empty key"),
        ("metrics > 1", 8, "expected '.<key>' after 'metrics'"),
        ("run_name LIKE 'a\\'", 15, "unterminated string"),
        ("run_name LIKE 'a\\\\\\\\\\'", 15, "unterminated string"),
        ('run_name LIKE "a\\\\"', 15, "unpaired backslash"),
        ("metrics.a = 1 and " + "(" * 80 + "metrics.b = 2" + ")" * 80, 83, "nested deeper"),
    ],
)
def test_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter(text)
    message = str(info.value)
    assert message.startswith(f"Invalid filter at column {column}: "), message
    assert fragment in message.split("\n")[0], message
    if len(text) < 60:
        assert message.split("\n")[1] == "  " + text
        assert _caret_column(message) == column
    assert info.value.code == "INVALID_PARAMETER"


def test_error_caret_aligns_in_multiline_and_long_filters() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter("metrics.a = 1\nand\tmetrics.b = ")
    assert _caret_column(str(info.value)) == 31
    long = "metrics.a = 1 and " * 10 + "metrics.b > 'x'" + " and metrics.c = 1" * 10
    with pytest.raises(InvalidInput) as info:
        parse_filter(long)
    first, shown, caret = str(info.value).split("\n")
    assert first.startswith("Invalid filter at column 193:")
    assert shown[caret.index("^") : caret.index("^") + 3] == "'x'"


def test_non_string_filter_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        parse_filter(42)  # type: ignore[arg-type]


def test_tokens_keep_positions() -> None:
    tokens = tokenize("metrics.`a b` >= -1e3")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("identifier", "metrics.", 0),
        ("quoted key", "`a b`", 8),
        ("operator", ">=", 14),
        ("number", "-1e3", 17),
        ("end", "", 21),
    ]
    assert tokens[3].value == -1000.0


# ----------------------------------------------------------------------------- order_by


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        (None, []),
        ([], []),
        (["metrics.acc DESC"], [OrderKey("metric", "acc", False)]),
        (["params.x"], [OrderKey("param", "x", True)]),
        (["start_time ASC"], [OrderKey("attribute", "start_time", True)]),
        (["attributes.run_name", "tags.t desc"], [
            OrderKey("attribute", "run_name", True), OrderKey("tag", "t", False),
        ]),
        (['metrics."val acc" desc'], [OrderKey("metric", "val acc", False)]),
        (["params.`a.b`   Asc "], [OrderKey("param", "a.b", True)]),
        (["metrics.val.acc"], [OrderKey("metric", "val.acc", True)]),
        (["created DESC"], [OrderKey("attribute", "start_time", False)]),
        ("name", [OrderKey("attribute", "name", True)]),
    ],
)  # fmt: skip
def test_parse_order_by(clauses: list[str] | None, expected: list[OrderKey]) -> None:
    assert parse_order_by(clauses) == expected


@pytest.mark.parametrize(
    ("clause", "fragment"),
    [
        ("metrics.acc DOWN", "at column 13: expected ASC or DESC, got 'DOWN'"),
        ("metrics.acc DESC x", "at column 18: expected nothing after ASC/DESC, got 'x'"),
        ("metricz.acc", "at column 1: unknown entity 'metricz'"),
        ("bogus", "at column 1: unknown attribute 'bogus'"),
        ("metrics.", "at column 9: expected a key after 'metrics.'"),
        ("DESC", "at column 1: expected a column to sort by"),
        ("metrics.`acc", "unterminated quoted key"),
        ("", "expected a column and an optional ASC/DESC"),
        ("  ", "expected a column"),
    ],
)
def test_order_by_errors_name_the_clause(clause: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_order_by(["start_time", clause])
    message = str(info.value)
    assert message.startswith("Invalid order_by clause"), message
    assert fragment in message, message
    if clause.strip():
        assert message.split("\n")[1] == "  " + clause


def test_order_by_rejects_non_strings() -> None:
    with pytest.raises(InvalidInput, match="Invalid order_by clause None"):
        parse_order_by([None])  # type: ignore[list-item]


# ----------------------------------------------------------------------------- property tests


def _compile_everywhere(expr: object) -> None:
    """Compiling a parsed filter must also give SQL or InvalidInput, nothing else."""
    for make in (run_filter_clause, experiment_filter_clause):
        try:
            clause = make(expr)  # type: ignore[arg-type]
        except InvalidInput:
            continue
        assert clause is not None
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            str(clause.compile(dialect=dialect))


def _parse_or_invalid(text: str) -> None:
    try:
        expr = parse_filter(text)
    except InvalidInput as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("Invalid filter")
    elif expr is None:
        assert not text.strip()
    else:
        _compile_everywhere(expr)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_random_strings_parse_or_raise_invalid_input(text: str) -> None:
    _parse_or_invalid(text)


SOUP = [
    "metrics.acc", "params.p", "tags.t", "attributes.status", "run_name", "start_time", "name",
    "metrics.", "params.", "`k`", '"k"', "'v'", "'FINISHED'", "'x%'", "1", "-2.5", "1e3", "inf",
    "-inf", "nan", "=", "!=", "<", "<=", ">", ">=", "==", "!", "LIKE", "ilike", "IN", "NOT",
    "not in", "and", "OR", "(", ")", ",", "'", '"', "`", "\\", "asc", "DESC", "experiment_id",
    "metricz.x", "created", "é", "%", ".", "-", "_x",
]  # fmt: skip


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(SOUP), st.sampled_from(["", " ", "  ", "\n"])), max_size=14)
)
def test_token_soup_parses_or_raises_invalid_input(parts: list[tuple[str, str]]) -> None:
    text = "".join(token + space for token, space in parts)
    _parse_or_invalid(text)
    try:
        keys = parse_order_by([text])
    except InvalidInput as exc:
        keys = str(exc)
    assert isinstance(keys, list) or keys.startswith("Invalid order_by clause")


# Round trip: random ASTs rendered to text parse back to the same AST.

_keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)
_strings = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)
_numbers = st.one_of(
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False),
)


def _quote_key(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


def _quote(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return repr(value)


def _render(expr: object) -> str:
    if isinstance(expr, And | Or):
        word = " and " if isinstance(expr, And) else " OR "
        return word.join(f"({_render(item)})" for item in expr.items)
    assert isinstance(expr, Comparison)
    plural = {"metric": "metrics.", "param": "params.", "tag": "tags.", "attribute": ""}
    field = plural[expr.entity] + (_quote_key(expr.key) if expr.entity != "attribute" else expr.key)
    if isinstance(expr.value, tuple):
        value = "(" + ", ".join(_quote(v) for v in expr.value) + ")"
    else:
        value = _quote(expr.value)
    return f"{field} {expr.op} {value}"


def _flatten(expr: object) -> object:
    if isinstance(expr, And | Or):
        items: list[object] = []
        for item in map(_flatten, expr.items):
            items.extend(item.items if type(item) is type(expr) else (item,))  # type: ignore[attr-defined]
        return type(expr)(tuple(items))  # type: ignore[arg-type]
    return expr


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    entity = draw(st.sampled_from(["metric", "param", "tag", "attribute"]))
    key = draw(_keys)
    if entity == "attribute":
        key = draw(st.sampled_from(sorted(ATTRIBUTE_KINDS)))
        kind = ATTRIBUTE_KINDS[key]
    else:
        kind = "number" if entity == "metric" else "string"
    ops = {
        "number": ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"],
        "string": ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"],
        "status": ["=", "!=", "IN", "NOT IN"],
        "id": ["=", "!=", "IN", "NOT IN"],
    }[kind]
    op = draw(st.sampled_from(ops))
    scalar = {
        "number": _numbers,
        "string": _strings.filter(lambda s: not s.endswith("\\")),
        "status": st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED", "PRUNED"]),
        "id": st.integers(0, 10**12),
    }[kind]
    if op in ("IN", "NOT IN"):
        value: object = tuple(draw(st.lists(scalar, min_size=1, max_size=3)))
    else:
        value = draw(scalar)
    return Comparison(entity, key, op, value)  # type: ignore[arg-type]


expressions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_rendered_expressions_parse_back(expr: object) -> None:
    text = _render(expr)
    assert parse_filter(text) == _flatten(expr), text


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    expressions,
    st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.sampled_from(["delete", "insert", "replace"]),
            st.sampled_from(SOUP),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_mutated_filters_parse_or_raise_invalid_input(
    expr: object, edits: list[tuple[int, str, str]]
) -> None:
    text = _render(expr)
    for position, action, token in edits:
        i = position % (len(text) + 1)
        if action == "delete":
            text = text[:i] + text[i + len(token) :]
        elif action == "insert":
            text = text[:i] + token + text[i:]
        else:
            text = text[:i] + token + text[i + len(token) :]
    _parse_or_invalid(text)
