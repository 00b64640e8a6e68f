"""The search filter language (MLflow-compatible ``filter_string`` and ``order_by``)."""

from tunetrack.search.filter import (
    And,
    Comparison,
    Expr,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from tunetrack.search.sql import (
    experiment_filter_clause,
    experiment_order_clauses,
    run_filter_clause,
    run_order_clauses,
)

__all__ = [
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderKey",
    "experiment_filter_clause",
    "experiment_order_clauses",
    "parse_filter",
    "parse_order_by",
    "run_filter_clause",
    "run_order_clauses",
]
