"""Compiled filters and order_by run against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import NullPool

from tunetrack.errors import InvalidInput
from tunetrack.search import And, Comparison, Or, parse_filter, parse_order_by
from tunetrack.store.sql import models as m
from tunetrack.store.sql.filters import (
    experiment_filter_clause,
    experiment_order_clauses,
    like_to_glob,
    run_filter_clause,
    run_order_clauses,
)

PG_SERVER = os.environ.get(
    "TUNETRACK_TEST_POSTGRES_URI", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NAN = math.nan
INF = math.inf

EXPERIMENTS = [
    {"experiment_id": 1, "name": "alpha", "creation_time": 1000, "last_update_time": 5000,
     "tags": {"team": "vision"}},
    {"experiment_id": 2, "name": "beta-exp", "creation_time": 2000, "last_update_time": 3000,
     "tags": {"team": "nlp", "owner": "ann"}},
    {"experiment_id": 3, "name": "gamma_2", "creation_time": 3000, "last_update_time": 9000,
     "tags": {}},
]  # fmt: skip

# run_id, experiment, name, user, status, start, end, parent, params, tags, latest metrics
RUNS = [
    ("r1", 1, "rf-small", "ann", "FINISHED", 100, 200, None,
     {"model": "rf", "depth": "3", "opt": "adam"}, {"team": "vision", "note": "50% off"},
     {"acc": 0.91, "loss": 0.30}),
    ("r2", 1, "rf-large", "bob", "FINISHED", 200, 400, None,
     {"model": "rf", "depth": "10", "opt": "sgd"}, {"team": "nlp", "note": "a_b"},
     {"acc": 0.95, "loss": 0.20}),
    ("r3", 1, "XGB-1", "ann", "FAILED", 300, None, None,
     {"model": "xgb", "depth": "5"}, {"team": "Vision"},
     {"acc": NAN, "loss": INF}),
    ("r4", 1, "xgb-2", "carol", "RUNNING", 400, None, "r2",
     {"model": "XGB", "opt": "lbfgs"}, {"my key": "v", "note": "*star?"},
     {"acc": 0.80, "val.acc": 0.7}),
    ("r5", 2, "sweep", "dave", "FINISHED", 500, 600, None,
     {"lr rate": "0.1"}, {"mlflow.note": "x"}, {}),
    ("r6", 2, "trial_1", "dave", "PRUNED", 600, 650, "r5",
     {"model": "rf", "opt": "sgd"}, {"team": "vision"},
     {"acc": -1.5, "loss": 1e-3}),
    ("r7", 1, "tie-b", "eve", "KILLED", 700, 800, None, {}, {}, {"loss": 5.0}),
    ("r8", 1, "tie-a", "eve", "SCHEDULED", 700, None, None, {}, {"note": "[br]acket\\"}, {}),
]  # fmt: skip
ALL = {r[0] for r in RUNS}


def _insert(engine: sa.Engine) -> None:
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        for e in EXPERIMENTS:
            row = {k: v for k, v in e.items() if k != "tags"}
            conn.execute(
                sa.insert(m.experiments),
                [{**row, "artifact_location": "/a", "lifecycle_stage": "active"}],
            )
            for key, value in e["tags"].items():  # type: ignore[attr-defined]
                conn.execute(
                    sa.insert(m.experiment_tags),
                    [{"experiment_id": e["experiment_id"], "key": key, "value": value}],
                )
        for rid, exp, name, user, status, start, end, parent, params, tags, metrics in RUNS:
            conn.execute(
                sa.insert(m.runs),
                [
                    {
                        "run_id": rid,
                        "experiment_id": exp,
                        "run_name": name,
                        "user_id": user,
                        "status": status,
                        "start_time": start,
                        "end_time": end,
                        "parent_run_id": parent,
                        "lifecycle_stage": "active",
                        "artifact_uri": f"file:///store/{exp}/{rid}/artifacts",
                    }
                ],
            )
            for table, values in ((m.params, params), (m.tags, tags)):
                for key, value in values.items():
                    conn.execute(sa.insert(table), [{"run_id": rid, "key": key, "value": value}])
            for step, (key, value) in enumerate(metrics.items()):
                stored = None if math.isnan(value) else value
                conn.execute(
                    sa.insert(m.latest_metrics),
                    [
                        {
                            "run_id": rid,
                            "key": key,
                            "experiment_id": exp,
                            "step": 9 + step,
                            "timestamp": 2,
                            "value": stored,
                        }
                    ],
                )
                # an older point in the history table; search must read latest_metrics only
                series = conn.execute(sa.select(m.series_of(rid, key))).scalar_one()
                conn.execute(
                    sa.insert(m.metrics),
                    [
                        {"series_id": series, "step": 0, "timestamp": 1, "value": 12345.0},
                        {"series_id": series, "step": 9, "timestamp": 2, "value": stored},
                    ],
                )


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path = tmp_path_factory.mktemp("filter_sql") / "store.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    _insert(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[sa.Engine]:
    server = sa.create_engine(
        PG_SERVER,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    name = f"tunetrack_filter_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:  # pragma: no cover - depends on the machine
        reason = f"PostgreSQL not reachable at {PG_SERVER}: {exc.__class__.__name__}"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    engine = sa.create_engine(sa.make_url(PG_SERVER).set(database=name), poolclass=NullPool)
    try:
        _insert(engine)
        yield engine
    finally:
        engine.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    return request.getfixturevalue(f"{request.param}_engine")


def run_ids(engine: sa.Engine, filter_string: str | None, order_by: list[str] | None = None,
            limit: int | None = None) -> list[str]:  # fmt: skip
    query = sa.select(m.runs.c.run_id)
    clause = run_filter_clause(parse_filter(filter_string))
    if clause is not None:
        query = query.where(clause)
    query = query.order_by(*run_order_clauses(parse_order_by(order_by))).limit(limit)
    with engine.connect() as conn:
        return list(conn.scalars(query))


def experiment_ids(engine: sa.Engine, filter_string: str | None,
                   order_by: list[str] | None = None) -> list[int]:  # fmt: skip
    query = sa.select(m.experiments.c.experiment_id)
    clause = experiment_filter_clause(parse_filter(filter_string))
    if clause is not None:
        query = query.where(clause)
    query = query.order_by(*experiment_order_clauses(parse_order_by(order_by)))
    with engine.connect() as conn:
        return list(conn.scalars(query))


RUN_FILTERS = [
    # metrics: latest value, NaN and missing never match
    ("metrics.acc > 0.9", {"r1", "r2"}),
    ("metrics.acc != 0.8", {"r1", "r2", "r6"}),
    ("metrics.acc <= 0.8", {"r4", "r6"}),
    ("metrics.acc >= -1.5 and metrics.acc < 0", {"r6"}),
    ("metrics.acc = 0.91", {"r1"}),
    ("metrics.acc < 20000", {"r1", "r2", "r4", "r6"}),
    ("metrics.acc > 10000", set()),
    ("metrics.loss > 100", {"r3"}),
    ("metrics.loss = inf", {"r3"}),
    ("metrics.loss < inf", {"r1", "r2", "r6", "r7"}),
    ("metrics.loss > -inf", {"r1", "r2", "r3", "r6", "r7"}),
    ("metrics.loss < 1e-2", {"r6"}),
    ("metrics.loss <= 5", {"r1", "r2", "r6", "r7"}),
    ("metrics.loss < 9223372036854775807", {"r1", "r2", "r6", "r7"}),
    ("metrics.acc IN (0.8, -1.5)", {"r4", "r6"}),
    ("metrics.acc NOT IN (0.8)", {"r1", "r2", "r6"}),
    ("metrics.val.acc > 0.5", {"r4"}),
    ('metrics."val.acc" > 0.5', {"r4"}),
    ("metrics.missing > 0", set()),
    # params and tags: != and NOT IN only match runs that have the key
    ("params.model = 'rf'", {"r1", "r2", "r6"}),
    ("params.model != 'rf'", {"r3", "r4"}),
    ("params.model NOT IN ('rf', 'xgb')", {"r4"}),
    ("params.depth IN ('3', '5')", {"r1", "r3"}),
    ("params.`lr rate` = '0.1'", {"r5"}),
    ("tags.\"my key\" = 'v'", {"r4"}),
    ("tags.mlflow.note = 'x'", {"r5"}),
    ("tags.team = 'vision'", {"r1", "r6"}),
    ("tags.team != 'vision'", {"r2", "r3"}),
    # LIKE is case-sensitive, ILIKE is not; backslash escapes; GLOB specials are literal
    ("run_name LIKE 'xgb%'", {"r4"}),
    ("run_name ILIKE 'xgb%'", {"r3", "r4"}),
    ("run_name like 'rf-_____'", {"r1", "r2"}),
    ("params.model LIKE 'XGB'", {"r4"}),
    ("params.model ILIKE 'XgB'", {"r3", "r4"}),
    ("tags.team ILIKE 'VISION'", {"r1", "r3", "r6"}),
    ("tags.note LIKE '%_%'", {"r1", "r2", "r4", "r8"}),
    (r"tags.note LIKE '%\_%'", {"r2"}),
    (r"tags.note LIKE '50\%%'", {"r1"}),
    (r"tags.note LIKE '5\0%'", {"r1"}),
    ("tags.note LIKE '*%'", {"r4"}),
    ("tags.note LIKE '%?'", {"r4"}),
    ("tags.note LIKE '[br]%'", {"r8"}),
    ("tags.note LIKE '[b%'", {"r8"}),
    (r"tags.note LIKE '%\\\\'", {"r8"}),
    (r"tags.note ILIKE '%T\\\\'", {"r8"}),
    ("tags.note LIKE '%ACKET%'", set()),
    # attributes
    ("status = 'finished'", {"r1", "r2", "r5"}),
    ("attributes.status != 'FINISHED'", {"r3", "r4", "r6", "r7", "r8"}),
    ("run.status IN ('RUNNING', 'scheduled')", {"r4", "r8"}),
    ("status NOT IN ('RUNNING', 'FINISHED', 'FAILED')", {"r6", "r7", "r8"}),
    ("start_time >= 600", {"r6", "r7", "r8"}),
    ("created < 200", {"r1"}),
    ("start_time > 150.5", ALL - {"r1"}),
    ("start_time < 200.5", {"r1", "r2"}),
    ("start_time IN (100, 300.0)", {"r1", "r3"}),
    ("start_time < inf", ALL),
    ("end_time > 300", {"r2", "r5", "r6", "r7"}),
    ("end_time != 200", {"r2", "r5", "r6", "r7"}),
    ("user_id = 'ann'", {"r1", "r3"}),
    ("run_id IN ('r1', 'r8', 'nope')", {"r1", "r8"}),
    ("attr.run_name = 'sweep'", {"r5"}),
    ("artifact_uri LIKE '%/2/%'", {"r5", "r6"}),
    ("experiment_id = 2", {"r5", "r6"}),
    ("experiment_id != '1'", {"r5", "r6"}),
    ("experiment_id NOT IN (2, 3)", ALL - {"r5", "r6"}),
    ("parent_run_id = 'r2'", {"r4"}),
    ("parent_run_id = ''", ALL - {"r4", "r6"}),
    ("parent_run_id != ''", {"r4", "r6"}),
    ("parent_run_id != 'r2'", ALL - {"r4"}),
    ("parent_run_id IN ('r5', '')", ALL - {"r4"}),
    ("parent_run_id NOT IN ('r5')", ALL - {"r6"}),
    ("parent_run_id LIKE 'r%'", {"r4", "r6"}),
    # combinations
    ("params.model = 'rf' and metrics.acc < 0 or status = 'KILLED'", {"r6", "r7"}),
    ("params.model = 'rf' and (metrics.acc < 0 or status = 'KILLED')", {"r6"}),
    ("(params.model = 'rf' OR params.model = 'xgb') AND start_time > 150", {"r2", "r3", "r6"}),
    ("metrics.acc > 0.85 and params.model = 'rf' and tags.team != 'x' and status = 'FINISHED'",
     {"r1", "r2"}),
    ("tags.team = 'nlp' or tags.team = 'vision' or metrics.loss = 5", {"r1", "r2", "r6", "r7"}),
    (None, ALL),
    ("  ", ALL),
]  # fmt: skip


@pytest.mark.parametrize(("filter_string", "expected"), RUN_FILTERS)
def test_run_filter(engine: sa.Engine, filter_string: str | None, expected: set[str]) -> None:
    assert set(run_ids(engine, filter_string)) == expected


RUN_ORDERS = [
    ([], ["r7", "r8", "r6", "r5", "r4", "r3", "r2", "r1"]),
    (["metrics.acc DESC"], ["r2", "r1", "r4", "r6", "r7", "r8", "r5", "r3"]),
    (["metrics.acc"], ["r6", "r4", "r1", "r2", "r7", "r8", "r5", "r3"]),
    (["metrics.loss ASC"], ["r6", "r2", "r1", "r7", "r3", "r8", "r5", "r4"]),
    (["metrics.loss DESC"], ["r3", "r7", "r1", "r2", "r6", "r8", "r5", "r4"]),
    (['metrics."val.acc" desc'], ["r4", "r7", "r8", "r6", "r5", "r3", "r2", "r1"]),
    (["params.opt DESC", "start_time"], ["r2", "r6", "r4", "r1", "r3", "r5", "r7", "r8"]),
    (["tags.`my key`"], ["r4", "r7", "r8", "r6", "r5", "r3", "r2", "r1"]),
    (["end_time DESC"], ["r7", "r6", "r5", "r2", "r1", "r8", "r4", "r3"]),
    (["end_time"], ["r1", "r2", "r5", "r6", "r7", "r8", "r4", "r3"]),
    (["user_id DESC"], ["r7", "r8", "r6", "r5", "r4", "r2", "r3", "r1"]),
    (["status", "run_id DESC"], ["r3", "r5", "r2", "r1", "r7", "r6", "r4", "r8"]),
    (["parent_run_id DESC"], ["r6", "r4", "r7", "r8", "r5", "r3", "r2", "r1"]),
    (["created"], ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]),
    (["metrics.missing DESC"], ["r7", "r8", "r6", "r5", "r4", "r3", "r2", "r1"]),
]


@pytest.mark.parametrize(("order_by", "expected"), RUN_ORDERS)
def test_run_order(engine: sa.Engine, order_by: list[str], expected: list[str]) -> None:
    assert run_ids(engine, None, order_by) == expected


def test_filter_order_and_limit_together(engine: sa.Engine) -> None:
    assert run_ids(engine, "metrics.acc > 0", ["metrics.acc DESC"], limit=2) == ["r2", "r1"]
    assert run_ids(engine, "experiment_id = 1", ["metrics.loss"], limit=3) == ["r2", "r1", "r7"]


def test_cached_statements_rebind_patterns(engine: sa.Engine) -> None:
    # Same statement shape, different patterns: the compiled-statement cache must rebind.
    for _ in range(2):
        assert set(run_ids(engine, "params.model LIKE 'rf%'")) == {"r1", "r2", "r6"}
        assert set(run_ids(engine, "params.model LIKE 'xg%'")) == {"r3"}
        assert set(run_ids(engine, "params.model LIKE 'X%'")) == {"r4"}


EXPERIMENT_FILTERS = [
    ("name = 'alpha'", [1]),
    ("attributes.name != 'alpha'", [2, 3]),
    ("name LIKE 'BETA%'", []),
    ("name ILIKE 'BETA%'", [2]),
    (r"name LIKE '%\_2'", [3]),
    ("name IN ('alpha', 'gamma_2')", [1, 3]),
    ("creation_time > 1500", [2, 3]),
    ("last_update_time <= 5000", [1, 2]),
    ("tags.team = 'nlp'", [2]),
    ("tags.team != 'nlp'", [1]),
    ("tags.owner LIKE 'a%' or experiment_id = 3", [2, 3]),
    ("experiment_id IN (1, '3')", [1, 3]),
    (None, [1, 2, 3]),
]


@pytest.mark.parametrize(("filter_string", "expected"), EXPERIMENT_FILTERS)
def test_experiment_filter(engine: sa.Engine, filter_string: str | None,
                           expected: list[int]) -> None:  # fmt: skip
    assert experiment_ids(engine, filter_string) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([], [1, 2, 3]),
        (["name DESC"], [3, 2, 1]),
        (["creation_time DESC"], [3, 2, 1]),
        (["last_update_time"], [2, 1, 3]),
        (["tags.team"], [2, 1, 3]),
        (["tags.team DESC"], [1, 2, 3]),
    ],
)
def test_experiment_order(engine: sa.Engine, order_by: list[str], expected: list[int]) -> None:
    assert experiment_ids(engine, None, order_by) == expected


@pytest.mark.parametrize(
    ("filter_string", "fragment"),
    [
        ("metrics.acc > 1", "at column 1: metric filters do not apply to experiments"),
        ("params.x = 'a'", "param filters do not apply to experiments"),
        ("name = 'a' and run_name = 'x'", "at column 16: 'run_name' is not an experiment"),
        ("status = 'FINISHED'", "'status' is not an experiment attribute"),
    ],
)
def test_experiment_filter_rejects_run_fields(filter_string: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(fragment)):
        experiment_filter_clause(parse_filter(filter_string))


def test_run_filter_rejects_experiment_attributes() -> None:
    with pytest.raises(InvalidInput) as info:
        run_filter_clause(parse_filter("metrics.a > 1 or name = 'x'"))
    message = str(info.value)
    assert message.startswith("Invalid filter at column 18: 'name' is not a run attribute")
    assert message.split("\n")[2].index("^") == 19


@pytest.mark.parametrize(
    ("keys", "make", "fragment"),
    [
        (["name"], run_order_clauses, "'name' is not a run attribute"),
        (["run_name"], experiment_order_clauses, "'run_name' is not an experiment attribute"),
        (["metrics.acc"], experiment_order_clauses, "cannot sort experiments by metrics"),
    ],
)
def test_order_by_rejects_fields_of_the_other_kind(keys: list[str], make: Any,
                                                   fragment: str) -> None:  # fmt: skip
    with pytest.raises(InvalidInput, match=re.escape(fragment)):
        make(parse_order_by(keys))


def test_values_are_bound_parameters() -> None:
    evil = "x' OR '1'='1"
    quoted = evil.replace("'", "''")
    clause = run_filter_clause(parse_filter(f"params.model = '{quoted}'"))
    compiled = sa.select(m.runs.c.run_id).where(clause).compile()  # type: ignore[arg-type]
    assert evil not in str(compiled)
    assert evil in compiled.params.values()


def test_sql_injection_attempt_matches_nothing(engine: sa.Engine) -> None:
    assert run_ids(engine, "params.model = 'x'' OR ''1''=''1'") == []
    assert run_ids(engine, "tags.`x\"; DROP TABLE runs; --` = 'v'") == []
    assert len(run_ids(engine, None)) == len(RUNS)


@pytest.mark.parametrize(
    ("like", "glob"),
    [
        ("abc", "abc"),
        ("a%b_c", "a*b?c"),
        ("a*b?c[d]", "a[*]b[?]c[[]d]"),
        (r"50\%\_\\x", r"50%_\x"),
        (r"\*\a", "[*]a"),
    ],
)
def test_like_to_glob(like: str, glob: str) -> None:
    assert like_to_glob(like) == glob


# ----------------------------------------------------------------------------- differential test
# Random filters over the data set, evaluated in Python and by the database: same runs.


def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _holds(value: Any, op: str, literal: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if op in ("IN", "NOT IN"):
        return (value in literal) == (op == "IN")
    if op == "LIKE":
        return _like_regex(literal).fullmatch(value) is not None
    if op == "ILIKE":
        return _like_regex(literal.lower()).fullmatch(value.lower()) is not None
    return {"=": value == literal, "!=": value != literal, "<": value < literal,
            "<=": value <= literal, ">": value > literal, ">=": value >= literal}[op]  # fmt: skip


FIELDS = ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time", "end_time",
          "parent_run_id", "params", "tags", "metrics")  # fmt: skip


def _evaluate(expr: Any, run: tuple[Any, ...]) -> bool:
    if isinstance(expr, And):
        return all(_evaluate(item, run) for item in expr.items)
    if isinstance(expr, Or):
        return any(_evaluate(item, run) for item in expr.items)
    assert isinstance(expr, Comparison)
    row = dict(zip(FIELDS, run, strict=True))
    if expr.entity == "attribute":
        value = row[expr.key]
        if expr.key == "parent_run_id":
            value = value or ""
    else:
        value = row[expr.entity + "s"].get(expr.key)
    return _holds(value, expr.op, expr.value)


_numbers = st.sampled_from([0.8, 0.91, -1.5, 0.0, 1, 0.3, 5, 1e-3, INF, -INF])
_strings = st.sampled_from(
    [
        "rf",
        "xgb",
        "XGB",
        "3",
        "10",
        "sgd",
        "vision",
        "Vision",
        "nlp",
        "",
        "r2",
        "r5",
        "ann",
        "eve",
        "FINISHED",
        "a_b",
        "50% off",
    ]
)
_patterns = st.sampled_from(
    [
        "rf%",
        "%g%",
        "X%",
        "_gb",
        "%",
        "%\\_%",
        "50\\%%",
        "*%",
        "[br]%",
        "%?",
        "%I%",
        "r_",
        "%a%",
        "sgd",
    ]
)
_ops = {"number": ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"],
        "string": ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]}  # fmt: skip
_fields = [
    ("metric", "acc", "number"), ("metric", "loss", "number"), ("metric", "val.acc", "number"),
    ("param", "model", "string"), ("param", "opt", "string"), ("param", "depth", "string"),
    ("tag", "team", "string"), ("tag", "note", "string"), ("tag", "nope", "string"),
    ("attribute", "run_name", "string"), ("attribute", "user_id", "string"),
    ("attribute", "parent_run_id", "string"), ("attribute", "start_time", "number"),
    ("attribute", "end_time", "number"),
]  # fmt: skip


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    entity, key, kind = draw(st.sampled_from(_fields))
    op = draw(st.sampled_from(_ops[kind]))
    if op in ("IN", "NOT IN"):
        values = _numbers if kind == "number" else _strings
        return Comparison(entity, key, op, tuple(draw(st.lists(values, min_size=1, max_size=3))))
    if kind == "number":
        value: Any = draw(_numbers)
        if entity == "attribute" and math.isfinite(value):
            value = draw(st.sampled_from([100, 250, 400, 650, 700.5]))
    else:
        value = draw(_patterns if "LIKE" in op else _strings)
    return Comparison(entity, key, op, value)


_exprs = st.recursive(
    _comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_database_agrees_with_python_semantics(backend: str,
                                               request: pytest.FixtureRequest) -> None:  # fmt: skip
    engine: sa.Engine = request.getfixturevalue(f"{backend}_engine")

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_exprs)
    def check(expr: Any) -> None:
        query = sa.select(m.runs.c.run_id).where(run_filter_clause(expr))  # type: ignore[arg-type]
        with engine.connect() as conn:
            got = set(conn.scalars(query))
        assert got == {run[0] for run in RUNS if _evaluate(expr, run)}, expr

    check()
