"""``tunetrack gc`` removes deleted experiments and runs for good: every row of theirs in every
table, and their artifact files; everything else stays exactly as it was. Against SQLite
files, PostgreSQL and a real ``tunetrack server`` (with and without ``--auth``)."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, inspect, text, update

from tunetrack.entities import Metric
from tunetrack.errors import NotFound
from tunetrack.server.auth.roles import Permission, Role
from tunetrack.store.sql import models as m
from tunetrack.store.sql.store import SqlStore
from tunetrack.store.sql.users import UserStore
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import Race, RunTunetrack, StartServer

DAY_MS = 86_400_000


@dataclass
class Scenario:
    """What a store holds before gc: the runs and experiments that must go, and the rest."""

    gone_runs: set[str] = field(default_factory=set)
    gone_experiments: set[str] = field(default_factory=set)
    kept_runs: set[str] = field(default_factory=set)
    model_source: str = ""  # a deleted run that stays: a model version's source
    model_parent: str = ""  # its deleted parent, which stays for it


def _run(c: Client, experiment_id: str, name: str, parent: str | None = None) -> str:
    """A run with params, tags, a metric of three steps and an artifact file."""
    run_id = c.create_run(experiment_id, run_name=name, parent_run_id=parent).info.run_id
    c.log_batch(
        run_id,
        metrics=[Metric("loss", 1.0 / (step + 1), 1_000 + step, step) for step in range(3)],
    )
    c.log_param(run_id, "lr", "0.1")
    c.set_tag(run_id, "who", name)
    c.log_text(run_id, f"notes of {name}", "notes/readme.txt")
    return run_id


def _build(c: Client) -> Scenario:
    """Runs of every kind: deleted alone, deleted with children (a sweep), a deleted child
    of an active parent, a deleted model source, a whole deleted experiment, and live ones."""
    s = Scenario()
    keep = c.create_experiment("keep", tags={"team": "a"})
    other = c.create_experiment("other")
    gone = c.create_experiment("gone", tags={"team": "b"})
    s.kept_runs |= {_run(c, keep, "alive"), _run(c, other, "o1"), _run(c, other, "o2")}
    lone = _run(c, keep, "lone")
    sweep = _run(c, keep, "sweep")
    trial_live, trial_dead = _run(c, keep, "t1", sweep), _run(c, keep, "t2", sweep)
    grandchild = _run(c, keep, "t1-fold", trial_live)
    parent = _run(c, keep, "parent")
    child = _run(c, keep, "child", parent)
    s.kept_runs.add(parent)
    s.model_parent = _run(c, keep, "model-parent")
    s.model_source = _run(c, keep, "model-source", s.model_parent)
    sibling = _run(c, keep, "model-sibling", s.model_parent)  # active: goes with no one
    s.kept_runs |= {s.model_parent, s.model_source, sibling}
    c.create_registered_model("m")
    c.create_model_version("m", f"runs:/{s.model_source}/notes", run_id=s.model_source)
    in_gone = {_run(c, gone, "g1"), _run(c, gone, "g2")}
    for run_id in (lone, sweep, trial_dead, child, s.model_parent, s.model_source):
        c.delete_run(run_id)
    c.delete_experiment(gone)
    s.gone_runs = {lone, sweep, trial_live, trial_dead, grandchild, child, *in_gone}
    s.gone_experiments = {gone}
    return s


def _tables(uri: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, sorted."""
    engine = create_engine(uri)
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        found = {
            name: sorted(
                (dict(r) for r in conn.execute(text(f"SELECT * FROM {name}")).mappings()), key=repr
            )
            for name in names
        }
    engine.dispose()
    return found


def _without(
    tables: dict[str, list[dict[str, Any]]], runs: set[str], experiments: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """``tables`` without the rows of ``runs`` and ``experiments`` (and the points of their
    series)."""

    def gone(row: dict[str, Any]) -> bool:
        return row.get("run_id") in runs or str(row.get("experiment_id")) in experiments

    series = {row["series_id"] for row in tables["latest_metrics"] if gone(row)}
    return {
        name: [row for row in rows if not gone(row) and row.get("series_id") not in series]
        for name, rows in tables.items()
    }


def _removed_counts(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> dict[str, int]:
    return {name: len(before[name]) - len(after[name]) for name in before if name in after}


def _local(uri: str, root: Path) -> Path:
    """The local path of an artifact location (a server's ``tunetrack-artifacts:`` under
    ``root``)."""
    proxied = "tunetrack-artifacts:"
    return root / uri.removeprefix(proxied).lstrip("/") if uri.startswith(proxied) else Path(uri)


def _artifact_dirs(
    tables: dict[str, list[dict[str, Any]]], runs: set[str], root: Path
) -> list[Path]:
    """The local artifact directories of ``runs``."""
    return [_local(row["artifact_uri"], root) for row in tables["runs"] if row["run_id"] in runs]


def _with_files(tables: dict[str, list[dict[str, Any]]], root: Path) -> list[str]:
    """The names of the experiments whose artifact directory exists."""
    return sorted(
        row["name"]
        for row in tables["experiments"]
        if _local(row["artifact_location"], root).exists()
    )


def _gc_json(run_tunetrack: RunTunetrack, uri: str, cwd: Path, *flags: str) -> dict[str, Any]:
    done = run_tunetrack("gc", "--tracking-uri", uri, "--json", *flags, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_gc(
    run_tunetrack: RunTunetrack, tracking_uri: str, db_uri: str, root: Path, tmp_path: Path
) -> None:
    """Build the scenario through ``tracking_uri``, dry-run gc, then gc; check every row and
    file of the database at ``db_uri`` (artifacts of a server under ``root``)."""
    with Client(tracking_uri) as c:
        s = _build(c)
        keep = c.get_experiment_by_name("keep")
    assert keep is not None
    engine = create_engine(db_uri)  # permissions on experiments (``tunetrack users grant``)
    users = UserStore(engine)
    users.add_user("guest", "pw", Role.NONE)
    for eid in (*s.gone_experiments, keep.experiment_id):
        users.grant("guest", eid, Permission.READ)
    engine.dispose()
    before = _tables(db_uri)
    gone_dirs = _artifact_dirs(before, s.gone_runs, root)
    kept_dirs = _artifact_dirs(before, s.kept_runs, root)
    assert len(gone_dirs) == len(s.gone_runs)
    assert all(d.is_dir() for d in gone_dirs + kept_dirs)
    assert _with_files(before, root) == ["gone", "keep", "other"]
    expected = _without(before, s.gone_runs, s.gone_experiments)
    counts = {k: v for k, v in _removed_counts(before, expected).items() if k in _REPORTED}

    dry = _gc_json(run_tunetrack, tracking_uri, tmp_path, "--dry-run")
    assert _tables(db_uri) == before
    assert all(d.is_dir() for d in gone_dirs)
    report = _gc_json(run_tunetrack, tracking_uri, tmp_path)
    assert dry == {**report, "dry_run": True}

    assert set(report["run_ids"]) == s.gone_runs
    assert set(report["experiment_ids"]) == s.gone_experiments
    assert report["rows"] == counts
    assert counts["runs"] == len(s.gone_runs)
    assert counts["metrics"] == 3 * len(s.gone_runs)
    assert (
        counts["experiment_tags"] == counts["experiment_permissions"] == counts["experiments"] == 1
    )
    assert report["kept"] == [
        f"run {s.model_source}: the source of registered model 'm' version 1 (delete the "
        "model version first to collect it)",
        f"run {s.model_parent}: an ancestor of run {s.model_source}, which stays",
    ]
    assert report["artifact_errors"] == []
    after = _tables(db_uri)
    assert after == expected
    assert not any(d.exists() for d in gone_dirs)
    assert _with_files(before, root) == ["keep", "other"]  # the emptied one went too
    for directory in kept_dirs:
        notes = (directory / "notes" / "readme.txt").read_text()
        assert notes.startswith("notes of ")
    again = _gc_json(run_tunetrack, tracking_uri, tmp_path)
    assert again["run_ids"] == []
    assert set(again["rows"].values()) == {0}
    with Client(tracking_uri) as c:  # the store goes on as before
        survivor = next(iter(s.kept_runs - {s.model_source, s.model_parent}))
        c.log_metric(survivor, "loss", 0.25, step=9, synchronous=True)
        assert c.get_run(survivor).data.metrics["loss"] == 0.25


#: the tables gc reports, in its order
_REPORTED = (
    "metrics", "latest_metrics", "params", "tags", "runs",
    "experiment_tags", "experiment_permissions", "experiments",
)  # fmt: skip


def test_gc_removes_deleted_runs_and_experiments_with_every_row_and_file(
    db_uri: str, run_tunetrack: RunTunetrack, tmp_path: Path
) -> None:
    store = SqlStore(db_uri, default_artifact_root=str(tmp_path / "artifacts"))
    store.close()
    _check_gc(run_tunetrack, db_uri, db_uri, tmp_path, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_gc_through_the_server_removes_the_servers_files_too(
    backend: str,
    tracking_server: StartServer,
    run_tunetrack: RunTunetrack,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    db_uri = (
        f"sqlite:///{tmp_path}/server.db"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_uri")
    )
    server = tracking_server("--backend-store-uri", db_uri)
    _check_gc(run_tunetrack, server.url, db_uri, tmp_path / "server-artifacts", tmp_path)


def _deleted_times(db_uri: str) -> dict[str, int | None]:
    """deleted_time of every run and experiment (experiments as ``exp:<id>``)."""
    tables = _tables(db_uri)
    found = {row["run_id"]: row["deleted_time"] for row in tables["runs"]}
    found |= {f"exp:{row['experiment_id']}": row["deleted_time"] for row in tables["experiments"]}
    return found


def _backdate(db_uri: str, days: int, runs: set[str], experiments: set[str]) -> None:
    """Move deletion times ``days`` into the past, as if deleted then."""
    engine = create_engine(db_uri)
    back = days * DAY_MS
    with engine.begin() as conn:
        conn.execute(
            update(m.runs)
            .where(m.runs.c.run_id.in_(runs))
            .values(deleted_time=m.runs.c.deleted_time - back)
        )
        conn.execute(
            update(m.experiments)
            .where(m.experiments.c.experiment_id.in_([int(e) for e in experiments]))
            .values(deleted_time=m.experiments.c.deleted_time - back)
        )
    engine.dispose()


def test_older_than_compares_with_the_time_of_deletion(
    db_uri: str, run_tunetrack: RunTunetrack, tmp_path: Path
) -> None:
    with Client(db_uri) as c:
        live = c.create_experiment("live")
        old_run, new_run, restored = (_run(c, live, name) for name in ("old", "new", "back"))
        old_exp = c.create_experiment("old-exp")
        in_old_exp = _run(c, old_exp, "in-old")
        t0 = int(time.time() * 1000)
        for run_id in (old_run, new_run, restored):
            c.delete_run(run_id)
        c.delete_experiment(old_exp)
        times = _deleted_times(db_uri)
        assert all(times[k] >= t0 for k in (old_run, new_run, in_old_exp, f"exp:{old_exp}"))
        assert times[f"exp:{live}"] is None
        c.restore_run(restored)
        assert _deleted_times(db_uri)[restored] is None
        _backdate(db_uri, 40, {old_run, in_old_exp, restored}, {old_exp})
        c.delete_run(old_run)  # deleting again keeps the first time
        assert _deleted_times(db_uri)[old_run] == times[old_run] - 40 * DAY_MS

    before = _tables(db_uri)
    flags = ("--older-than", "30d")
    dry = run_tunetrack("gc", "--tracking-uri", db_uri, *flags, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would remove for good: 1 experiment, 2 runs\n")
    assert "  rows per table: metrics 6, latest_metrics 2, params 2, tags 2, runs 2," in dry.stdout
    assert _tables(db_uri) == before
    report = _gc_json(run_tunetrack, db_uri, tmp_path, *flags)
    assert set(report["run_ids"]) == {old_run, in_old_exp}
    assert report["experiment_ids"] == [old_exp]
    assert _tables(db_uri) == _without(before, {old_run, in_old_exp}, {old_exp})
    assert _gc_json(run_tunetrack, db_uri, tmp_path, "--older-than", "1w")["run_ids"] == []
    assert _gc_json(run_tunetrack, db_uri, tmp_path)["run_ids"] == [new_run]


def test_experiment_ids_limit_gc_to_those_experiments(
    db_uri: str, run_tunetrack: RunTunetrack, tmp_path: Path
) -> None:
    with Client(db_uri) as c:
        first, second, third = (c.create_experiment(n) for n in ("first", "second", "third"))
        runs = {eid: _run(c, eid, f"in-{eid}") for eid in (first, second, third)}
        for run_id in runs.values():
            c.delete_run(run_id)
        c.delete_experiment(third)
    before = _tables(db_uri)
    flags = ("--experiment-ids", f"{first},{third}")
    report = _gc_json(run_tunetrack, db_uri, tmp_path, *flags)
    assert set(report["run_ids"]) == {runs[first], runs[third]}
    assert report["experiment_ids"] == [third]
    assert _tables(db_uri) == _without(before, {runs[first], runs[third]}, {third})

    missing = run_tunetrack("gc", "--tracking-uri", db_uri, "--experiment-ids", "999", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no experiment with id '999'"
    bad = run_tunetrack("gc", "--tracking-uri", db_uri, "--older-than", "30 days", cwd=tmp_path)
    assert bad.returncode == 2
    assert "'--older-than'" in bad.stderr
    assert "invalid duration '30 days'" in bad.stderr
    assert _tables(db_uri) == _without(before, {runs[first], runs[third]}, {third})


def test_files_gc_cannot_reach_are_reported_and_the_command_fails(
    run_tunetrack: RunTunetrack, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path}/server.db"  # a server's store, gc'ed without the server
    store = SqlStore(uri, default_artifact_root="tunetrack-artifacts:")
    eid = store.create_experiment("served")
    run_id = store.create_run(eid, start_time=1).info.run_id
    store.delete_run(run_id)
    store.close()
    done = run_tunetrack("gc", "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("removed for good: 0 experiments, 1 run\n")
    assert done.stderr.strip() == (
        f"error: could not remove the files at tunetrack-artifacts:/{eid}/{run_id}: kept by a "
        "tunetrack server: run `tunetrack gc` with that server's URL as the tracking URI to "
        "remove its files"
    )


@pytest.mark.slow
def test_under_auth_only_an_admin_may_gc(
    tracking_server: StartServer,
    run_tunetrack: RunTunetrack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = tracking_server("--auth")
    engine = create_engine(f"sqlite:///{tmp_path}/server.db")
    users = UserStore(engine)
    users.add_user("root", "root-pw", Role.ADMIN)
    users.add_user("ed", "ed-pw", Role.EDITOR)
    engine.dispose()
    as_root = {"TUNETRACK_TRACKING_USERNAME": "root", "TUNETRACK_TRACKING_PASSWORD": "root-pw"}
    as_ed = {"TUNETRACK_TRACKING_USERNAME": "ed", "TUNETRACK_TRACKING_PASSWORD": "ed-pw"}
    with monkeypatch.context() as env:
        for name, value in as_root.items():
            env.setenv(name, value)
        with Client(server.url) as c:
            eid = c.create_experiment("mine")
            run_id = _run(c, eid, "r")
            c.delete_run(run_id)
    refused = run_tunetrack("gc", "--tracking-uri", server.url, cwd=tmp_path, env=as_ed)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: user 'ed' (role editor) may not POST gc: it needs the admin role"
    )
    done = run_tunetrack("gc", "--tracking-uri", server.url, "--json", cwd=tmp_path, env=as_root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run_ids"] == [run_id]
    assert not (tmp_path / "server-artifacts" / eid / run_id).exists()


def test_a_run_restored_while_gc_runs_is_either_kept_whole_or_gone(
    db_uri: str, tmp_path: Path, race: Race
) -> None:
    store = SqlStore(db_uri, default_artifact_root=str(tmp_path / "artifacts"))
    with Client(store=store) as c:
        eid = c.create_experiment("racing")
        for attempt in range(8):
            run_id = _run(c, eid, f"r{attempt}")
            c.delete_run(run_id)
            restore, gc = race(partial(store.restore_run, run_id), partial(store.gc))
            assert gc is None
            files = tmp_path / "artifacts" / eid / run_id / "notes" / "readme.txt"
            if restore is None:  # restored before gc looked: untouched
                run = c.get_run(run_id)
                assert run.data.params == {"lr": "0.1"}
                assert len(c.get_metric_history(run_id, "loss")) == 3
                assert files.read_text() == f"notes of r{attempt}"
            else:  # gc went first: nothing of it is left to restore
                assert isinstance(restore, NotFound), restore
                assert not files.parent.parent.exists()
    store.close()


def test_a_version_registered_while_gc_runs_keeps_its_run_or_is_refused(
    db_uri: str, tmp_path: Path, race: Race
) -> None:
    """Registering a version of a deleted run races gc: either the version is there with its
    run and files kept, or gc went first and the registration was refused; never a version
    whose files are gone."""
    store = SqlStore(db_uri, default_artifact_root=str(tmp_path / "artifacts"))
    store.create_registered_model("m")
    with Client(store=store) as c:
        eid = c.create_experiment("racing")
        for attempt in range(8):
            run_id = _run(c, eid, f"r{attempt}")
            c.delete_run(run_id)
            register = partial(
                store.create_model_version, "m", f"runs:/{run_id}/notes", run_id=run_id
            )
            registered, gc = race(register, partial(store.gc))
            assert gc is None
            files = tmp_path / "artifacts" / eid / run_id / "notes" / "readme.txt"
            versions = store.search_model_versions(f"run_id = '{run_id}'")
            if registered is None:
                assert len(versions) == 1
                assert files.read_text() == f"notes of r{attempt}"
            else:
                assert isinstance(registered, NotFound), registered
                assert versions == []
                assert not files.parent.parent.exists()
    store.close()


def _wait_for_a_lock_wait(engine: Any, timeout: float = 30.0) -> None:
    """Until a session of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                return
            time.sleep(0.01)
    pytest.fail("no session ever waited for a lock")


@pytest.mark.postgres
def test_a_registration_that_finds_gc_removing_its_run_waits_and_is_refused(
    fresh_postgres_uri: str, tmp_path: Path
) -> None:
    """gc's transaction holds the deleted run's row (its plan locks it) and removes it: the
    registration waits for it, then says NotFound instead of registering files gc deletes."""
    store = SqlStore(fresh_postgres_uri, default_artifact_root=str(tmp_path / "artifacts"))
    store.create_registered_model("m")
    with Client(store=store) as c:
        run_id = _run(c, c.create_experiment("e"), "source")
        c.delete_run(run_id)
    outcome: queue.Queue[object] = queue.Queue()

    def register() -> None:
        try:
            outcome.put(store.create_model_version("m", f"runs:/{run_id}/m", run_id=run_id))
        except BaseException as exc:  # handed to the test
            outcome.put(exc)

    admin = create_engine(fresh_postgres_uri)
    try:
        with admin.begin() as gc:  # what store.gc's transaction does to the run
            gc.execute(text("SELECT 1 FROM runs WHERE run_id = :r FOR UPDATE"), {"r": run_id})
            thread = threading.Thread(target=register)
            thread.start()
            _wait_for_a_lock_wait(admin)
            gc.execute(text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id})
        thread.join(30)
        result = outcome.get(timeout=5)
        assert isinstance(result, NotFound), result
        assert "tunetrack gc" in str(result)
        assert store.search_model_versions("name = 'm'") == []
    finally:
        admin.dispose()
        store.close()
