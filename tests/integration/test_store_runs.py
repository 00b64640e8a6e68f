"""Store contract, runs: create, read, update, delete/restore, nesting, snapshots, sharing.

Runs on every backend of the ``store`` fixture (tests/conftest.py). Logging params, tags
and metrics is in test_store_logging.py; search_runs in test_store_search.py.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from tunetrack.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import Store

T0 = 1_700_000_000_000  # a real millisecond timestamp (Nov 2023), beyond 32-bit range
MISSING_EXPERIMENT = "987654321"
MISSING_RUN = "0" * 32


def _run_ids(runs) -> set[str]:
    return {r.info.run_id for r in runs}


# -- create_run --------------------------------------------------------------------------
def test_create_run_returns_a_running_run(store: Store, experiment_id: str) -> None:
    run = store.create_run(experiment_id, start_time=T0, run_name="first", user_id="ana")
    info = run.info
    assert isinstance(info.run_id, str)
    assert info.run_id
    assert info.experiment_id == experiment_id
    assert info.run_name == "first"
    assert info.user_id == "ana"
    assert info.status is RunStatus.RUNNING
    assert info.start_time == T0
    assert info.end_time is None
    assert info.lifecycle_stage is LifecycleStage.ACTIVE
    assert info.parent_run_id is None


def test_create_run_gives_every_run_its_own_id(store: Store, make_run) -> None:
    ids = {make_run().info.run_id for _ in range(5)}
    assert len(ids) == 5


def test_create_run_generates_a_name_when_none_is_given(store: Store, make_run) -> None:
    run = make_run(run_name=None)
    assert isinstance(run.info.run_name, str)
    assert run.info.run_name.strip()
    assert store.get_run(run.info.run_id).info.run_name == run.info.run_name


def test_create_run_fills_in_an_artifact_uri(store: Store, make_run) -> None:
    run = make_run()
    assert run.info.artifact_uri
    assert run.info.run_id in run.info.artifact_uri


def test_create_run_stores_tags(store: Store, make_run) -> None:
    run = make_run(tags={"team": "vision", "note": "résumé ✓"})
    for fetched in (run, store.get_run(run.info.run_id)):
        assert fetched.data.tags["team"] == "vision"
        assert fetched.data.tags["note"] == "résumé ✓"


def test_create_run_with_an_explicit_id_uses_it(store: Store, make_run) -> None:
    run_id = uuid.uuid4().hex
    assert make_run(run_id=run_id).info.run_id == run_id
    assert store.get_run(run_id).info.run_id == run_id


def test_create_run_with_a_taken_id_is_a_conflict(store: Store, make_run) -> None:
    run_id = uuid.uuid4().hex
    make_run(run_id=run_id, run_name="original")
    with pytest.raises(Conflict):
        make_run(run_id=run_id, run_name="impostor")
    assert store.get_run(run_id).info.run_name == "original"


def test_create_run_with_an_initial_status(store: Store, make_run) -> None:
    run = make_run(status=RunStatus.SCHEDULED)
    assert store.get_run(run.info.run_id).info.status is RunStatus.SCHEDULED


def test_create_run_in_the_default_experiment(store: Store) -> None:
    run = store.create_run("0", start_time=T0)
    assert store.get_run(run.info.run_id).info.experiment_id == "0"


def test_create_run_in_a_missing_experiment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.create_run(MISSING_EXPERIMENT, start_time=T0)


def test_create_run_in_a_non_numeric_experiment_is_not_found_or_invalid(store: Store) -> None:
    with pytest.raises((NotFound, InvalidInput)):
        store.create_run("abc", start_time=T0)


def test_create_run_in_a_deleted_experiment_is_invalid(store: Store, experiment_id: str) -> None:
    store.delete_experiment(experiment_id)
    with pytest.raises(InvalidInput):
        store.create_run(experiment_id, start_time=T0)
    assert store.search_runs([experiment_id], view_type=ViewType.ALL) == []


def test_create_run_with_a_bad_status_is_invalid(store: Store, make_run) -> None:
    with pytest.raises(InvalidInput):
        make_run(status="DONE")


def test_create_run_with_a_too_long_name_is_invalid(store: Store, make_run) -> None:
    with pytest.raises(InvalidInput):
        make_run(run_name="n" * 1000)


# -- nesting -------------------------------------------------------------------------------
def test_parent_run_id_is_stored_and_read_back(store: Store, make_run) -> None:
    parent = make_run(run_name="sweep")
    child = make_run(run_name="trial-0", parent_run_id=parent.info.run_id)
    assert child.info.parent_run_id == parent.info.run_id
    assert store.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    assert store.get_run(parent.info.run_id).info.parent_run_id is None


def test_parent_may_live_in_another_experiment(store: Store, make_run) -> None:
    parent = make_run()
    other = store.create_experiment("other")
    child = make_run(experiment=other, parent_run_id=parent.info.run_id)
    assert store.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id


def test_missing_parent_run_is_not_found_or_invalid(store: Store, make_run) -> None:
    with pytest.raises((NotFound, InvalidInput)):
        make_run(parent_run_id=MISSING_RUN)


# -- get_run -----------------------------------------------------------------------------
def test_get_run_returns_what_create_run_returned(store: Store, make_run) -> None:
    run = make_run(start_time=T0, run_name="same", tags={"a": "1"})
    assert store.get_run(run.info.run_id) == run


@pytest.mark.parametrize("run_id", [MISSING_RUN, "nope", ""])
def test_get_run_of_a_missing_run_is_not_found(store: Store, run_id: str) -> None:
    with pytest.raises(NotFound):
        store.get_run(run_id)


def test_new_run_has_no_data(store: Store, make_run) -> None:
    data = store.get_run(make_run().info.run_id).data
    assert dict(data.metrics) == {}
    assert dict(data.params) == {}


# -- update_run_info -------------------------------------------------------------------
def test_update_run_info_sets_status_and_end_time(store: Store, make_run) -> None:
    run_id = make_run(start_time=T0).info.run_id
    info = store.update_run_info(run_id, status=RunStatus.FINISHED, end_time=T0 + 5000)
    assert info.status is RunStatus.FINISHED
    assert info.end_time == T0 + 5000
    stored = store.get_run(run_id).info
    assert stored.status is RunStatus.FINISHED
    assert stored.end_time == T0 + 5000
    assert stored.start_time == T0


def test_update_run_info_renames(store: Store, make_run) -> None:
    run_id = make_run(run_name="before").info.run_id
    assert store.update_run_info(run_id, run_name="after").run_name == "after"
    assert store.get_run(run_id).info.run_name == "after"


def test_update_run_info_leaves_unset_fields_alone(store: Store, make_run) -> None:
    run_id = make_run(run_name="keep").info.run_id
    store.update_run_info(run_id, status=RunStatus.FAILED, end_time=T0)
    store.update_run_info(run_id, run_name="renamed")
    info = store.get_run(run_id).info
    assert info.status is RunStatus.FAILED
    assert info.end_time == T0
    assert info.run_name == "renamed"


def test_update_run_info_accepts_pruned(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.update_run_info(run_id, status=RunStatus.PRUNED)
    assert store.get_run(run_id).info.status is RunStatus.PRUNED


def test_update_run_info_accepts_a_status_string(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.update_run_info(run_id, status="KILLED")  # type: ignore[arg-type]
    assert store.get_run(run_id).info.status is RunStatus.KILLED


def test_update_run_info_with_a_bad_status_is_invalid(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    with pytest.raises(InvalidInput):
        store.update_run_info(run_id, status="DONE")  # type: ignore[arg-type]
    assert store.get_run(run_id).info.status is RunStatus.RUNNING


def test_update_run_info_of_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.update_run_info(MISSING_RUN, status=RunStatus.FINISHED)


# -- terminate_run ---------------------------------------------------------------------
def test_terminate_run_writes_last_metrics_tags_status_and_end_time(store: Store, make_run) -> None:
    run_id = make_run(start_time=T0).info.run_id
    store.log_batch(
        run_id, metrics=[Metric("loss", 0.9, T0 + 1, 0), Metric("loss", 0.5, T0 + 2, 3)]
    )
    info = store.terminate_run(
        run_id,
        status=RunStatus.FINISHED,
        end_time=T0 + 9000,
        metrics=[Metric("loss", 0.25, T0 + 3, 3), Metric("acc", 0.75, T0 + 3, 3)],
        tags=[RunTag("note", "done")],
    )
    assert (info.status, info.end_time) == (RunStatus.FINISHED, T0 + 9000)
    run = store.get_run(run_id)
    assert (run.info.status, run.info.end_time) == (RunStatus.FINISHED, T0 + 9000)
    assert dict(run.data.metrics) == {"loss": 0.25, "acc": 0.75}  # the latest points
    assert run.data.tags["note"] == "done"
    history = [(x.step, x.value) for x in store.get_metric_history(run_id, "loss")]
    assert history == [(0, 0.9), (3, 0.5), (3, 0.25)]


def test_terminate_run_without_data_only_ends_it(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.delete_run(run_id)  # nothing to refuse: a deleted run still ends
    info = store.terminate_run(run_id, status=RunStatus.PRUNED, end_time=T0)
    assert (info.status, info.end_time) == (RunStatus.PRUNED, T0)
    assert store.get_run(run_id).info.status is RunStatus.PRUNED


def test_terminate_run_of_a_deleted_run_refuses_its_data_and_keeps_it_running(
    store: Store, make_run
) -> None:
    run_id = make_run().info.run_id
    store.delete_run(run_id)
    with pytest.raises(InvalidInput, match="deleted"):
        store.terminate_run(
            run_id, status=RunStatus.FINISHED, end_time=T0, metrics=[Metric("loss", 1.0, T0, 0)]
        )
    run = store.get_run(run_id)
    assert run.info.status is RunStatus.RUNNING
    assert dict(run.data.metrics) == {}


def test_terminate_run_with_a_bad_metric_changes_nothing(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    with pytest.raises(InvalidInput):
        store.terminate_run(
            run_id, status=RunStatus.FINISHED, end_time=T0, metrics=[Metric("", 1.0, T0, 0)]
        )
    assert store.get_run(run_id).info.status is RunStatus.RUNNING


def test_terminate_run_of_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.terminate_run(
            MISSING_RUN, status=RunStatus.FINISHED, end_time=T0, metrics=[Metric("m", 1.0, T0)]
        )


# -- delete / restore ----------------------------------------------------------------
def test_delete_run_marks_it_deleted(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.delete_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage is LifecycleStage.DELETED


def test_deleted_run_is_hidden_from_active_only_search(
    store: Store, experiment_id: str, make_run
) -> None:
    kept, gone = make_run().info.run_id, make_run().info.run_id
    store.delete_run(gone)
    assert _run_ids(store.search_runs([experiment_id])) == {kept}
    assert _run_ids(store.search_runs([experiment_id], view_type=ViewType.DELETED_ONLY)) == {gone}
    assert _run_ids(store.search_runs([experiment_id], view_type=ViewType.ALL)) == {kept, gone}


def test_restore_run_makes_it_active_again(store: Store, experiment_id: str, make_run) -> None:
    run_id = make_run().info.run_id
    store.delete_run(run_id)
    store.restore_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage is LifecycleStage.ACTIVE
    assert _run_ids(store.search_runs([experiment_id])) == {run_id}


def test_delete_run_keeps_its_data(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.log_batch(run_id, metrics=[Metric("loss", 0.5, T0)], params=[Param("lr", "0.1")])
    store.delete_run(run_id)
    store.restore_run(run_id)
    data = store.get_run(run_id).data
    assert dict(data.metrics) == {"loss": 0.5}
    assert dict(data.params) == {"lr": "0.1"}


@pytest.mark.parametrize("op", ["delete_run", "restore_run"])
def test_delete_or_restore_a_missing_run_is_not_found(store: Store, op: str) -> None:
    with pytest.raises(NotFound):
        getattr(store, op)(MISSING_RUN)


def test_runs_of_a_deleted_experiment_are_hidden_from_active_only(
    store: Store, experiment_id: str, make_run
) -> None:
    run_id = make_run().info.run_id
    store.delete_experiment(experiment_id)
    assert store.search_runs([experiment_id]) == []
    assert _run_ids(store.search_runs([experiment_id], view_type=ViewType.ALL)) == {run_id}


def test_restore_experiment_brings_its_runs_back(
    store: Store, experiment_id: str, make_run
) -> None:
    run_id = make_run().info.run_id
    store.delete_experiment(experiment_id)
    store.restore_experiment(experiment_id)
    assert _run_ids(store.search_runs([experiment_id])) == {run_id}


# -- immutable snapshots ---------------------------------------------------------------
def test_a_run_returned_earlier_does_not_change(store: Store, make_run) -> None:
    run_id = make_run(run_name="v1", tags={"t": "1"}).info.run_id
    store.log_batch(run_id, metrics=[Metric("m", 1.0, T0, 0)], params=[Param("p", "a")])
    snapshot = store.get_run(run_id)
    store.log_batch(
        run_id,
        metrics=[Metric("m", 2.0, T0 + 1, 1), Metric("n", 3.0, T0)],
        params=[Param("q", "b")],
        tags=[RunTag("t", "2"), RunTag("u", "3")],
    )
    store.update_run_info(run_id, status=RunStatus.FINISHED, end_time=T0 + 9, run_name="v2")
    store.delete_run(run_id)
    assert snapshot.info.run_name == "v1"
    assert snapshot.info.status is RunStatus.RUNNING
    assert snapshot.info.end_time is None
    assert snapshot.info.lifecycle_stage is LifecycleStage.ACTIVE
    assert dict(snapshot.data.metrics) == {"m": 1.0}
    assert dict(snapshot.data.params) == {"p": "a"}
    assert snapshot.data.tags["t"] == "1"
    assert "u" not in snapshot.data.tags


@pytest.mark.parametrize("field", ["metrics", "params", "tags"])
def test_run_data_mappings_are_read_only(store: Store, make_run, field: str) -> None:
    run_id = make_run(tags={"k": "v"}).info.run_id
    store.log_batch(run_id, metrics=[Metric("k", 1.0, T0)], params=[Param("k", "v")])
    mapping = getattr(store.get_run(run_id).data, field)
    with pytest.raises(TypeError):
        mapping["k"] = "changed"
    with pytest.raises(TypeError):
        mapping["new"] = "added"
    with pytest.raises(TypeError):
        del mapping["k"]


def test_run_records_are_frozen(store: Store, make_run) -> None:
    run = store.get_run(make_run().info.run_id)
    with pytest.raises(AttributeError):
        run.info.status = RunStatus.FINISHED  # type: ignore[misc]
    with pytest.raises(AttributeError):
        run.data = None  # type: ignore[misc]


# -- sharing -------------------------------------------------------------------------------
def test_two_stores_on_one_sqlite_file_see_each_others_writes(tmp_path: Path) -> None:
    from tunetrack.store.sql.store import SqlStore

    uri = f"sqlite:///{tmp_path}/shared.db"
    first, second = SqlStore(uri), SqlStore(uri)
    try:
        exp_id = first.create_experiment("shared")
        assert second.get_experiment_by_name("shared").experiment_id == exp_id
        run_id = second.create_run(exp_id, start_time=T0).info.run_id
        second.log_batch(run_id, metrics=[Metric("m", 1.5, T0)], params=[Param("p", "x")])
        assert dict(first.get_run(run_id).data.params) == {"p": "x"}
        assert dict(first.get_run(run_id).data.metrics) == {"m": 1.5}
        first.update_run_info(run_id, status=RunStatus.FINISHED, end_time=T0 + 1)
        assert second.get_run(run_id).info.status is RunStatus.FINISHED
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_two_stores_on_one_postgres_database_see_each_others_writes(
    fresh_postgres_uri: str, tmp_path: Path
) -> None:
    from tunetrack.store.sql.store import SqlStore

    first = SqlStore(fresh_postgres_uri, default_artifact_root=str(tmp_path))
    second = SqlStore(fresh_postgres_uri, default_artifact_root=str(tmp_path))
    try:
        exp_id = first.create_experiment("shared")
        run_id = second.create_run(exp_id, start_time=T0).info.run_id
        second.log_batch(run_id, params=[Param("p", "x")])
        assert dict(first.get_run(run_id).data.params) == {"p": "x"}
    finally:
        first.close()
        second.close()


def test_reopening_a_sqlite_file_keeps_everything(tmp_path: Path) -> None:
    from tunetrack.store.sql.store import SqlStore

    uri = f"sqlite:///{tmp_path}/reopen.db"
    first = SqlStore(uri)
    exp_id = first.create_experiment("persisted")
    run_id = first.create_run(exp_id, start_time=T0).info.run_id
    first.log_batch(run_id, metrics=[Metric("m", 2.0, T0)])
    first.close()
    second = SqlStore(uri)
    try:
        assert second.get_experiment(exp_id).name == "persisted"
        assert second.get_experiment("0").name == "Default"
        assert dict(second.get_run(run_id).data.metrics) == {"m": 2.0}
        assert len(second.search_experiments()) == 2
    finally:
        second.close()


def test_one_store_shared_by_threads_loses_nothing(store: Store, make_run) -> None:
    run_ids = [make_run().info.run_id for _ in range(4)]
    errors: list[BaseException] = []

    def work(run_id: str) -> None:
        try:
            for step in range(25):
                store.log_batch(run_id, metrics=[Metric("m", float(step), T0 + step, step)])
            store.log_batch(run_id, params=[Param("done", "yes")])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    for run_id in run_ids:
        assert len(store.get_metric_history(run_id, "m")) == 25
        assert store.get_run(run_id).data.metrics["m"] == 24.0
        assert store.get_run(run_id).data.params["done"] == "yes"


def test_two_sqlite_stores_writing_at_once_never_report_a_lock(tmp_path: Path) -> None:
    from tunetrack.store.sql.store import SqlStore

    uri = f"sqlite:///{tmp_path}/busy.db"
    stores = [SqlStore(uri), SqlStore(uri)]
    try:
        exp_id = stores[0].create_experiment("busy")
        run_ids = [s.create_run(exp_id, start_time=T0).info.run_id for s in stores]
        errors: list[BaseException] = []

        def work(s: Store, run_id: str) -> None:
            try:
                for step in range(40):
                    s.log_batch(run_id, metrics=[Metric("m", 1.0, T0 + step, step)])
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=pair) for pair in zip(stores, run_ids, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        for run_id in run_ids:
            assert len(stores[1].get_metric_history(run_id, "m")) == 40
    finally:
        for s in stores:
            s.close()
