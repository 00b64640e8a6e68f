"""Checks of the batched writer's bulk metric rows and batch ids, shared by the SQL and REST
stores."""

from __future__ import annotations

from collections.abc import Sequence

from tunetrack import _validation as v
from tunetrack.errors import InvalidInput
from tunetrack.store.base import MetricRow


def checked_metric_rows(rows: Sequence[MetricRow]) -> Sequence[MetricRow]:
    """Validate bulk rows; the common all-clean batch costs one pass of type checks.

    Steps and timestamps become 64-bit ints (a float timestamp is truncated) and values
    floats (numpy scalars included); a bad key, step, timestamp or value raises
    :class:`~tunetrack.errors.InvalidInput`.
    """
    for key in {r[1] for r in rows if type(r[1]) is str}:
        v.validate_key(key, "metric")
    clean = all(
        type(r[1]) is str
        and type(r[2]) is int
        and type(r[3]) is int
        and type(r[4]) is float
        and v.INT64_MIN <= r[2] <= v.INT64_MAX
        and v.INT64_MIN <= r[3] <= v.INT64_MAX
        for r in rows
    )
    if clean:
        return rows
    return [
        (
            r[0],
            v.validate_key(r[1], "metric"),
            v.to_step(r[2], r[1]),
            v.to_timestamp(r[3], r[1]),
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
    v.validate_id(writer_id, "writer_id")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise InvalidInput(f"batch seq must be a non-negative integer, got {seq!r}")
    return writer_id, seq


def checked_acked_below(acked_below: object, batch: tuple[str, int] | None) -> int | None:
    """The seq below which a writer will send no batch again (its ledger ids there may be
    forgotten): an integer from 0 up to the batch's own seq, and only with a batch id."""
    if acked_below is None:
        return None
    if batch is None:
        raise InvalidInput("acked_below goes with a batch id (writer_id and seq)")
    if type(acked_below) is not int or not 0 <= acked_below <= batch[1]:
        raise InvalidInput(
            f"acked_below must be an integer from 0 to the batch's seq {batch[1]}, "
            f"got {acked_below!r}"
        )
    return acked_below
