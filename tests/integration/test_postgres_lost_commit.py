"""A COMMIT that PostgreSQL carried out but whose answer never reached the store (the network
went away at that moment): the store retries on a new connection, and the write it already
made is recognised, not refused as a duplicate nor made twice.

The store connects through a TCP proxy on 127.0.0.1 that, once armed, forwards the next
COMMIT (or the next metric batch's one statement, which commits by itself), reads
PostgreSQL's answer to it and closes the connection instead of passing the answer on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from answer_proxy import LosingPipe
from tunetrack.entities import Metric, RunStatus, RunTag
from tunetrack.errors import Conflict
from tunetrack.store.sql.statements import BulkSql
from tunetrack.store.sql.store import SqlStore

pytestmark = pytest.mark.postgres

_COMMIT = b"COMMIT\x00"  # the statement text as it travels in a query message
_ONE_STATEMENT = BulkSql.for_dialect("postgresql").points_once or ""
_POINTS_ONCE = _ONE_STATEMENT[: _ONE_STATEMENT.index("%")].encode()  # before a placeholder


class AnswerLosingProxy(LosingPipe):
    """A proxy in front of PostgreSQL at ``target``; :meth:`lose_next_commit_answer` arms
    it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._armed = threading.Event()
        self.lost = 0  # COMMIT answers swallowed
        super().__init__(target)

    def lose_next_commit_answer(self) -> None:
        self._armed.set()

    def request(self, data: bytes, state: dict[str, Any]) -> None:
        if (_COMMIT in data or _POINTS_ONCE in data) and self._armed.is_set():
            self._armed.clear()
            state["doomed"] = True  # this connection's COMMIT went through armed

    def lose(self, data: bytes, state: dict[str, Any]) -> bool:
        if state.get("doomed"):  # PostgreSQL answered the COMMIT: it is done
            self.lost += 1
            return True
        return False


@pytest.fixture
def proxied(fresh_postgres_uri: str) -> Iterator[tuple[str, AnswerLosingProxy]]:
    """The test database's URI through an AnswerLosingProxy, and the proxy."""
    url = sa.make_url(fresh_postgres_uri)
    proxy = AnswerLosingProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy
    finally:
        proxy.close()


def _count(uri: str, sql: str) -> int:
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_a_run_whose_commit_answer_was_lost_is_created_once(
    proxied: tuple[str, AnswerLosingProxy], fresh_postgres_uri: str, tmp_path: Path
) -> None:
    uri, proxy = proxied
    store = SqlStore(uri, default_artifact_root=str(tmp_path))
    exp = store.create_experiment("lost")
    proxy.lose_next_commit_answer()
    try:
        run = store.create_run(exp, start_time=7, run_name="once", params={"p": "1"})
        again = store.get_run(run.info.run_id)
    finally:
        store.close()
    assert proxy.lost == 1  # the answer really was lost after PostgreSQL committed
    assert (again.info.run_name, again.info.start_time, again.data.params) == (
        "once",
        7,
        {"p": "1"},
    )
    assert run.info == again.info
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM runs") == 1
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM params") == 1


def test_a_run_whose_end_answer_was_lost_ends_once_with_its_last_metrics(
    proxied: tuple[str, AnswerLosingProxy], fresh_postgres_uri: str, tmp_path: Path
) -> None:
    """A trial's end (status, end time, its last metrics and tags in one transaction): the
    retry finds the run ended as it asked and writes the metrics no second time."""
    uri, proxy = proxied
    store = SqlStore(uri, default_artifact_root=str(tmp_path))
    run_id = store.create_run(store.create_experiment("end"), start_time=1).info.run_id
    proxy.lose_next_commit_answer()
    try:
        info = store.terminate_run(
            run_id,
            status=RunStatus.FINISHED,
            end_time=9,
            metrics=[Metric("score", 0.75, 3, 0), Metric("loss", 0.5, 3, 0)],
            tags=[RunTag("outcome", "done")],
        )
        run = store.get_run(run_id)
    finally:
        store.close()
    assert proxy.lost == 1
    assert (info.status, info.end_time) == (RunStatus.FINISHED, 9)
    assert run.data.metrics == {"score": 0.75, "loss": 0.5}
    assert run.data.tags["outcome"] == "done"
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM metrics") == 2


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda store, run_id: store.log_metric_rows(
                [(run_id, "loss", step, step, 1.0 / (step + 1)) for step in range(5)]
            ),
            id="log_metric_rows",
        ),
        pytest.param(
            lambda store, run_id: store.log_batch(
                run_id, metrics=[Metric("loss", 1.0 / (s + 1), s, s) for s in range(5)]
            ),
            id="log_batch",
        ),
    ],
)
def test_metric_points_whose_commit_answer_was_lost_are_written_once(
    proxied: tuple[str, AnswerLosingProxy],
    fresh_postgres_uri: str,
    tmp_path: Path,
    write: Callable[[SqlStore, str], None],
) -> None:
    """Points carry no identity, so the store records each of its metric writes under a
    batch id of its own; the retry finds its id recorded and writes nothing. Ids that no
    write may use again are forgotten as the store goes on."""
    uri, proxy = proxied
    store = SqlStore(uri, default_artifact_root=str(tmp_path))
    run_id = store.create_run(store.create_experiment("points"), start_time=1).info.run_id
    proxy.lose_next_commit_answer()
    try:
        write(store, run_id)
        for step in range(5, 8):  # later writes, each forgetting the ids before its own
            store.log_metric_rows([(run_id, "loss", step, step, 0.1)])
        history = store.get_metric_history(run_id, "loss")
    finally:
        store.close()
    assert proxy.lost == 1
    assert [m.step for m in history] == list(range(8))
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM metrics") == 8
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM metric_batches") == 1


def test_a_model_version_whose_commit_answer_was_lost_is_registered_once(
    proxied: tuple[str, AnswerLosingProxy], fresh_postgres_uri: str, tmp_path: Path
) -> None:
    """The retry finds the version under the call's request id: the model gets one
    version, not two (before revision 0010 it got versions 1 and 2)."""
    uri, proxy = proxied
    store = SqlStore(uri, default_artifact_root=str(tmp_path))
    run_id = store.create_run(store.create_experiment("models"), start_time=1).info.run_id
    store.create_registered_model("best")
    proxy.lose_next_commit_answer()
    try:
        version = store.create_model_version("best", f"runs:/{run_id}/model", run_id=run_id)
        latest = store.get_latest_version("best")
    finally:
        store.close()
    assert proxy.lost == 1
    assert version.version == latest.version == 1
    assert _count(fresh_postgres_uri, "SELECT count(*) FROM model_versions") == 1
    assert _count(fresh_postgres_uri, "SELECT last_version FROM registered_models") == 1


def test_a_run_id_taken_by_another_run_is_still_a_conflict_after_a_lost_answer(
    proxied: tuple[str, AnswerLosingProxy], tmp_path: Path
) -> None:
    """Only the store's own lost write is recognised: a different run under the same id
    (another start time) is refused as before."""
    uri, proxy = proxied
    store = SqlStore(uri, default_artifact_root=str(tmp_path))
    exp = store.create_experiment("taken")
    store.create_run(exp, start_time=1, run_id="fixed", run_name="first")
    proxy.lose_next_commit_answer()
    try:
        store.set_tag("fixed", "t", "v")  # its COMMIT answer is lost: nothing to recognise
        with pytest.raises(Conflict, match="already exists"):
            store.create_run(exp, start_time=2, run_id="fixed", run_name="second")
        assert store.get_run("fixed").info.run_name == "first"
        assert store.get_run("fixed").data.tags["t"] == "v"
    finally:
        store.close()
    assert proxy.lost == 1
