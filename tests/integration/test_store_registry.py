"""Store contract, model registry: registered models, versions, tags, aliases, stages.

Runs on every backend of the ``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from tunetrack.entities import ModelStage, ModelVersion, Run
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import Store

RACE_ROUNDS = 25  # each round races writers against a delete; one round can show a bug


def _register(store: Store, name: str, count: int, run_id: str | None = None) -> list[ModelVersion]:
    """Create ``name`` (if needed) and ``count`` versions of it."""
    try:
        store.get_registered_model(name)
    except NotFound:
        store.create_registered_model(name)
    return [
        store.create_model_version(name, f"runs:/{run_id or 'r'}/model-{i}", run_id=run_id)
        for i in range(count)
    ]


def _all_pages(search: Callable[..., list], **kwargs) -> list:
    """Follow page tokens to the end; fail on a runaway loop."""
    items, token = [], None
    for _ in range(100):
        page = search(page_token=token, **kwargs)
        assert len(page) <= kwargs.get("max_results", 1000)
        items.extend(page)
        token = page.token
        if token is None:
            return items
    pytest.fail("search never returned a final page (token stayed set)")


# -- registered models -------------------------------------------------------------------
def test_create_and_get_registered_model(store: Store) -> None:
    created = store.create_registered_model("iris", "flowers", {"team": "ml"})
    assert created.name == "iris"
    assert created.description == "flowers"
    assert dict(created.tags) == {"team": "ml"}
    assert created.latest_version is None
    assert dict(created.aliases) == {}
    assert created.creation_time > 0
    got = store.get_registered_model("iris")
    assert got == created


def test_duplicate_registered_model_is_conflict(store: Store) -> None:
    store.create_registered_model("iris")
    with pytest.raises(Conflict, match="iris"):
        store.create_registered_model("iris")


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_registered_model_name_is_invalid(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput):
        store.create_registered_model(name)


def test_missing_registered_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.get_registered_model("nope")
    with pytest.raises(NotFound):
        store.update_registered_model("nope", "x")
    with pytest.raises(NotFound):
        store.delete_registered_model("nope")
    with pytest.raises(NotFound):
        store.set_registered_model_tag("nope", "k", "v")
    with pytest.raises(NotFound):
        store.create_model_version("nope", "runs:/r/model")
    with pytest.raises(NotFound):
        store.get_latest_version("nope")


def test_search_registered_models_by_name_like(store: Store) -> None:
    for name in ("iris", "iris-rf", "wine", "irregular", "Iris-upper"):
        store.create_registered_model(name)
    found = [m.name for m in store.search_registered_models("name LIKE 'ir%'")]
    assert found == ["iris", "iris-rf", "irregular"]
    assert [m.name for m in store.search_registered_models("name = 'wine'")] == ["wine"]
    everything = [m.name for m in store.search_registered_models()]
    assert everything == sorted(everything)
    assert len(everything) == 5


def test_search_registered_models_by_tag(store: Store) -> None:
    store.create_registered_model("a", tags={"team": "x"})
    store.create_registered_model("b", tags={"team": "y"})
    store.create_registered_model("c")
    store.set_registered_model_tag("c", "team", "x")
    assert [m.name for m in store.search_registered_models("tags.team = 'x'")] == ["a", "c"]
    assert [m.name for m in store.search_registered_models("tags.team != 'x'")] == ["b"]


def test_search_registered_models_pages(store: Store) -> None:
    names = [f"m{i:02d}" for i in range(7)]
    for name in names:
        store.create_registered_model(name)
    first = store.search_registered_models(max_results=3)
    assert [m.name for m in first] == names[:3]
    assert first.token is not None
    every = _all_pages(store.search_registered_models, max_results=3)
    assert [m.name for m in every] == names
    exact = _all_pages(store.search_registered_models, max_results=7)
    assert [m.name for m in exact] == names


def test_search_registered_models_bad_filter_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.search_registered_models("name ==")
    with pytest.raises(InvalidInput):
        store.search_registered_models("metrics.acc > 1")
    with pytest.raises(InvalidInput):
        store.search_registered_models(max_results=0)


def test_update_registered_model_description(store: Store) -> None:
    created = store.create_registered_model("iris", "old")
    updated = store.update_registered_model("iris", "new")
    assert updated.description == "new"
    assert updated.last_updated_time >= created.last_updated_time
    assert store.get_registered_model("iris").description == "new"


def test_registered_model_tags_upsert(store: Store) -> None:
    store.create_registered_model("iris")
    store.set_registered_model_tag("iris", "team", "a")
    store.set_registered_model_tag("iris", "team", "b")
    store.set_registered_model_tag("iris", "owner", "me")
    assert dict(store.get_registered_model("iris").tags) == {"team": "b", "owner": "me"}


def test_delete_registered_model_deletes_versions_tags_aliases(store: Store) -> None:
    store.create_registered_model("iris", tags={"t": "1"})
    _register(store, "iris", 2)
    store.set_model_version_tag("iris", 1, "k", "v")
    store.set_registered_model_alias("iris", "champion", 2)
    store.create_registered_model("wine")
    _register(store, "wine", 1)
    store.delete_registered_model("iris")
    with pytest.raises(NotFound):
        store.get_registered_model("iris")
    with pytest.raises(NotFound):
        store.get_model_version("iris", 1)
    with pytest.raises(NotFound):
        store.get_model_version_by_alias("iris", "champion")
    assert [v.name for v in store.search_model_versions()] == ["wine"]
    # the name is free again, and numbering starts over with no tags or aliases left behind
    store.create_registered_model("iris")
    assert dict(store.get_registered_model("iris").tags) == {}
    assert store.create_model_version("iris", "runs:/r/m").version == 1
    assert dict(store.get_model_version("iris", 1).tags) == {}
    assert dict(store.get_registered_model("iris").aliases) == {}


def _succeeded_or_not_found(outcomes: list[BaseException | None]) -> None:
    assert all(o is None or isinstance(o, NotFound) for o in outcomes), outcomes


def test_writes_racing_a_model_delete_are_done_or_not_found(store: Store, race) -> None:
    for i in range(RACE_ROUNDS):
        name = f"m{i}"
        store.create_registered_model(name)
        deleted, *writes = race(
            partial(store.delete_registered_model, name),
            partial(store.set_registered_model_tag, name, "team", "a"),
            partial(store.create_model_version, name, "runs:/r/m"),
        )
        assert deleted is None
        _succeeded_or_not_found(writes)
        # nothing of the deleted model survives into a new one of the same name
        store.create_registered_model(name)
        assert dict(store.get_registered_model(name).tags) == {}
        assert store.get_registered_model(name).latest_version is None


def test_writes_racing_a_version_delete_are_done_or_not_found(store: Store, race) -> None:
    store.create_registered_model("iris")
    for i in range(RACE_ROUNDS):
        version = store.create_model_version("iris", f"runs:/r/m{i}").version
        deleted, *writes = race(
            partial(store.delete_model_version, "iris", version),
            partial(store.set_model_version_tag, "iris", version, "k", "v"),
            partial(store.set_registered_model_alias, "iris", f"a{i}", version),
        )
        assert deleted is None
        _succeeded_or_not_found(writes)
    # no alias points at a deleted version
    assert dict(store.get_registered_model("iris").aliases) == {}


# -- versions ------------------------------------------------------------------------------
def test_versions_are_numbered_from_one(store: Store, make_run: Callable[..., Run]) -> None:
    run_id = make_run().info.run_id
    store.create_registered_model("iris")
    versions = [
        store.create_model_version("iris", f"runs:/{run_id}/model", run_id=run_id) for _ in range(3)
    ]
    assert [v.version for v in versions] == [1, 2, 3]
    first = versions[0]
    assert first.name == "iris"
    assert first.source == f"runs:/{run_id}/model"
    assert first.run_id == run_id
    assert first.current_stage is ModelStage.NONE
    assert first.status == "READY"
    assert first.aliases == ()
    assert store.get_registered_model("iris").latest_version == 3


def test_versions_are_numbered_per_model(store: Store) -> None:
    _register(store, "a", 2)
    _register(store, "b", 1)
    assert store.create_model_version("b", "runs:/r/m").version == 2
    assert store.create_model_version("a", "runs:/r/m").version == 3


def test_create_model_version_with_description_and_tags(store: Store) -> None:
    store.create_registered_model("iris")
    created = store.create_model_version(
        "iris", "runs:/r/m", description="first", tags={"data": "v1"}
    )
    got = store.get_model_version("iris", 1)
    assert got == created
    assert got.description == "first"
    assert dict(got.tags) == {"data": "v1"}
    with pytest.raises(InvalidInput, match="source"):
        store.create_model_version("iris", "")


def test_a_version_keeps_the_sha256_of_its_manifest(store: Store) -> None:
    store.create_registered_model("iris")
    digest = "0123456789abcdef" * 4
    assert store.create_model_version("iris", "runs:/r/m", manifest_sha256=digest).version == 1
    assert store.create_model_version("iris", "runs:/r/m").version == 2
    assert store.get_model_version("iris", 1).manifest_sha256 == digest
    assert store.get_model_version("iris", 2).manifest_sha256 is None
    assert [v.manifest_sha256 for v in store.search_model_versions("name = 'iris'")] == [
        None,
        digest,
    ]
    for bad in ("abc", digest.upper(), digest + "0"):
        with pytest.raises(InvalidInput, match="manifest_sha256"):
            store.create_model_version("iris", "runs:/r/m", manifest_sha256=bad)


def test_a_registration_repeated_under_its_request_id_returns_its_version(
    store: Store, make_run: Callable[..., Run]
) -> None:
    """A retry after a lost answer registers nothing new; another id, or the same id for
    another model, registers anew."""
    store.create_registered_model("m")
    store.create_registered_model("other")
    r = make_run().info.run_id
    first = store.create_model_version("m", f"runs:/{r}/model", run_id=r, request_id="req-1")
    again = store.create_model_version("m", f"runs:/{r}/model", run_id=r, request_id="req-1")
    assert again == first
    assert first.version == 1
    assert store.create_model_version("m", "runs:/r/model", request_id="req-2").version == 2
    assert store.create_model_version("other", "runs:/r/model", request_id="req-1").version == 1
    assert [v.version for v in store.search_model_versions("name = 'm'")] == [2, 1]


def test_a_version_of_a_run_that_does_not_exist_is_not_found(store: Store) -> None:
    store.create_registered_model("m")
    with pytest.raises(NotFound, match="no run with id 'nope'"):
        store.create_model_version("m", "runs:/nope/model", run_id="nope")
    with pytest.raises(NotFound):
        store.get_latest_version("m")


@pytest.mark.parametrize("request_id", ["", "has space", "x" * 65, "ü"])
def test_a_bad_request_id_is_invalid_and_registers_nothing(store: Store, request_id: str) -> None:
    store.create_registered_model("m")
    with pytest.raises(InvalidInput, match="request_id"):
        store.create_model_version("m", "runs:/r/model", request_id=request_id)
    with pytest.raises(NotFound):
        store.get_latest_version("m")


def test_get_model_version_and_latest(store: Store) -> None:
    _register(store, "iris", 3)
    assert store.get_model_version("iris", 2).version == 2
    assert store.get_latest_version("iris").version == 3
    assert store.get_model_version("iris", "2").version == 2  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="no version 9"):
        store.get_model_version("iris", 9)
    with pytest.raises(NotFound):
        store.get_model_version("nope", 1)


def test_latest_version_of_an_empty_model_is_not_found(store: Store) -> None:
    store.create_registered_model("iris")
    with pytest.raises(NotFound, match="no versions"):
        store.get_latest_version("iris")


@pytest.mark.parametrize("version", [0, -1, "abc", "1.5", ""])
def test_bad_version_number_is_invalid(store: Store, version: object) -> None:
    _register(store, "iris", 1)
    with pytest.raises(InvalidInput, match="positive integer"):
        store.get_model_version("iris", version)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.transition_model_version_stage("iris", version, ModelStage.STAGING)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.set_registered_model_alias("iris", "champion", version)  # type: ignore[arg-type]


def test_search_model_versions_by_name_run_and_stage(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run_a, run_b = make_run().info.run_id, make_run().info.run_id
    _register(store, "x", 2, run_id=run_a)
    _register(store, "y", 1, run_id=run_b)
    _register(store, "x", 1, run_id=run_b)
    by_name = store.search_model_versions("name = 'x'")
    assert [(v.name, v.version) for v in by_name] == [("x", 3), ("x", 2), ("x", 1)]
    by_run = store.search_model_versions(f"run_id = '{run_b}'")
    assert sorted((v.name, v.version) for v in by_run) == [("x", 3), ("y", 1)]
    store.transition_model_version_stage("x", 2, ModelStage.PRODUCTION)
    store.transition_model_version_stage("y", 1, ModelStage.PRODUCTION)
    prod = store.search_model_versions("current_stage = 'Production'")
    assert [(v.name, v.version) for v in prod] == [("x", 2), ("y", 1)]
    both = store.search_model_versions("name = 'x' and current_stage = 'Production'")
    assert [(v.name, v.version) for v in both] == [("x", 2)]
    assert len(store.search_model_versions()) == 4


def test_search_model_versions_pages(store: Store) -> None:
    _register(store, "iris", 5)
    first = store.search_model_versions("name = 'iris'", max_results=2)
    assert [v.version for v in first] == [5, 4]
    assert first.token is not None
    every = _all_pages(store.search_model_versions, filter_string="name = 'iris'", max_results=2)
    assert [v.version for v in every] == [5, 4, 3, 2, 1]


def test_search_model_versions_bad_filter_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.search_model_versions("name = ")
    with pytest.raises(InvalidInput):
        store.search_model_versions("params.x = '1'")


def test_update_model_version_description(store: Store) -> None:
    _register(store, "iris", 1)
    assert store.update_model_version("iris", 1, "better").description == "better"
    assert store.get_model_version("iris", 1).description == "better"
    with pytest.raises(NotFound):
        store.update_model_version("iris", 2, "x")


def test_model_version_tags(store: Store) -> None:
    _register(store, "iris", 2)
    store.set_model_version_tag("iris", 1, "val", "0.9")
    store.set_model_version_tag("iris", 1, "val", "0.95")
    store.set_model_version_tag("iris", 2, "other", "y")
    assert dict(store.get_model_version("iris", 1).tags) == {"val": "0.95"}
    assert dict(store.get_model_version("iris", 2).tags) == {"other": "y"}
    with pytest.raises(NotFound):
        store.set_model_version_tag("iris", 3, "k", "v")
    with pytest.raises(InvalidInput):
        store.set_model_version_tag("iris", 1, "", "v")


def test_delete_model_version_removes_it_and_its_aliases(store: Store) -> None:
    _register(store, "iris", 3)
    store.set_registered_model_alias("iris", "champion", 2)
    store.set_registered_model_alias("iris", "challenger", 3)
    store.set_model_version_tag("iris", 2, "k", "v")
    store.delete_model_version("iris", 2)
    with pytest.raises(NotFound):
        store.get_model_version("iris", 2)
    with pytest.raises(NotFound):
        store.get_model_version_by_alias("iris", "champion")
    assert dict(store.get_registered_model("iris").aliases) == {"challenger": 3}
    assert [v.version for v in store.search_model_versions("name = 'iris'")] == [3, 1]
    with pytest.raises(NotFound):
        store.delete_model_version("iris", 2)


def test_deleting_an_older_version_keeps_numbering(store: Store) -> None:
    _register(store, "iris", 3)
    store.delete_model_version("iris", 1)
    assert store.create_model_version("iris", "runs:/r/m").version == 4


def test_deleted_latest_version_number_is_not_reused(store: Store) -> None:
    _register(store, "iris", 3)
    store.delete_model_version("iris", 3)
    assert store.create_model_version("iris", "runs:/r/new").version == 4


# -- aliases -------------------------------------------------------------------------------
def test_set_and_get_alias(store: Store) -> None:
    _register(store, "iris", 2)
    store.set_registered_model_alias("iris", "champion", 1)
    assert store.get_model_version_by_alias("iris", "champion").version == 1
    assert store.get_model_version("iris", 1).aliases == ("champion",)
    assert dict(store.get_registered_model("iris").aliases) == {"champion": 1}
    for alias in ("prod", "blue"):  # one version may carry several aliases
        store.set_registered_model_alias("iris", alias, 1)
    assert store.get_model_version("iris", 1).aliases == ("blue", "champion", "prod")


def test_moving_an_alias_is_atomic(store: Store) -> None:
    _register(store, "iris", 3)
    store.set_registered_model_alias("iris", "champion", 1)
    store.set_registered_model_alias("iris", "challenger", 1)
    store.set_registered_model_alias("iris", "champion", 3)
    assert store.get_model_version_by_alias("iris", "champion").version == 3
    assert store.get_model_version("iris", 1).aliases == ("challenger",)
    assert store.get_model_version("iris", 3).aliases == ("champion",)
    assert dict(store.get_registered_model("iris").aliases) == {"champion": 3, "challenger": 1}
    # setting it to where it already points is a no-op
    store.set_registered_model_alias("iris", "champion", 3)
    assert store.get_model_version_by_alias("iris", "champion").version == 3


def test_delete_alias(store: Store) -> None:
    _register(store, "iris", 1)
    store.set_registered_model_alias("iris", "champion", 1)
    store.delete_registered_model_alias("iris", "champion")
    with pytest.raises(NotFound, match="champion"):
        store.get_model_version_by_alias("iris", "champion")
    assert store.get_model_version("iris", 1).aliases == ()
    with pytest.raises(NotFound):
        store.delete_registered_model_alias("iris", "champion")


def test_alias_to_missing_version_or_model_is_not_found(store: Store) -> None:
    _register(store, "iris", 1)
    with pytest.raises(NotFound):
        store.set_registered_model_alias("iris", "champion", 5)
    with pytest.raises(NotFound):
        store.set_registered_model_alias("nope", "champion", 1)
    with pytest.raises(NotFound):
        store.get_model_version_by_alias("nope", "champion")
    with pytest.raises(NotFound):
        store.get_model_version_by_alias("iris", "champion")


@pytest.mark.parametrize("alias", ["latest", "LATEST", "1", "42", ""])
def test_reserved_or_empty_aliases_are_refused(store: Store, alias: str) -> None:
    _register(store, "iris", 1)
    with pytest.raises(InvalidInput):
        store.set_registered_model_alias("iris", alias, 1)
    assert dict(store.get_registered_model("iris").aliases) == {}


def test_aliases_are_per_model(store: Store) -> None:
    _register(store, "a", 2)
    _register(store, "b", 1)
    store.set_registered_model_alias("a", "champion", 2)
    store.set_registered_model_alias("b", "champion", 1)
    assert store.get_model_version_by_alias("a", "champion").version == 2
    assert store.get_model_version_by_alias("b", "champion").name == "b"


# -- stages --------------------------------------------------------------------------------
def test_transition_stage(store: Store) -> None:
    _register(store, "iris", 2)
    moved = store.transition_model_version_stage("iris", 1, ModelStage.STAGING)
    assert moved.current_stage is ModelStage.STAGING
    assert store.get_model_version("iris", 1).current_stage is ModelStage.STAGING
    store.transition_model_version_stage("iris", 1, ModelStage.PRODUCTION)
    store.transition_model_version_stage("iris", 2, ModelStage.PRODUCTION)
    stages = {v.version: v.current_stage for v in store.search_model_versions("name = 'iris'")}
    assert stages == {1: ModelStage.PRODUCTION, 2: ModelStage.PRODUCTION}


def test_archive_existing_versions(store: Store) -> None:
    _register(store, "iris", 3)
    _register(store, "other", 1)
    store.transition_model_version_stage("iris", 1, ModelStage.PRODUCTION)
    store.transition_model_version_stage("iris", 2, ModelStage.STAGING)
    store.transition_model_version_stage("other", 1, ModelStage.PRODUCTION)
    store.transition_model_version_stage(
        "iris", 3, ModelStage.PRODUCTION, archive_existing_versions=True
    )
    stages = {v.version: v.current_stage for v in store.search_model_versions("name = 'iris'")}
    assert stages == {1: ModelStage.ARCHIVED, 2: ModelStage.STAGING, 3: ModelStage.PRODUCTION}
    assert store.get_model_version("other", 1).current_stage is ModelStage.PRODUCTION


@pytest.mark.parametrize("stage", ["Staging", "production", "ARCHIVED", "None"])
def test_stage_names_parse_in_any_case(store: Store, stage: str) -> None:
    _register(store, "iris", 1)
    moved = store.transition_model_version_stage("iris", 1, stage)  # type: ignore[arg-type]
    assert moved.current_stage.value.lower() == stage.lower()


@pytest.mark.parametrize("stage", ["Prod", "", "deployed"])
def test_invalid_stage_is_invalid_input(store: Store, stage: str) -> None:
    _register(store, "iris", 1)
    with pytest.raises(InvalidInput, match="stage"):
        store.transition_model_version_stage("iris", 1, stage)  # type: ignore[arg-type]
    assert store.get_model_version("iris", 1).current_stage is ModelStage.NONE


def test_archive_existing_needs_staging_or_production(store: Store) -> None:
    _register(store, "iris", 1)
    with pytest.raises(InvalidInput):
        store.transition_model_version_stage(
            "iris", 1, ModelStage.ARCHIVED, archive_existing_versions=True
        )


def test_transition_missing_version_is_not_found(store: Store) -> None:
    _register(store, "iris", 1)
    with pytest.raises(NotFound):
        store.transition_model_version_stage("iris", 2, ModelStage.STAGING)
    with pytest.raises(NotFound):
        store.transition_model_version_stage("nope", 1, ModelStage.STAGING)


# -- known bugs ------------------------------------------------------------------------------
def test_alias_with_a_slash_is_refused(store: Store) -> None:
    _register(store, "iris", 1)
    with pytest.raises(InvalidInput):
        store.set_registered_model_alias("iris", "team/champion", 1)


@pytest.mark.parametrize("version", ["abc", 1.9])
def test_client_bad_version_is_invalid_input(store: Store, version: object) -> None:
    from tunetrack.tracking.client import Client

    _register(store, "iris", 2)
    with pytest.raises(InvalidInput):
        Client(store=store).get_model_version("iris", version)  # type: ignore[arg-type]
