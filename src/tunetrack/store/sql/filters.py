"""Compile parsed filters and order_by keys to SQLAlchemy Core expressions.

Every value reaches the database as a bound parameter. Semantics:

- metrics compare the latest value per (run, key) in ``latest_metrics``; NaN is stored as
  NULL and so never matches, and a run without the metric never matches either;
- params and tags (and experiment tags) match only rows that have the key, so ``!=`` and
  ``NOT IN`` select runs that HAVE the key with another value;
- ``LIKE`` is case-sensitive on every backend (``GLOB`` on SQLite), ``ILIKE`` is not; both
  use backslash as the escape character (``'50\\%'`` matches ``50%``);
- ``parent_run_id`` of a top-level run compares as the empty string (``parent_run_id = ''``);
- sort keys that are missing (no such metric/param/tag, NaN, NULL) sort last both ways.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from tunetrack.errors import InvalidInput
from tunetrack.search.filter import And, Comparison, Expr, Or, OrderKey, Value
from tunetrack.store.sql import models as m

# ----------------------------------------------------------------------------- case-sensitive LIKE


class _CaseSensitiveLike(FunctionElement[bool]):
    """``column LIKE pattern ESCAPE '\\'``; on SQLite ``column GLOB <translated pattern>``.

    Both patterns are bound parameters of the element, so cached statements stay correct.
    """

    name = "tt_case_sensitive_like"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # no "= 1" on backends without a native boolean


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _glob = element.clauses
    return compiler.process(column.like(pattern, escape="\\"), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, _pattern, glob = element.clauses
    return compiler.process(column.op("GLOB", is_comparison=True)(glob), **kw)


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, backslash escapes) to an SQLite GLOB pattern."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            c = pattern[i + 1]
            i += 2
            out.append(f"[{c}]" if c in "*?[" else c)
            continue
        i += 1
        out.append("*" if c == "%" else "?" if c == "_" else f"[{c}]" if c in "*?[" else c)
    return "".join(out)


# ----------------------------------------------------------------------------- targets

_DOUBLE = Float(precision=53)
_RELATIONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Target:
    noun: str
    article: str  # "a run", "an experiment"
    id_column: ColumnElement[Any]
    attributes: dict[str, ColumnElement[Any]]
    children: dict[str, Table]  # entity -> table with (<id column>, key, value)
    id_name: str
    tie_break: tuple[ColumnElement[Any], ...]


_runs = m.runs.c
_exps = m.experiments.c
_RUN = _Target(
    noun="run",
    article="a run",
    id_column=_runs.run_id,
    attributes={
        name: _runs[name]
        for name in (
            "run_id",
            "run_name",
            "status",
            "user_id",
            "start_time",
            "end_time",
            "parent_run_id",
            "artifact_uri",
            "experiment_id",
        )
    },
    children={"metric": m.latest_metrics, "param": m.params, "tag": m.tags},
    id_name="run_id",
    tie_break=(_runs.start_time.desc(), _runs.run_id.asc()),
)
_EXPERIMENT = _Target(
    noun="experiment",
    article="an experiment",
    id_column=_exps.experiment_id,
    attributes={
        name: _exps[name] for name in ("experiment_id", "name", "creation_time", "last_update_time")
    },
    children={"tag": m.experiment_tags},
    id_name="experiment_id",
    tie_break=(_exps.experiment_id.asc(),),
)

_models = m.registered_models.c
_MODEL = _Target(
    noun="registered model",
    article="a registered model",
    id_column=_models.name,
    attributes={n: _models[n] for n in ("name", "creation_time", "last_updated_time")},
    children={"tag": m.registered_model_tags},
    id_name="name",
    tie_break=(_models.name.asc(),),
)
_versions = m.model_versions.c
_VERSION = _Target(
    noun="model version",
    article="a model version",
    id_column=_versions.name,  # tag filters below match on (name, version) pairs
    attributes={
        n: _versions[n]
        for n in ("name", "version", "run_id", "source", "current_stage", "creation_time")
    },
    children={},
    id_name="name",
    tie_break=(_versions.name.asc(), _versions.version.desc()),
)

# ----------------------------------------------------------------------------- filters


def _bind_type(column: ColumnElement[Any], values: tuple[Any, ...]) -> TypeEngine[Any]:
    """The type to bind values with, so no backend casts a float or a big int wrongly."""
    if all(isinstance(v, str) for v in values):
        return String()
    if isinstance(column.type, Float) or any(isinstance(v, float) for v in values):
        return _DOUBLE
    return BigInteger()


def _apply(column: ColumnElement[Any], op: str, value: Value) -> ColumnElement[bool]:
    """``column <op> value`` with ``value`` bound as a typed parameter."""
    values = _as_tuple(value)
    type_ = _bind_type(column, values)
    if type_ is _DOUBLE:
        values = tuple(float(v) for v in values)
    if op in ("IN", "NOT IN"):
        bound = bindparam(None, list(values), type_=type_, expanding=True)
        return column.in_(bound) if op == "IN" else column.not_in(bound)
    if len(values) != 1:
        raise InvalidInput(f"Invalid filter: {op} takes one value, got {len(values)}")
    (scalar,) = values
    if op in ("LIKE", "ILIKE"):
        pattern = str(scalar)
        if op == "ILIKE":
            return column.ilike(literal(pattern, String()), escape="\\")
        glob = literal(like_to_glob(pattern), String())
        return _CaseSensitiveLike(column, literal(pattern, String()), glob)
    if op in _RELATIONS:
        return _RELATIONS[op](column, literal(scalar, type_))
    raise InvalidInput(f"Invalid filter: unknown operator {op!r}")


def _comparison(
    c: Comparison, target: _Target, experiment_ids: Sequence[int] | None, per_run: bool
) -> ColumnElement[bool]:
    if c.entity == "attribute":
        column = target.attributes.get(c.key)
        if column is None:
            valid = ", ".join(sorted(target.attributes))
            raise c.error(f"{c.key!r} is not {target.article} attribute; use one of {valid}")
        if c.key == "parent_run_id" and not (c.op in ("=", "IN") and "" not in _as_tuple(c.value)):
            column = func.coalesce(column, "")  # top-level runs compare as ''
        return _apply(column, c.op, c.value)
    table = target.children.get(c.entity)
    if table is None:
        raise c.error(f"{c.entity} filters do not apply to {target.noun}s")
    holds = (table.c.key == c.key, _apply(table.c.value, c.op, c.value))
    if per_run:  # looked up for each run by its (id, key) primary key
        return (
            select(table.c.key).where(table.c[target.id_name] == target.id_column, *holds).exists()
        )
    matching = select(table.c[target.id_name]).where(*holds)
    if table is m.latest_metrics and experiment_ids:
        # lets the database walk ix_latest_metrics_exp_key_value_run for these experiments only
        matching = matching.where(table.c.experiment_id.in_(list(experiment_ids)))
    return target.id_column.in_(matching)


def _as_tuple(value: Value) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _compile(
    expr: Expr,
    target: _Target,
    experiment_ids: Sequence[int] | None = None,
    per_run: bool = False,
) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return _comparison(expr, target, experiment_ids, per_run)
    if isinstance(expr, And):
        return and_(*(_compile(item, target, experiment_ids, per_run) for item in expr.items))
    if isinstance(expr, Or):
        return or_(*(_compile(item, target, experiment_ids, per_run) for item in expr.items))
    raise InvalidInput(f"Invalid filter: not a filter expression: {expr!r}")


def run_filter_clause(
    expr: Expr | None, experiment_ids: Sequence[int] | None = None, *, per_run: bool = False
) -> ColumnElement[bool] | None:
    """A WHERE clause over ``models.runs`` for a parsed filter (``None`` for no filter).

    Pass the searched ``experiment_ids`` so metric conditions use the per-experiment index.
    A condition on metrics, params or tags is the set of matching runs (found once, through
    the key's index), or with ``per_run`` a lookup for each run visited: the better plan when
    the runs are read in an index's order until a page is full (SQLite would otherwise
    build every set in full first).
    """
    return None if expr is None else _compile(expr, _RUN, experiment_ids, per_run)


def experiment_filter_clause(expr: Expr | None) -> ColumnElement[bool] | None:
    """A WHERE clause over ``models.experiments`` for a parsed filter (``None`` for none)."""
    return None if expr is None else _compile(expr, _EXPERIMENT)


def registered_model_filter_clause(expr: Expr | None) -> ColumnElement[bool] | None:
    """A WHERE clause over ``models.registered_models`` (``name``, times, ``tags.*``)."""
    return None if expr is None else _compile(expr, _MODEL)


def model_version_filter_clause(expr: Expr | None) -> ColumnElement[bool] | None:
    """A WHERE clause over ``models.model_versions`` (name, version, run_id, stage…)."""
    return None if expr is None else _compile(expr, _VERSION)


# ----------------------------------------------------------------------------- order by


def _order(keys: list[OrderKey], target: _Target) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        if key.entity == "attribute":
            column = target.attributes.get(key.key)
            if column is None:
                valid = ", ".join(sorted(target.attributes))
                raise InvalidInput(
                    f"Invalid order_by clause: {key.key!r} is not {target.article} attribute; "
                    f"use one of {valid}"
                )
        else:
            table = target.children.get(key.entity)
            if table is None:
                raise InvalidInput(
                    f"Invalid order_by clause: cannot sort {target.noun}s by {key.entity}s"
                )
            column = (
                select(table.c.value)
                .where(table.c[target.id_name] == target.id_column, table.c.key == key.key)
                .scalar_subquery()
            )
        clauses.append((column.asc() if key.ascending else column.desc()).nulls_last())
    return [*clauses, *target.tie_break]


def run_order_clauses(keys: list[OrderKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses over ``models.runs``, ending with ``start_time DESC, run_id ASC``."""
    return _order(keys, _RUN)


def experiment_order_clauses(keys: list[OrderKey]) -> list[ColumnElement[Any]]:
    """ORDER BY clauses over ``models.experiments``, ending with ``experiment_id ASC``."""
    return _order(keys, _EXPERIMENT)
