"""Store contract, text values: what one backend cannot store, no backend accepts.

PostgreSQL text cannot hold a NUL character (SQLite can): every backend refuses one with
InvalidInput naming the field, before anything is written. Runs on every backend of the
``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tunetrack.entities import Metric, Param, RunTag
from tunetrack.errors import InvalidInput
from tunetrack.store.base import Store

NUL = "a\x00b"

WRITES: dict[str, tuple[str, Callable[[Store, str, str], object]]] = {
    "param value": ("param 'p'", lambda s, e, r: s.log_batch(r, params=[Param("p", NUL)])),
    "tag value": ("tag 't'", lambda s, e, r: s.log_batch(r, tags=[RunTag("t", NUL)])),
    "param key": ("param key", lambda s, e, r: s.log_batch(r, params=[Param(NUL, "1")])),
    "metric key": ("metric key", lambda s, e, r: s.log_batch(r, [Metric(NUL, 1.0, 0, 0)])),
    "experiment name": ("experiment name", lambda s, e, r: s.create_experiment(NUL)),
    "experiment rename": ("experiment name", lambda s, e, r: s.rename_experiment(e, NUL)),
    "experiment tag": ("tag 't'", lambda s, e, r: s.set_experiment_tag(e, "t", NUL)),
    "artifact location": (
        "artifact location",
        lambda s, e, r: s.create_experiment("x", artifact_location=f"/tmp/{NUL}"),
    ),
    "run name": ("run name", lambda s, e, r: s.create_run(e, start_time=1, run_name=NUL)),
    "run rename": ("run name", lambda s, e, r: s.update_run_info(r, run_name=NUL)),
    "registered model name": (
        "registered model name",
        lambda s, e, r: s.create_registered_model(NUL),
    ),
    "registered model description": (
        "registered model description",
        lambda s, e, r: s.create_registered_model("m", description=NUL),
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
def test_a_nul_character_is_invalid_input_naming_the_field(
    store: Store, experiment_id: str, make_run, field: str
) -> None:
    named, write = WRITES[field]
    run_id = make_run().info.run_id
    with pytest.raises(InvalidInput, match=named):
        write(store, experiment_id, run_id)
    run = store.get_run(run_id)
    assert NUL not in (run.info.run_name, *run.data.params.values(), *run.data.tags.values())


@pytest.fixture
def version(store: Store, make_run) -> tuple[str, int]:
    store.create_registered_model("m")
    source = f"runs:/{make_run().info.run_id}/model"
    return "m", store.create_model_version("m", source).version


UPDATES: dict[str, tuple[str, Callable[[Store, str, int], object]]] = {
    "new description": (
        "registered model description",
        lambda s, n, v: s.update_registered_model(n, NUL),
    ),
    "version description": (
        "model version description",
        lambda s, n, v: s.create_model_version(n, "runs:/r/model", description=NUL),
    ),
    "version source": ("model version source", lambda s, n, v: s.create_model_version(n, NUL)),
    "new version description": (
        "model version description",
        lambda s, n, v: s.update_model_version(n, v, NUL),
    ),
    "version tag": ("tag 't'", lambda s, n, v: s.set_model_version_tag(n, v, "t", NUL)),
    "model tag": ("tag 't'", lambda s, n, v: s.set_registered_model_tag(n, "t", NUL)),
}


@pytest.mark.parametrize("field", UPDATES)
def test_a_nul_character_in_the_registry_is_invalid_input_naming_the_field(
    store: Store, version: tuple[str, int], field: str
) -> None:
    named, write = UPDATES[field]
    with pytest.raises(InvalidInput, match=named):
        write(store, *version)
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
