"""Store contract, numbers: a step, timestamp or time outside the 64-bit integer range, or a
metric value no float can hold, is InvalidInput naming the field on every backend, before
anything is written (not the driver's OverflowError or a database error).

Runs on every backend of the ``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tunetrack.entities import Metric
from tunetrack.errors import InvalidInput
from tunetrack.store.base import Store

T0 = 1_700_000_000_000
HUGE = 2**70  # beyond int64 either way
TOO_SMALL = -(2**63) - 1
ROWS = "64-bit integer range|less than or equal to 9223372036854775807"

WRITES: dict[str, tuple[str, Callable[[Store, str, str], object]]] = {
    "batch step": ("step", lambda s, e, r: s.log_batch(r, [Metric("m", 1.0, T0, HUGE)])),
    "batch negative step": (
        "step",
        lambda s, e, r: s.log_batch(r, [Metric("m", 1.0, T0, TOO_SMALL)]),
    ),
    "batch timestamp": ("timestamp", lambda s, e, r: s.log_batch(r, [Metric("m", 1.0, HUGE, 0)])),
    "batch value": ("value", lambda s, e, r: s.log_batch(r, [Metric("m", 2**1100, T0, 0)])),
    # bulk rows of ints are not range-checked before the database (that would cost as much
    # as all their other checks): the database's refusal names the range, not the field
    "rows step": (ROWS, lambda s, e, r: s.log_metric_rows([(r, "m", HUGE, T0, 1.0)])),
    "rows timestamp": (ROWS, lambda s, e, r: s.log_metric_rows([(r, "m", 0, HUGE, 1.0)])),
    "rows value": ("value", lambda s, e, r: s.log_metric_rows([(r, "m", 0, T0, 2**1100)])),
    "start time": ("start_time", lambda s, e, r: s.create_run(e, start_time=HUGE)),
    "end time": ("end_time", lambda s, e, r: s.update_run_info(r, end_time=HUGE)),
}


@pytest.mark.parametrize("field", WRITES)
def test_a_number_out_of_range_is_invalid_input_naming_the_field(
    store: Store, experiment_id: str, make_run, field: str
) -> None:
    named, write = WRITES[field]
    run_id = make_run(start_time=T0).info.run_id
    with pytest.raises(InvalidInput, match=named):
        write(store, experiment_id, run_id)
    run = store.get_run(run_id)
    assert run.data.metrics == {}
    assert run.info.end_time is None
    assert [r.info.run_id for r in store.search_runs([experiment_id])] == [run_id]


def test_the_int64_bounds_themselves_are_stored(store: Store, make_run) -> None:
    run_id = make_run(start_time=T0).info.run_id
    top, bottom = 2**63 - 1, -(2**63)
    store.log_batch(run_id, [Metric("m", 1.0, top, top), Metric("m", 2.0, bottom, bottom)])
    history = store.get_metric_history(run_id, "m")
    assert [(p.step, p.timestamp) for p in history] == [(bottom, bottom), (top, top)]
