"""Store contract, text values: what one backend cannot store, no backend accepts.

PostgreSQL text cannot hold a NUL character (SQLite can), and no database holds an unpaired
surrogate ("\\ud800", which Python strings and JSON can carry): every backend refuses either
with InvalidInput naming the field, before anything is written. Runs on every backend of the
``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tunetrack.entities import Metric, Param, RunTag
from tunetrack.errors import InvalidInput
from tunetrack.store.base import Store

NUL = "a\x00b"
BAD_TEXT = {"nul": NUL, "surrogate": "a\ud800b"}

WRITES: dict[str, tuple[str, Callable[[Store, str, str, str], object]]] = {
    "param value": ("param 'p'", lambda s, e, r, t: s.log_batch(r, params=[Param("p", t)])),
    "tag value": ("tag 't'", lambda s, e, r, t: s.log_batch(r, tags=[RunTag("t", t)])),
    "param key": ("param key", lambda s, e, r, t: s.log_batch(r, params=[Param(t, "1")])),
    "metric key": ("metric key", lambda s, e, r, t: s.log_batch(r, [Metric(t, 1.0, 0, 0)])),
    "experiment name": ("experiment name", lambda s, e, r, t: s.create_experiment(t)),
    "experiment rename": ("experiment name", lambda s, e, r, t: s.rename_experiment(e, t)),
    "experiment tag": ("tag 't'", lambda s, e, r, t: s.set_experiment_tag(e, "t", t)),
    "artifact location": (
        "artifact location",
        lambda s, e, r, t: s.create_experiment("x", artifact_location=f"/tmp/{t}"),
    ),
    "run name": ("run name", lambda s, e, r, t: s.create_run(e, start_time=1, run_name=t)),
    "run rename": ("run name", lambda s, e, r, t: s.update_run_info(r, run_name=t)),
    "registered model name": (
        "registered model name",
        lambda s, e, r, t: s.create_registered_model(t),
    ),
    "registered model description": (
        "registered model description",
        lambda s, e, r, t: s.create_registered_model("m", description=t),
    ),
}


@pytest.mark.parametrize(
    "field",
    # a server refuses a location outside its artifact store before it looks at the text
    [
        pytest.param(f, marks=pytest.mark.sql_only) if f == "artifact location" else f
        for f in WRITES
    ],
)
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_text_no_backend_can_store_is_invalid_input_naming_the_field(
    store: Store, experiment_id: str, make_run, field: str, bad: str
) -> None:
    named, write = WRITES[field]
    run_id = make_run().info.run_id
    experiments = [e.name for e in store.search_experiments()]
    with pytest.raises(InvalidInput, match=named):
        write(store, experiment_id, run_id, BAD_TEXT[bad])
    run = store.get_run(run_id)
    assert run.data.params == {}
    assert BAD_TEXT[bad] not in (run.info.run_name, *run.data.tags.values())
    assert [e.name for e in store.search_experiments()] == experiments


@pytest.fixture
def version(store: Store, make_run) -> tuple[str, int]:
    store.create_registered_model("m")
    source = f"runs:/{make_run().info.run_id}/model"
    return "m", store.create_model_version("m", source).version


UPDATES: dict[str, tuple[str, Callable[[Store, str, int, str], object]]] = {
    "new description": (
        "registered model description",
        lambda s, n, v, t: s.update_registered_model(n, t),
    ),
    "version description": (
        "model version description",
        lambda s, n, v, t: s.create_model_version(n, "runs:/r/model", description=t),
    ),
    "version source": ("model version source", lambda s, n, v, t: s.create_model_version(n, t)),
    "new version description": (
        "model version description",
        lambda s, n, v, t: s.update_model_version(n, v, t),
    ),
    "version tag": ("tag 't'", lambda s, n, v, t: s.set_model_version_tag(n, v, "t", t)),
    "model tag": ("tag 't'", lambda s, n, v, t: s.set_registered_model_tag(n, "t", t)),
}


@pytest.mark.parametrize("field", UPDATES)
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_text_no_backend_can_store_in_the_registry_is_invalid_input_naming_the_field(
    store: Store, version: tuple[str, int], field: str, bad: str
) -> None:
    named, write = UPDATES[field]
    with pytest.raises(InvalidInput, match=named):
        write(store, *version, BAD_TEXT[bad])
    assert store.get_registered_model("m").description == ""
    assert [v.version for v in store.search_model_versions("name = 'm'")] == [version[1]]


def test_text_without_nul_keeps_every_other_character(store: Store, make_run) -> None:
    text = "tab\there, newline\n, \x01, \u00e9\u4e2d, emoji \U0001f600"
    run_id = make_run(run_name="name \x01").info.run_id
    store.log_batch(run_id, params=[Param("p", text)], tags=[RunTag("t", text)])
    run = store.get_run(run_id)
    assert (run.info.run_name, run.data.params["p"], run.data.tags["t"]) == (
        "name \x01",
        text,
        text,
    )


READS: dict[str, tuple[str, Callable[[Store, str, str, str], object]]] = {
    "filter value": (
        "Invalid filter at column 14",
        lambda s, e, r, t: s.search_runs([e], f"params.p = '{t}'"),
    ),
    "filter key": (
        "Invalid filter at column 10",
        lambda s, e, r, t: s.search_runs([e], f"params.`{t}` = 'x'"),
    ),
    "order key": (
        "Invalid order_by",
        lambda s, e, r, t: s.search_runs([e], order_by=[f"metrics.`{t}` DESC"]),
    ),
    "metric history key": ("metric key", lambda s, e, r, t: s.get_metric_history(r, t)),
}


@pytest.mark.parametrize("field", READS)
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_text_no_backend_can_hold_is_invalid_input_when_read_with(
    store: Store, experiment_id: str, make_run, field: str, bad: str
) -> None:
    """A read asking for such text is refused the same way (it matches nothing stored, and
    a database driver would fail to encode it), never a driver's encoding error."""
    named, read = READS[field]
    run_id = make_run().info.run_id
    # a server refuses a request body holding a surrogate before it parses the filter
    with pytest.raises(InvalidInput, match=f"{named}|holds text that is not valid Unicode"):
        read(store, experiment_id, run_id, BAD_TEXT[bad])
