"""The search filter language (MLflow-compatible ``filter_string`` and ``order_by``), parsed
in pure Python; each store compiles the parsed filter (the SQL store in
:mod:`tunetrack.store.sql.filters`)."""

from tunetrack.search.filter import (
    And,
    Comparison,
    Expr,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)

__all__ = [
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]
