"""Store contract, logging: log_batch, log_metric_rows, delete_tag, get_metric_history.

Runs on every backend of the ``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import math

import pytest

from tunetrack.entities import Metric, Param, RunStatus, RunTag
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import Store

T0 = 1_700_000_000_000
MISSING_RUN = "0" * 32
INF = float("inf")


@pytest.fixture
def run_id(make_run) -> str:
    return make_run(start_time=T0).info.run_id


def _history(store: Store, run_id: str, key: str) -> list[tuple[int, int, float]]:
    return [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, key)]


# -- params, tags, metrics round-trip -------------------------------------------------------
def test_log_batch_round_trips_params_tags_and_metrics(store: Store, run_id: str) -> None:
    store.log_batch(
        run_id,
        metrics=[Metric("acc", 0.91, T0, 0), Metric("loss", 0.25, T0, 0)],
        params=[Param("lr", "0.01"), Param("model", "rf")],
        tags=[RunTag("team", "vision"), RunTag("note", "hello ✓")],
    )
    data = store.get_run(run_id).data
    assert dict(data.metrics) == {"acc": 0.91, "loss": 0.25}
    assert dict(data.params) == {"lr": "0.01", "model": "rf"}
    assert data.tags["team"] == "vision"
    assert data.tags["note"] == "hello ✓"


def test_log_batch_with_nothing_is_a_no_op(store: Store, run_id: str) -> None:
    store.log_batch(run_id)
    assert dict(store.get_run(run_id).data.params) == {}


def test_convenience_methods_write_through_log_batch(store: Store, run_id: str) -> None:
    store.log_param(run_id, "depth", "5")
    store.set_tag(run_id, "stage", "dev")
    store.log_metric(run_id, Metric("f1", 0.8, T0, 3))
    data = store.get_run(run_id).data
    assert data.params["depth"] == "5"
    assert data.tags["stage"] == "dev"
    assert data.metrics["f1"] == 0.8


def test_long_param_value_round_trips(store: Store, run_id: str) -> None:
    value = "x" * 6000
    store.log_param(run_id, "long", value)
    assert store.get_run(run_id).data.params["long"] == value


def test_metric_value_keeps_full_double_precision(store: Store, run_id: str) -> None:
    value = 0.1 + 0.2  # 0.30000000000000004
    store.log_metric(run_id, Metric("precise", value, T0))
    assert store.get_run(run_id).data.metrics["precise"] == value
    assert store.get_metric_history(run_id, "precise")[0].value == value


# -- params are immutable ----------------------------------------------------------------
def test_logging_a_param_again_with_the_same_value_is_fine(store: Store, run_id: str) -> None:
    store.log_param(run_id, "lr", "0.1")
    store.log_param(run_id, "lr", "0.1")
    assert store.get_run(run_id).data.params["lr"] == "0.1"


def test_changing_a_param_is_a_conflict_and_keeps_the_first(store: Store, run_id: str) -> None:
    store.log_param(run_id, "lr", "0.1")
    with pytest.raises(Conflict):
        store.log_param(run_id, "lr", "0.2")
    assert store.get_run(run_id).data.params["lr"] == "0.1"


def test_a_conflicting_batch_writes_nothing(store: Store, run_id: str) -> None:
    store.log_param(run_id, "lr", "0.1")
    with pytest.raises(Conflict):
        store.log_batch(
            run_id,
            metrics=[Metric("loss", 1.0, T0)],
            params=[Param("depth", "3"), Param("lr", "0.2")],
            tags=[RunTag("t", "v")],
        )
    data = store.get_run(run_id).data
    assert dict(data.params) == {"lr": "0.1"}
    assert "loss" not in data.metrics
    assert "t" not in data.tags
    assert store.get_metric_history(run_id, "loss") == []


def test_same_param_key_in_two_runs_is_independent(store: Store, make_run) -> None:
    a, b = make_run().info.run_id, make_run().info.run_id
    store.log_param(a, "lr", "0.1")
    store.log_param(b, "lr", "0.2")
    assert store.get_run(a).data.params["lr"] == "0.1"
    assert store.get_run(b).data.params["lr"] == "0.2"


# -- tags ----------------------------------------------------------------------------------
def test_set_tag_overwrites(store: Store, run_id: str) -> None:
    store.set_tag(run_id, "stage", "dev")
    store.set_tag(run_id, "stage", "prod")
    assert store.get_run(run_id).data.tags["stage"] == "prod"


def test_delete_tag_removes_it(store: Store, run_id: str) -> None:
    store.set_tag(run_id, "gone", "x")
    store.set_tag(run_id, "kept", "y")
    store.delete_tag(run_id, "gone")
    tags = store.get_run(run_id).data.tags
    assert "gone" not in tags
    assert tags["kept"] == "y"


def test_delete_tag_of_a_missing_tag_is_not_found(store: Store, run_id: str) -> None:
    with pytest.raises(NotFound):
        store.delete_tag(run_id, "never-set")


def test_delete_tag_of_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.delete_tag(MISSING_RUN, "k")


# -- NaN and infinities ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "check"),
    [
        (math.nan, math.isnan),
        (INF, lambda v: v == INF),
        (-INF, lambda v: v == -INF),
    ],
    ids=["nan", "+inf", "-inf"],
)
def test_special_float_is_stored_and_read_back(store: Store, run_id: str, value, check) -> None:
    store.log_metric(run_id, Metric("special", value, T0, 0))
    latest = store.get_run(run_id).data.metrics["special"]
    assert isinstance(latest, float)
    assert check(latest)
    [point] = store.get_metric_history(run_id, "special")
    assert check(point.value)


def test_special_floats_in_history_keep_their_order(store: Store, run_id: str) -> None:
    values = [1.0, math.nan, INF, -INF, 0.0]
    store.log_batch(run_id, metrics=[Metric("m", v, T0 + i, i) for i, v in enumerate(values)])
    got = [m.value for m in store.get_metric_history(run_id, "m")]
    assert got[0] == 1.0
    assert math.isnan(got[1])
    assert got[2:] == [INF, -INF, 0.0]


def test_nan_as_the_latest_point_is_the_latest_value(store: Store, run_id: str) -> None:
    store.log_batch(run_id, metrics=[Metric("m", 1.0, T0, 0), Metric("m", math.nan, T0, 1)])
    assert math.isnan(store.get_run(run_id).data.metrics["m"])


# -- history ---------------------------------------------------------------------------------
def test_history_returns_every_point_ordered_by_step_then_timestamp(
    store: Store, run_id: str
) -> None:
    logged = [
        Metric("loss", 0.3, T0 + 30, 2),
        Metric("loss", 0.9, T0 + 10, 0),
        Metric("loss", 0.5, T0 + 25, 1),
        Metric("loss", 0.6, T0 + 20, 1),
        Metric("loss", 0.2, T0 + 40, 3),
    ]
    store.log_batch(run_id, metrics=logged[:2])
    store.log_batch(run_id, metrics=logged[2:])
    assert _history(store, run_id, "loss") == [
        (0, T0 + 10, 0.9),
        (1, T0 + 20, 0.6),
        (1, T0 + 25, 0.5),
        (2, T0 + 30, 0.3),
        (3, T0 + 40, 0.2),
    ]


def test_points_of_one_step_and_time_come_back_in_logged_order(store: Store, run_id: str) -> None:
    """Equal step and timestamp: the order of logging decides (not the values), within a
    batch and across batches, on both write paths."""
    store.log_batch(run_id, metrics=[Metric("m", v, T0, 7) for v in (0.5, 0.1)])
    store.log_metric_rows([(run_id, "m", 7, T0, v) for v in (0.9, 0.3)])
    store.log_batch(run_id, metrics=[Metric("m", 0.2, T0, 7)])
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [0.5, 0.1, 0.9, 0.3, 0.2]


def test_history_points_carry_key_and_are_metrics(store: Store, run_id: str) -> None:
    store.log_metric(run_id, Metric("acc", 0.5, T0 + 7, 4))
    assert store.get_metric_history(run_id, "acc") == [Metric("acc", 0.5, T0 + 7, 4)]


def test_history_only_holds_the_asked_key_and_run(store: Store, make_run, run_id: str) -> None:
    other = make_run().info.run_id
    store.log_metric(run_id, Metric("a", 1.0, T0, 0))
    store.log_metric(run_id, Metric("b", 2.0, T0, 0))
    store.log_metric(other, Metric("a", 3.0, T0, 0))
    assert _history(store, run_id, "a") == [(0, T0, 1.0)]


def test_history_of_a_never_logged_key_is_empty(store: Store, run_id: str) -> None:
    assert store.get_metric_history(run_id, "never") == []


def test_history_of_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_metric_history(MISSING_RUN, "loss")


def test_history_keeps_a_thousand_points(store: Store, run_id: str) -> None:
    store.log_batch(run_id, metrics=[Metric("m", i / 10, T0 + i, i) for i in range(1000)])
    history = store.get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(1000))
    assert history[-1].value == 99.9


# -- latest value ----------------------------------------------------------------------------
def test_latest_metric_is_the_highest_step_even_logged_out_of_order(
    store: Store, run_id: str
) -> None:
    store.log_metric(run_id, Metric("acc", 0.8, T0 + 100, 5))
    store.log_metric(run_id, Metric("acc", 0.2, T0 + 200, 2))  # later, but an earlier step
    assert store.get_run(run_id).data.metrics["acc"] == 0.8
    store.log_metric(run_id, Metric("acc", 0.9, T0 + 50, 6))
    assert store.get_run(run_id).data.metrics["acc"] == 0.9


def test_latest_metric_breaks_step_ties_by_timestamp(store: Store, run_id: str) -> None:
    store.log_metric(run_id, Metric("acc", 0.7, T0 + 200, 3))
    store.log_metric(run_id, Metric("acc", 0.4, T0 + 100, 3))  # same step, older
    assert store.get_run(run_id).data.metrics["acc"] == 0.7


def test_latest_metric_within_one_batch_out_of_order(store: Store, run_id: str) -> None:
    store.log_batch(
        run_id,
        metrics=[Metric("m", 3.0, T0, 3), Metric("m", 9.0, T0, 9), Metric("m", 1.0, T0, 1)],
    )
    assert store.get_run(run_id).data.metrics["m"] == 9.0


# -- log_metric_rows (the batched writer's path) ---------------------------------------
def test_log_metric_rows_updates_two_runs_in_one_call(store: Store, make_run) -> None:
    a, b = make_run().info.run_id, make_run().info.run_id
    store.log_metric_rows(
        [
            (a, "loss", 0, T0, 1.0),
            (b, "loss", 0, T0, 2.0),
            (a, "loss", 1, T0 + 1, 0.5),
            (b, "loss", 1, T0 + 1, 1.5),
            (b, "acc", 0, T0, 0.7),
        ]
    )
    assert dict(store.get_run(a).data.metrics) == {"loss": 0.5}
    assert dict(store.get_run(b).data.metrics) == {"loss": 1.5, "acc": 0.7}
    assert _history(store, a, "loss") == [(0, T0, 1.0), (1, T0 + 1, 0.5)]
    assert _history(store, b, "loss") == [(0, T0, 2.0), (1, T0 + 1, 1.5)]


def test_a_batch_of_many_series_new_and_old_puts_each_point_under_its_own(
    store: Store, make_run
) -> None:
    # 3 runs x 300 keys: more series than one lookup of their ids holds; half of them exist
    # already with a higher step, so the batch leaves their latest values as they are
    runs = [make_run().info.run_id for _ in range(3)]
    pairs = [(run, f"k{i}") for run in runs for i in range(300)]
    store.log_metric_rows([(r, k, 5, T0, -float(n)) for n, (r, k) in enumerate(pairs) if n % 2])
    store.log_metric_rows(
        [(r, k, s, T0 + s, n + s / 10) for n, (r, k) in enumerate(pairs) for s in (0, 1)]
    )
    for run in runs:
        latest = store.get_run(run).data.metrics
        expected = {k: n + 0.1 for n, (r, k) in enumerate(pairs) if r == run and not n % 2}
        expected |= {k: -float(n) for n, (r, k) in enumerate(pairs) if r == run and n % 2}
        assert dict(latest) == expected
    for n in (0, 249, 250, 599, 899):
        run, key = pairs[n]
        points = [(0, T0, float(n)), (1, T0 + 1, n + 0.1)]
        assert _history(store, run, key) == ([*points, (5, T0, -float(n))] if n % 2 else points)


def test_log_metric_rows_does_not_lower_the_latest_step(store: Store, run_id: str) -> None:
    store.log_metric_rows([(run_id, "m", 10, T0, 10.0)])
    store.log_metric_rows([(run_id, "m", 4, T0 + 1, 4.0)])
    assert store.get_run(run_id).data.metrics["m"] == 10.0


def test_log_metric_rows_keeps_special_floats(store: Store, run_id: str) -> None:
    store.log_metric_rows([(run_id, "n", 0, T0, math.nan), (run_id, "i", 0, T0, -INF)])
    metrics = store.get_run(run_id).data.metrics
    assert math.isnan(metrics["n"])
    assert metrics["i"] == -INF


def test_a_metric_batch_sent_again_with_its_batch_id_is_stored_once(
    store: Store, run_id: str
) -> None:
    rows = [(run_id, "m", 0, T0, 1.0), (run_id, "m", 1, T0 + 1, 2.0)]
    store.log_metric_rows(rows, batch_id=("writer-a", 7))
    store.log_metric_rows(rows, batch_id=("writer-a", 7))  # the retry after a lost answer
    assert _history(store, run_id, "m") == [(0, T0, 1.0), (1, T0 + 1, 2.0)]


def test_a_metric_batch_sent_again_after_its_run_was_deleted_is_skipped_quietly(
    store: Store, run_id: str
) -> None:
    """The first attempt was written: its retry is answered as done, not refused."""
    rows = [(run_id, "m", 0, T0, 1.0)]
    store.log_metric_rows(rows, batch_id=("writer-a", 3))
    store.delete_run(run_id)
    store.log_metric_rows(rows, batch_id=("writer-a", 3))
    store.restore_run(run_id)
    assert _history(store, run_id, "m") == [(0, T0, 1.0)]


def test_a_metric_batch_with_one_deleted_run_writes_none_of_its_runs(
    store: Store, make_run
) -> None:
    live, deleted = make_run().info.run_id, make_run().info.run_id
    store.delete_run(deleted)
    rows = [(live, "m", 0, T0, 1.0), (deleted, "m", 0, T0, 2.0), (live, "m", 1, T0, 3.0)]
    with pytest.raises(InvalidInput, match=deleted):
        store.log_metric_rows(rows, batch_id=("writer-a", 1))
    assert _history(store, live, "m") == []
    assert dict(store.get_run(live).data.metrics) == {}
    store.log_metric_rows(rows[:1], batch_id=("writer-a", 1))  # the id was not used up
    assert _history(store, live, "m") == [(0, T0, 1.0)]


def test_metric_batches_with_other_batch_ids_are_all_stored(store: Store, run_id: str) -> None:
    row = (run_id, "m", 0, T0, 1.0)
    for batch_id in [("writer-a", 1), ("writer-a", 2), ("writer-b", 1)]:
        store.log_metric_rows([row], batch_id=batch_id)
    store.log_metric_rows([row])  # no batch id: never taken for a replay
    assert len(_history(store, run_id, "m")) == 4


def test_a_refused_metric_batch_does_not_use_up_its_batch_id(store: Store, run_id: str) -> None:
    with pytest.raises(NotFound):
        store.log_metric_rows([(MISSING_RUN, "m", 0, T0, 1.0)], batch_id=("writer-a", 1))
    store.log_metric_rows([(run_id, "m", 0, T0, 1.0)], batch_id=("writer-a", 1))
    assert _history(store, run_id, "m") == [(0, T0, 1.0)]


def test_a_log_batch_sent_again_with_its_batch_id_is_stored_once(store: Store, run_id: str) -> None:
    metrics = [Metric("m", 1.0, T0, 0), Metric("m", 2.0, T0 + 1, 1)]
    for _ in range(2):  # the second: the retry after a lost answer
        store.log_batch(run_id, metrics, [Param("p", "1")], [RunTag("t", "a")], batch_id=("w", 3))
    assert _history(store, run_id, "m") == [(0, T0, 1.0), (1, T0 + 1, 2.0)]
    # log_batch and log_metric_rows share the record of batch ids
    store.log_metric_rows([(run_id, "m", 2, T0 + 2, 3.0)], batch_id=("w", 3))
    assert len(_history(store, run_id, "m")) == 2


def test_a_refused_log_batch_does_not_use_up_its_batch_id(store: Store, run_id: str) -> None:
    store.log_batch(run_id, params=[Param("p", "1")])
    with pytest.raises(Conflict):
        store.log_batch(run_id, [Metric("m", 1.0, T0, 0)], [Param("p", "2")], batch_id=("w", 1))
    store.log_batch(run_id, [Metric("m", 1.0, T0, 0)], batch_id=("w", 1))
    assert _history(store, run_id, "m") == [(0, T0, 1.0)]


@pytest.mark.parametrize("batch_id", [("", 1), ("w" * 65, 1), ("w", -1), ("w", "1")])
def test_a_bad_batch_id_is_invalid(store: Store, run_id: str, batch_id) -> None:
    with pytest.raises(InvalidInput):
        store.log_metric_rows([(run_id, "m", 0, T0, 1.0)], batch_id=batch_id)
    assert _history(store, run_id, "m") == []


def test_batch_ids_at_or_above_acked_below_are_still_skipped_when_sent_again(
    store: Store, run_id: str
) -> None:
    rows = [[(run_id, "m", step, T0, float(step))] for step in range(3)]
    for seq, batch in enumerate(rows, start=1):
        store.log_metric_rows(batch, batch_id=("writer-a", seq), acked_below=seq)
    # batch 3 in flight again (its answer was lost), batch 2 still open on another thread
    store.log_metric_rows(rows[2], batch_id=("writer-a", 3), acked_below=2)
    assert _history(store, run_id, "m") == [(step, T0, float(step)) for step in range(3)]


@pytest.mark.parametrize(
    ("batch_id", "acked_below"), [(("w", 2), 3), (("w", 2), -1), (("w", 2), "1"), (None, 1)]
)
def test_a_bad_acked_below_is_invalid(store: Store, run_id: str, batch_id, acked_below) -> None:
    with pytest.raises(InvalidInput, match="acked_below"):
        store.log_metric_rows(
            [(run_id, "m", 0, T0, 1.0)], batch_id=batch_id, acked_below=acked_below
        )
    assert _history(store, run_id, "m") == []


@pytest.mark.sql_only
def test_the_store_forgets_a_writer_s_batch_ids_below_acked_below(
    store: Store, run_id: str
) -> None:
    """The ledger of batch ids stays as small as the writers' open retries."""
    from sqlalchemy import select

    from tunetrack.store.sql import models as m

    for seq in range(1, 21):
        store.log_metric_rows(
            [(run_id, "m", seq, T0, 1.0)], batch_id=("writer-a", seq), acked_below=seq - 1
        )
    store.log_metric_rows([(run_id, "m", 0, T0, 1.0)], batch_id=("writer-b", 1))
    with store._engine.connect() as conn:  # type: ignore[attr-defined]
        ledger = conn.execute(select(m.metric_batches.c.writer_id, m.metric_batches.c.seq)).all()
    assert sorted(ledger) == [("writer-a", 19), ("writer-a", 20), ("writer-b", 1)]
    assert len(_history(store, run_id, "m")) == 21


def test_log_metric_rows_with_no_rows_is_a_no_op(store: Store, run_id: str) -> None:
    store.log_metric_rows([])
    assert store.get_run(run_id).data.metrics == {}


def test_log_metric_rows_to_a_missing_run_is_not_found(store: Store, run_id: str) -> None:
    with pytest.raises(NotFound):
        store.log_metric_rows([(MISSING_RUN, "m", 0, T0, 1.0)])


@pytest.mark.parametrize(
    "row",
    [
        ("", 0, T0, 1.0),
        ("m", 0, T0, "high"),
        ("m", "first", T0, 1.0),
        ("k" * 251, 0, T0, 1.0),
        (["k"], 0, T0, 1.0),
    ],
    ids=["empty-key", "text-value", "text-step", "long-key", "unhashable-key"],
)
def test_log_metric_rows_rejects_a_bad_row(store: Store, run_id: str, row) -> None:
    with pytest.raises(InvalidInput):
        store.log_metric_rows([(run_id, *row)])
    assert dict(store.get_run(run_id).data.metrics) == {}


def test_log_metric_rows_to_a_deleted_run_is_invalid(store: Store, run_id: str) -> None:
    store.delete_run(run_id)
    with pytest.raises(InvalidInput):
        store.log_metric_rows([(run_id, "m", 0, T0, 1.0)])
    assert store.get_metric_history(run_id, "m") == []


@pytest.mark.sql_only
def test_metric_rows_into_a_run_another_process_deleted_are_refused_like_log_batch(
    store: Store, run_id: str
) -> None:
    """The check happens in the writing transaction, not from what this process saw."""
    from tunetrack.store.sql.store import SqlStore

    store.log_metric_rows([(run_id, "m", 0, T0, 1.0)])  # this handle has seen the run live
    other = SqlStore(store.db_uri, default_artifact_root=store.artifact_root)
    try:
        other.delete_run(run_id)
    finally:
        other.close()
    with pytest.raises(InvalidInput) as from_batch:
        store.log_batch(run_id, metrics=[Metric("m", 2.0, T0, 1)])
    with pytest.raises(InvalidInput) as from_rows:
        store.log_metric_rows([(run_id, "m", 1, T0, 2.0)])
    assert str(from_rows.value) == str(from_batch.value)
    assert [p.value for p in store.get_metric_history(run_id, "m")] == [1.0]


# -- which runs accept logging ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["metrics", "params", "tags"], ids=["metric", "param", "tag"])
def test_logging_to_a_missing_run_is_not_found(store: Store, kind: str) -> None:
    batch = {
        "metrics": [Metric("m", 1.0, T0)],
        "params": [Param("p", "v")],
        "tags": [RunTag("t", "v")],
    }[kind]
    with pytest.raises(NotFound):
        store.log_batch(MISSING_RUN, **{kind: batch})


@pytest.mark.parametrize("status", [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.PRUNED])
def test_logging_to_a_finished_run_is_allowed(store: Store, run_id: str, status: RunStatus) -> None:
    store.update_run_info(run_id, status=status, end_time=T0 + 1)
    store.log_batch(
        run_id,
        metrics=[Metric("late", 1.0, T0 + 2)],
        params=[Param("late_p", "x")],
        tags=[RunTag("late_t", "y")],
    )
    data = store.get_run(run_id).data
    assert data.metrics["late"] == 1.0
    assert data.params["late_p"] == "x"
    assert data.tags["late_t"] == "y"


def test_logging_to_a_deleted_run_is_invalid(store: Store, run_id: str) -> None:
    store.delete_run(run_id)
    with pytest.raises(InvalidInput):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, T0)])
    assert store.get_metric_history(run_id, "m") == []


# -- timestamps ----------------------------------------------------------------------------------
def test_a_float_timestamp_is_truncated_to_whole_milliseconds(store: Store, run_id: str) -> None:
    store.log_batch(run_id, metrics=[Metric("m", 1.0, T0 + 0.9, 0)])
    store.log_metric_rows([(run_id, "r", 0, T0 + 1.5, 2.0)])  # type: ignore[list-item]
    assert _history(store, run_id, "m") == [(0, T0, 1.0)]
    assert _history(store, run_id, "r") == [(0, T0 + 1, 2.0)]


@pytest.mark.parametrize("timestamp", [math.nan, INF, None, "12", 2**63])
def test_a_bad_timestamp_is_invalid_and_writes_nothing(
    store: Store, run_id: str, timestamp: object
) -> None:
    with pytest.raises(InvalidInput, match="timestamp"):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, timestamp, 0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timestamp"):
        store.log_metric_rows([(run_id, "m", 0, timestamp, 1.0)])  # type: ignore[list-item]
    assert store.get_metric_history(run_id, "m") == []


# -- bad keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "batch",
    [
        {"metrics": [Metric("", 1.0, T0)]},
        {"params": [Param("", "v")]},
        {"tags": [RunTag("", "v")]},
        {"params": [Param("k" * 251, "v")]},
        {"metrics": [Metric("k" * 251, 1.0, T0)]},
        {"metrics": [Metric(["k"], 1.0, T0)]},  # type: ignore[arg-type]
    ],
    ids=[
        "empty-metric",
        "empty-param",
        "empty-tag",
        "long-param-key",
        "long-metric-key",
        "unhashable-metric",
    ],
)
def test_a_bad_key_is_invalid(store: Store, run_id: str, batch: dict) -> None:
    with pytest.raises(InvalidInput):
        store.log_batch(run_id, **batch)
