"""Store contract, experiments: create, read, search, delete/restore, rename, tags.

Runs on every backend of the ``store`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from functools import partial

import pytest

from tunetrack.entities import LifecycleStage, ViewType
from tunetrack.errors import Conflict, InvalidInput, NotFound
from tunetrack.store.base import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, Store

MISSING_ID = "987654321"
RACE_ROUNDS = 25  # each round races renames to one name; one round is enough to show a bug


def _names(experiments) -> list[str]:
    return [e.name for e in experiments]


def _all_pages(store: Store, **kwargs) -> list:
    """Follow page tokens to the end; fail on a runaway loop."""
    items, token = [], None
    for _ in range(100):
        page = store.search_experiments(page_token=token, **kwargs)
        assert len(page) <= kwargs.get("max_results", 1000)
        items.extend(page)
        token = page.token
        if token is None:
            return items
    pytest.fail("search_experiments never returned a final page (token stayed set)")


# -- the default experiment ------------------------------------------------------------
def test_default_experiment_exists_in_a_fresh_store(store: Store) -> None:
    exp = store.get_experiment(DEFAULT_EXPERIMENT_ID)
    assert DEFAULT_EXPERIMENT_ID == "0"
    assert exp.experiment_id == "0"
    assert exp.name == DEFAULT_EXPERIMENT_NAME == "Default"
    assert exp.lifecycle_stage is LifecycleStage.ACTIVE


def test_default_experiment_found_by_name(store: Store) -> None:
    exp = store.get_experiment_by_name("Default")
    assert exp is not None
    assert exp.experiment_id == "0"


def test_default_experiment_listed_by_search(store: Store) -> None:
    assert _names(store.search_experiments()) == ["Default"]


# -- create / get ------------------------------------------------------------------------
def test_create_experiment_returns_a_new_string_id(store: Store) -> None:
    first = store.create_experiment("first")
    second = store.create_experiment("second")
    assert isinstance(first, str)
    assert isinstance(second, str)
    assert len({first, second, "0"}) == 3


@pytest.mark.sql_only  # a server refuses locations outside its artifact store (security tests)
def test_get_experiment_returns_what_was_created(store: Store) -> None:
    exp_id = store.create_experiment("iris", artifact_location="/tmp/somewhere/iris")
    exp = store.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == "iris"
    assert exp.artifact_location == "/tmp/somewhere/iris"
    assert exp.lifecycle_stage is LifecycleStage.ACTIVE
    assert isinstance(exp.creation_time, int)
    assert exp.creation_time > 1_600_000_000_000  # milliseconds, not seconds
    assert exp.last_update_time >= exp.creation_time


def test_default_artifact_location_is_filled_in(store: Store) -> None:
    exp = store.get_experiment(store.create_experiment("no-location"))
    assert isinstance(exp.artifact_location, str)
    assert exp.artifact_location


def test_get_experiment_by_name_finds_it(store: Store) -> None:
    exp_id = store.create_experiment("by-name")
    exp = store.get_experiment_by_name("by-name")
    assert exp is not None
    assert exp.experiment_id == exp_id


def test_get_experiment_by_name_returns_none_when_missing(store: Store) -> None:
    assert store.get_experiment_by_name("never-created") is None


def test_get_experiment_by_name_is_exact_not_a_pattern(store: Store) -> None:
    store.create_experiment("abc")
    assert store.get_experiment_by_name("a%") is None
    assert store.get_experiment_by_name("ABC") is None


def test_create_experiment_with_a_taken_name_is_a_conflict(store: Store) -> None:
    store.create_experiment("dup")
    with pytest.raises(Conflict):
        store.create_experiment("dup")
    assert _names(store.search_experiments(filter_string="name = 'dup'")) == ["dup"]


def test_a_deleted_experiment_keeps_its_name(store: Store) -> None:
    store.delete_experiment(store.create_experiment("gone"))
    with pytest.raises(Conflict):
        store.create_experiment("gone")


@pytest.mark.parametrize("name", ["", "x" * 1000], ids=["empty", "too-long"])
def test_create_experiment_with_a_bad_name_is_invalid(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput):
        store.create_experiment(name)


def test_experiment_name_may_hold_unicode_and_quotes(store: Store) -> None:
    name = "résumé 'quoted' \"double\" 実験"
    exp_id = store.create_experiment(name)
    assert store.get_experiment(exp_id).name == name
    assert store.get_experiment_by_name(name).experiment_id == exp_id


# -- tags ----------------------------------------------------------------------------------
def test_experiment_tags_given_at_creation_are_stored(store: Store) -> None:
    exp_id = store.create_experiment("tagged", tags={"team": "vision", "owner": "ana"})
    assert dict(store.get_experiment(exp_id).tags) == {"team": "vision", "owner": "ana"}


def test_set_experiment_tag_adds_and_overwrites(store: Store) -> None:
    exp_id = store.create_experiment("tagged", tags={"team": "vision"})
    store.set_experiment_tag(exp_id, "team", "nlp")
    store.set_experiment_tag(exp_id, "stage", "dev")
    assert dict(store.get_experiment(exp_id).tags) == {"team": "nlp", "stage": "dev"}


def test_set_experiment_tag_on_a_missing_experiment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.set_experiment_tag(MISSING_ID, "k", "v")


# -- missing ids -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda s, i: s.get_experiment(i),
        lambda s, i: s.delete_experiment(i),
        lambda s, i: s.restore_experiment(i),
        lambda s, i: s.rename_experiment(i, "new-name"),
    ],
    ids=["get", "delete", "restore", "rename"],
)
def test_missing_experiment_id_is_not_found(store: Store, call) -> None:
    with pytest.raises(NotFound):
        call(store, MISSING_ID)


@pytest.mark.parametrize("bad_id", ["abc", "", "1; DROP TABLE experiments", "-1", "1.5"])
def test_non_numeric_experiment_id_is_not_found_or_invalid(store: Store, bad_id: str) -> None:
    with pytest.raises((NotFound, InvalidInput)):
        store.get_experiment(bad_id)
    assert store.get_experiment("0").name == "Default"


# -- delete / restore ----------------------------------------------------------------------
def test_delete_experiment_marks_it_deleted(store: Store) -> None:
    exp_id = store.create_experiment("to-delete")
    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage is LifecycleStage.DELETED


def test_the_default_experiment_cannot_be_deleted(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.delete_experiment("0")
    assert store.get_experiment("0").lifecycle_stage is LifecycleStage.ACTIVE


def test_deleted_experiment_is_excluded_from_active_only(store: Store) -> None:
    exp_id = store.create_experiment("to-delete")
    store.create_experiment("kept")
    store.delete_experiment(exp_id)
    assert sorted(_names(store.search_experiments(ViewType.ACTIVE_ONLY))) == ["Default", "kept"]


def test_search_experiments_deleted_only_and_all(store: Store) -> None:
    store.delete_experiment(store.create_experiment("gone"))
    store.create_experiment("kept")
    assert _names(store.search_experiments(ViewType.DELETED_ONLY)) == ["gone"]
    assert sorted(_names(store.search_experiments(ViewType.ALL))) == ["Default", "gone", "kept"]


def test_restore_experiment_makes_it_active_again(store: Store) -> None:
    exp_id = store.create_experiment("back")
    store.delete_experiment(exp_id)
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage is LifecycleStage.ACTIVE
    assert "back" in _names(store.search_experiments(ViewType.ACTIVE_ONLY))
    assert store.search_experiments(ViewType.DELETED_ONLY) == []


def test_deleted_experiment_is_still_found_by_name(store: Store) -> None:
    exp_id = store.create_experiment("gone")
    store.delete_experiment(exp_id)
    exp = store.get_experiment_by_name("gone")
    assert exp is not None
    assert exp.lifecycle_stage is LifecycleStage.DELETED


# -- rename ----------------------------------------------------------------------------------
def test_rename_experiment_changes_its_name(store: Store) -> None:
    exp_id = store.create_experiment("old")
    store.rename_experiment(exp_id, "new")
    assert store.get_experiment(exp_id).name == "new"
    assert store.get_experiment_by_name("new").experiment_id == exp_id
    assert store.get_experiment_by_name("old") is None


def test_rename_experiment_to_a_taken_name_is_a_conflict(store: Store) -> None:
    exp_id = store.create_experiment("a")
    store.create_experiment("b")
    with pytest.raises(Conflict):
        store.rename_experiment(exp_id, "b")
    assert store.get_experiment(exp_id).name == "a"


def test_concurrent_renames_to_one_name_leave_one_winner_and_conflicts(store: Store, race) -> None:
    for i in range(RACE_ROUNDS):
        ids = [store.create_experiment(f"round{i}-{k}") for k in range(3)]
        outcomes = race(*(partial(store.rename_experiment, e, f"taken-{i}") for e in ids))
        winners = [e for e, outcome in zip(ids, outcomes, strict=True) if outcome is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, Conflict) for o in outcomes if o is not None), outcomes
        assert store.get_experiment_by_name(f"taken-{i}").experiment_id == winners[0]


def test_rename_experiment_to_an_empty_name_is_invalid(store: Store) -> None:
    exp_id = store.create_experiment("a")
    with pytest.raises(InvalidInput):
        store.rename_experiment(exp_id, "")
    assert store.get_experiment(exp_id).name == "a"


# -- search: filter, order, pages --------------------------------------------------------
def test_search_experiments_filter_by_name_like(store: Store) -> None:
    for name in ("alpha", "apple", "beta", "Avocado"):
        store.create_experiment(name)
    found = store.search_experiments(filter_string="name LIKE 'a%'")
    assert sorted(_names(found)) == ["alpha", "apple"]


def test_search_experiments_filter_by_name_equals(store: Store) -> None:
    store.create_experiment("alpha")
    store.create_experiment("beta")
    assert _names(store.search_experiments(filter_string="name = 'beta'")) == ["beta"]


def test_search_experiments_filter_by_tag(store: Store) -> None:
    store.create_experiment("e1", tags={"team": "x"})
    store.create_experiment("e2", tags={"team": "y"})
    store.create_experiment("e3")
    store.create_experiment("e4", tags={"team": "x", "other": "1"})
    found = store.search_experiments(filter_string="tags.team = 'x'")
    assert sorted(_names(found)) == ["e1", "e4"]


def test_search_experiments_filter_and_view_type_combine(store: Store) -> None:
    store.delete_experiment(store.create_experiment("a-gone"))
    store.create_experiment("a-kept")
    store.create_experiment("b-kept")
    found = store.search_experiments(ViewType.ALL, filter_string="name LIKE 'a-%'")
    assert sorted(_names(found)) == ["a-gone", "a-kept"]
    found = store.search_experiments(ViewType.ACTIVE_ONLY, filter_string="name LIKE 'a-%'")
    assert _names(found) == ["a-kept"]


def test_search_experiments_order_by_name(store: Store) -> None:
    for name in ("m", "c", "x", "a"):
        store.create_experiment(name)
    only_new = "name != 'Default'"
    ascending = store.search_experiments(filter_string=only_new, order_by=["name ASC"])
    descending = store.search_experiments(filter_string=only_new, order_by=["name DESC"])
    assert _names(ascending) == ["a", "c", "m", "x"]
    assert _names(descending) == ["x", "m", "c", "a"]


def test_search_experiments_order_by_creation_time_desc(store: Store) -> None:
    ids = [store.create_experiment(f"e{i}") for i in range(3)]
    found = store.search_experiments(order_by=["creation_time DESC"])
    times = [e.creation_time for e in found]
    assert times == sorted(times, reverse=True)
    assert {e.experiment_id for e in found} == {*ids, "0"}


def test_search_experiments_pages_cover_everything_once(store: Store) -> None:
    created = {store.create_experiment(f"page-{i:02d}") for i in range(7)}
    items = _all_pages(store, max_results=3, order_by=["name ASC"])
    ids = [e.experiment_id for e in items]
    assert len(ids) == len(set(ids)) == 8
    assert set(ids) == created | {"0"}


def test_search_experiments_first_page_has_a_token_and_last_has_none(store: Store) -> None:
    for i in range(4):
        store.create_experiment(f"e{i}")
    first = store.search_experiments(max_results=2)
    assert len(first) == 2
    assert first.token is not None
    everything = store.search_experiments(max_results=100)
    assert len(everything) == 5
    assert everything.token is None


def test_search_experiments_paging_without_order_by_is_stable(store: Store) -> None:
    created = {store.create_experiment(f"e{i}") for i in range(5)}
    ids = [e.experiment_id for e in _all_pages(store, max_results=2)]
    assert len(ids) == len(set(ids))
    assert set(ids) == created | {"0"}


@pytest.mark.parametrize("max_results", [0, -1, 50001])
def test_search_experiments_bad_max_results_is_invalid(store: Store, max_results: int) -> None:
    with pytest.raises(InvalidInput):
        store.search_experiments(max_results=max_results)


@pytest.mark.parametrize(
    "filter_string", ["name LIKE", "name = 'a' and", "nope.x = 'a'", "name === 'a'"]
)
def test_search_experiments_bad_filter_is_invalid(store: Store, filter_string: str) -> None:
    with pytest.raises(InvalidInput):
        store.search_experiments(filter_string=filter_string)


def test_search_experiments_bad_order_by_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.search_experiments(order_by=["name SIDEWAYS"])


def test_search_experiments_bad_page_token_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.search_experiments(page_token="not-a-token")


def test_search_experiments_bad_view_type_is_invalid(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.search_experiments(view_type="bogus")  # type: ignore[arg-type]


def test_experiment_tags_mapping_is_read_only(store: Store) -> None:
    exp = store.get_experiment(store.create_experiment("ro", tags={"a": "1"}))
    with pytest.raises(TypeError):
        exp.tags["a"] = "2"  # type: ignore[index]
    assert exp.tags["a"] == "1"


def test_experiment_returned_earlier_does_not_change(store: Store) -> None:
    exp_id = store.create_experiment("before", tags={"a": "1"})
    snapshot = store.get_experiment(exp_id)
    store.rename_experiment(exp_id, "after")
    store.set_experiment_tag(exp_id, "a", "2")
    store.delete_experiment(exp_id)
    assert snapshot.name == "before"
    assert dict(snapshot.tags) == {"a": "1"}
    assert snapshot.lifecycle_stage is LifecycleStage.ACTIVE
