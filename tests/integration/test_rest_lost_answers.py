"""RestStore calls that may not simply be repeated still succeed, once, when the answer to
their first attempt is lost: the repeat is recognised (a create says Conflict, a delete
NotFound) and the first attempt's work stands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from answer_proxy import AnswerDropper
from rest_servers import RestServers, stop_server
from tunetrack.entities import RunTag
from tunetrack.errors import Conflict, NotFound
from tunetrack.store.rest import RestStore

T0 = 1_700_000_000_000


@pytest.fixture
def proxy(rest_servers: RestServers, tmp_path: Path) -> Iterator[AnswerDropper]:
    """A proxy losing the answer to the first request of each kind, before a fresh server."""
    url, pid = rest_servers.start(tmp_path / "tunetrack.db", tmp_path / "artifacts")
    dropper = AnswerDropper(int(url.rsplit(":", 1)[1]), nth=10**9)
    try:
        yield dropper
    finally:
        dropper.close()
        stop_server(pid)


def test_calls_whose_first_answer_is_lost_are_done_once(proxy: AnswerDropper) -> None:
    store = RestStore(proxy.url, retry_for=30)
    experiment_id = store.create_experiment("first")
    store.rename_experiment(experiment_id, "renamed")
    run_id = store.create_run(experiment_id, start_time=T0).info.run_id
    store.log_batch(run_id, tags=[RunTag("t", "1")])
    store.delete_tag(run_id, "t")
    model = store.create_registered_model("m")
    store.create_registered_model("kept")
    version = store.create_model_version("kept", f"runs:/{run_id}/model", run_id=run_id)
    store.delete_registered_model("m")

    assert [e.name for e in store.search_experiments()] == ["Default", "renamed"]
    assert store.get_experiment(experiment_id).name == "renamed"
    assert [r.info.run_id for r in store.search_runs([experiment_id])] == [run_id]
    assert "t" not in store.get_run(run_id).data.tags
    assert model.name == "m"
    with pytest.raises(NotFound):
        store.get_registered_model("m")
    assert version.version == 1
    assert [v.version for v in store.search_model_versions("name = 'kept'")] == [1]
    assert {
        "POST /api/experiments/create",
        "POST /api/experiments/rename",
        "POST /api/runs/create",
        "POST /api/runs/delete-tag",
        "POST /api/registered-models/create",
        "POST /api/model-versions/create",
        "POST /api/registered-models/delete",
    } <= set(proxy.dropped)
    # a real conflict or a missing thing is still an error when no answer was lost
    with pytest.raises(Conflict):
        store.create_experiment("renamed")
    with pytest.raises(NotFound):
        store.delete_tag(run_id, "t")
    store.close()
