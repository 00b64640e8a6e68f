"""Checks of the batched writer's bulk metric rows and batch ids, shared by the SQL and REST
stores."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tunetrack import _validation as v
from tunetrack.errors import InvalidInput
from tunetrack.store.base import MetricRow

_WRITER_ID = re.compile(r"[0-9a-zA-Z_-]{1,64}")


def checked_metric_rows(rows: Sequence[MetricRow]) -> Sequence[MetricRow]:
    """Validate bulk rows; the common all-clean batch costs one pass of type checks.

    Steps and timestamps become ints and values floats (numpy scalars included); a bad key,
    step, timestamp or value raises :class:`~tunetrack.errors.InvalidInput`.
    """
    for key in {r[1] for r in rows}:
        v.validate_key(key, "metric")
    clean = all(type(r[2]) is int and type(r[3]) is int and type(r[4]) is float for r in rows)
    if clean:
        return rows
    return [
        (
            r[0],
            r[1],
            v.to_step(r[2], r[1]),
            v.to_step(r[3], r[1], "timestamp"),
            v.to_metric_value(r[4], r[1]),
        )
        for r in rows
    ]


def checked_batch_id(batch_id: object) -> tuple[str, int]:
    """A metric batch id ``(writer_id, seq)``: 1-64 letters, digits, '-' or '_', and a
    non-negative 64-bit integer; anything else raises InvalidInput."""
    if not isinstance(batch_id, tuple | list) or len(batch_id) != 2:
        raise InvalidInput(f"batch_id must be (writer_id, seq), got {batch_id!r}")
    writer_id, seq = batch_id
    if not isinstance(writer_id, str) or not _WRITER_ID.fullmatch(writer_id):
        raise InvalidInput(f"writer_id must be 1-64 letters, digits, '-' or '_': {writer_id!r}")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise InvalidInput(f"batch seq must be a non-negative integer, got {seq!r}")
    return writer_id, seq
