"""Store contract, search_runs: filters, ordering, paging, view types, bad input.

Runs on every backend of the ``store`` fixture (tests/conftest.py). Every test searches
the same five runs spread over two experiments:

    name   experiment  start    status    acc    model   depth  team
    rf-1   A           T0+1000  FINISHED  0.90   rf      3      x
    xgb-1  A           T0+2000  RUNNING   0.70   xgb     5      y
    rf-2   A           T0+3000  FAILED    -      rf      8      x
    rf-3   B           T0+4000  FINISHED  0.95   rf      5      -
    lin-1  B           T0+5000  FINISHED  0.50   linear  -      y
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from tunetrack.entities import Metric, Param, RunStatus, RunTag, ViewType
from tunetrack.errors import InvalidInput
from tunetrack.store.base import Store

T0 = 1_700_000_000_000

_ROWS = [
    # name, experiment, start offset, status, acc, model, depth, team
    ("rf-1", "A", 1000, RunStatus.FINISHED, 0.90, "rf", "3", "x"),
    ("xgb-1", "A", 2000, RunStatus.RUNNING, 0.70, "xgb", "5", "y"),
    ("rf-2", "A", 3000, RunStatus.FAILED, None, "rf", "8", "x"),
    ("rf-3", "B", 4000, RunStatus.FINISHED, 0.95, "rf", "5", None),
    ("lin-1", "B", 5000, RunStatus.FINISHED, 0.50, "linear", None, "y"),
]
ALL_NAMES = {row[0] for row in _ROWS}


@dataclass
class World:
    store: Store
    exp_a: str
    exp_b: str
    ids: dict[str, str]  # run name -> run id

    @property
    def both(self) -> list[str]:
        return [self.exp_a, self.exp_b]

    def names(self, runs) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r.info.run_id] for r in runs]

    def search(self, filter_string: str | None = None, **kwargs) -> list[str]:
        return self.names(self.store.search_runs(self.both, filter_string, **kwargs))

    def found(self, filter_string: str) -> set[str]:
        return set(self.search(filter_string))


@pytest.fixture
def world(store: Store) -> World:
    exps = {"A": store.create_experiment("search-a"), "B": store.create_experiment("search-b")}
    ids = {}
    for name, exp, offset, status, acc, model, depth, team in _ROWS:
        run = store.create_run(
            exps[exp],
            start_time=T0 + offset,
            run_name=name,
            tags={"team": team} if team else None,
        )
        run_id = run.info.run_id
        params = [Param("model", model)] + ([Param("depth", depth)] if depth else [])
        metrics = [Metric("loss", 1.0 - (acc or 0.0), T0 + offset, 0)]
        if acc is not None:
            metrics += [Metric("acc", acc / 2, T0 + offset, 0), Metric("acc", acc, T0 + offset, 1)]
        store.log_batch(run_id, metrics=metrics, params=params)
        if status is not RunStatus.RUNNING:
            store.update_run_info(run_id, status=status, end_time=T0 + offset + 500)
        ids[name] = run_id
    return World(store, exps["A"], exps["B"], ids)


def _all_pages(world: World, max_results: int, **kwargs) -> list[str]:
    names, token = [], None
    for _ in range(100):
        page = world.store.search_runs(
            world.both, max_results=max_results, page_token=token, **kwargs
        )
        assert len(page) <= max_results
        names += world.names(page)
        token = page.token
        if token is None:
            return names
    pytest.fail("search_runs never returned a final page (token stayed set)")


# -- scope -----------------------------------------------------------------------------------
def test_search_without_filter_returns_all_runs_of_both_experiments(world: World) -> None:
    assert set(world.search()) == ALL_NAMES
    assert len(world.search()) == 5


def test_search_is_limited_to_the_given_experiments(world: World) -> None:
    only_b = world.store.search_runs([world.exp_b])
    assert set(world.names(only_b)) == {"rf-3", "lin-1"}


def test_search_in_an_experiment_without_runs_is_empty(world: World) -> None:
    empty = world.store.create_experiment("empty")
    page = world.store.search_runs([empty])
    assert page == []
    assert page.token is None


def test_search_results_carry_the_run_data(world: World) -> None:
    [run] = world.store.search_runs(world.both, "attributes.run_name = 'rf-1'")
    assert run.info.run_id == world.ids["rf-1"]
    assert run.info.status is RunStatus.FINISHED
    assert dict(run.data.params) == {"model": "rf", "depth": "3"}
    assert dict(run.data.metrics) == pytest.approx({"acc": 0.90, "loss": 0.10})
    assert run.data.tags["team"] == "x"
    assert run == world.store.get_run(world.ids["rf-1"])


# -- filters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.8", {"rf-1", "rf-3"}),
        ("metrics.acc >= 0.7", {"rf-1", "xgb-1", "rf-3"}),
        ("metrics.acc < 0.8", {"xgb-1", "lin-1"}),
        ("metrics.acc = 0.95", {"rf-3"}),
        ("metrics.acc != 0.95", {"rf-1", "xgb-1", "lin-1"}),
        ("metrics.loss <= 0.2", {"rf-1", "rf-3"}),
    ],
)
def test_filter_on_metrics_uses_the_latest_value(world: World, filter_string, expected) -> None:
    assert world.found(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.model = 'rf'", {"rf-1", "rf-2", "rf-3"}),
        ("params.model != 'rf'", {"xgb-1", "lin-1"}),
        ("params.depth IN ('3', '5')", {"rf-1", "xgb-1", "rf-3"}),
        ("params.depth NOT IN ('3', '5')", {"rf-2"}),
        ("params.model LIKE 'x%'", {"xgb-1"}),
        ("params.depth = '5'", {"xgb-1", "rf-3"}),
    ],
)
def test_filter_on_params(world: World, filter_string, expected) -> None:
    assert world.found(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team = 'x'", {"rf-1", "rf-2"}),
        ("tags.team != 'x'", {"xgb-1", "lin-1"}),
        ("tags.team IN ('y')", {"xgb-1", "lin-1"}),
    ],
)
def test_filter_on_tags(world: World, filter_string, expected) -> None:
    assert world.found(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("attributes.status = 'FINISHED'", {"rf-1", "rf-3", "lin-1"}),
        ("attributes.status != 'FINISHED'", {"xgb-1", "rf-2"}),
        ("attributes.status IN ('RUNNING', 'FAILED')", {"xgb-1", "rf-2"}),
        ("run_name LIKE 'rf%'", {"rf-1", "rf-2", "rf-3"}),
        ("attributes.run_name = 'lin-1'", {"lin-1"}),
        (f"attributes.start_time > {T0 + 2500}", {"rf-2", "rf-3", "lin-1"}),
        (f"attributes.start_time <= {T0 + 2000}", {"rf-1", "xgb-1"}),
    ],
)
def test_filter_on_attributes(world: World, filter_string, expected) -> None:
    assert world.found(filter_string) == expected


def test_filter_on_run_id(world: World) -> None:
    run_id = world.ids["xgb-1"]
    assert world.found(f"attributes.run_id = '{run_id}'") == {"xgb-1"}


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.model = 'rf' and metrics.acc > 0.92", {"rf-3"}),
        ("params.model = 'xgb' or tags.team = 'x'", {"xgb-1", "rf-1", "rf-2"}),
        # AND binds tighter than OR ...
        ("params.model = 'linear' or params.model = 'xgb' and metrics.acc > 0.8", {"lin-1"}),
        # ... unless parentheses say otherwise.
        ("(params.model = 'linear' or params.model = 'xgb') and metrics.acc > 0.6", {"xgb-1"}),
        (
            "tags.team = 'x' and (metrics.acc > 0.85 or attributes.status = 'FAILED')",
            {"rf-1", "rf-2"},
        ),
        ("params.model = 'rf' AND run_name LIKE '%-3'", {"rf-3"}),
    ],
)
def test_filter_with_and_or_and_parentheses(world: World, filter_string, expected) -> None:
    assert world.found(filter_string) == expected


def test_filter_that_matches_nothing_returns_an_empty_page(world: World) -> None:
    page = world.store.search_runs(world.both, "metrics.acc > 2")
    assert page == []
    assert page.token is None


def test_filter_on_a_never_logged_metric_matches_nothing(world: World) -> None:
    assert world.found("metrics.never > -1e308") == set()


def test_filter_value_is_bound_not_spliced(world: World) -> None:
    assert world.found("params.model = 'rf\" OR 1=1 --'") == set()
    assert world.found('tags.team = \'x" OR "1"="1\'') == set()


# -- order_by -------------------------------------------------------------------------------
def test_order_by_metric_desc_puts_missing_last(world: World) -> None:
    assert world.search(order_by=["metrics.acc DESC"]) == ["rf-3", "rf-1", "xgb-1", "lin-1", "rf-2"]


def test_order_by_metric_asc_puts_missing_last(world: World) -> None:
    assert world.search(order_by=["metrics.acc ASC"]) == ["lin-1", "xgb-1", "rf-1", "rf-3", "rf-2"]


def test_order_by_several_keys(world: World) -> None:
    order = ["params.model ASC", "metrics.acc DESC"]
    assert world.search(order_by=order) == ["lin-1", "rf-3", "rf-1", "rf-2", "xgb-1"]


def test_order_by_start_time(world: World) -> None:
    newest_first = ["lin-1", "rf-3", "rf-2", "xgb-1", "rf-1"]
    assert world.search(order_by=["start_time DESC"]) == newest_first
    assert world.search(order_by=["attributes.start_time ASC"]) == newest_first[::-1]


def test_order_by_run_name(world: World) -> None:
    expected = ["lin-1", "rf-1", "rf-2", "rf-3", "xgb-1"]
    assert world.search(order_by=["attributes.run_name"]) == expected


def test_default_order_is_newest_first(world: World) -> None:
    assert world.search() == ["lin-1", "rf-3", "rf-2", "xgb-1", "rf-1"]


def test_order_by_combines_with_a_filter(world: World) -> None:
    got = world.search("params.model = 'rf'", order_by=["metrics.acc DESC"])
    assert got == ["rf-3", "rf-1", "rf-2"]


# -- paging -----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_results", [1, 2, 3, 5])
def test_pages_return_every_run_exactly_once(world: World, max_results: int) -> None:
    names = _all_pages(world, max_results)
    assert sorted(names) == sorted(ALL_NAMES)


def test_pages_keep_the_requested_order(world: World) -> None:
    names = _all_pages(world, 2, order_by=["metrics.acc DESC"])
    assert names == ["rf-3", "rf-1", "xgb-1", "lin-1", "rf-2"]


@pytest.mark.parametrize("max_results", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_pages_sorted_by_a_metric_put_nan_and_missing_last_on_every_page(
    store: Store, experiment_id: str, max_results: int, direction: str
) -> None:
    # the runs with a value are read in value order, the rest after them: every page size
    # puts the seam somewhere else (inside a page, at its end, past it)
    values = {"a": 0.3, "b": math.nan, "c": -math.inf, "d": None, "e": 0.2, "f": math.inf}
    names = {}
    for i, (name, value) in enumerate(values.items()):
        run_id = store.create_run(experiment_id, start_time=T0 + i, run_name=name).info.run_id
        names[run_id] = name
        if value is not None:
            store.log_batch(run_id, metrics=[Metric("m", value, T0, 0)])
    seen, token = [], None
    for _ in range(10):
        page = store.search_runs(
            [experiment_id], order_by=[f"metrics.m {direction}"], max_results=max_results,
            page_token=token,
        )  # fmt: skip
        seen += [names[r.info.run_id] for r in page]
        token = page.token
        if token is None:
            break
    valued = ["c", "e", "a", "f"] if direction == "ASC" else ["f", "a", "e", "c"]
    assert seen == [*valued, "d", "b"]  # NaN and never logged: newest first


def test_pages_respect_the_filter(world: World) -> None:
    assert sorted(_all_pages(world, 1, filter_string="params.model = 'rf'")) == [
        "rf-1",
        "rf-2",
        "rf-3",
    ]


def test_a_partial_first_page_has_a_token(world: World) -> None:
    first = world.store.search_runs(world.both, max_results=2)
    assert len(first) == 2
    assert first.token is not None


def test_a_page_holding_everything_ends_the_search(world: World) -> None:
    everything = world.store.search_runs(world.both, max_results=10)
    assert len(everything) == 5
    assert everything.token is None


def test_paging_through_ties_is_stable(store: Store, experiment_id: str) -> None:
    run_ids = {
        store.create_run(experiment_id, start_time=T0).info.run_id for _ in range(11)
    }  # identical start times: only a tie-breaker keeps pages apart
    seen, token = [], None
    for _ in range(20):
        page = store.search_runs([experiment_id], max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == run_ids


def test_max_results_of_50000_is_allowed(world: World) -> None:
    assert len(world.store.search_runs(world.both, max_results=50000)) == 5


@pytest.mark.parametrize("max_results", [0, -1, 50001])
def test_max_results_out_of_range_is_invalid(world: World, max_results: int) -> None:
    with pytest.raises(InvalidInput):
        world.store.search_runs(world.both, max_results=max_results)


def test_a_garbage_page_token_is_invalid(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.store.search_runs(world.both, page_token="definitely-not-a-token")


# -- view types ------------------------------------------------------------------------------
def test_view_type_selects_deleted_runs(world: World) -> None:
    world.store.delete_run(world.ids["rf-2"])
    assert set(world.search()) == ALL_NAMES - {"rf-2"}
    assert world.search(view_type=ViewType.DELETED_ONLY) == ["rf-2"]
    assert set(world.search(view_type=ViewType.ALL)) == ALL_NAMES


def test_view_type_and_filter_combine(world: World) -> None:
    world.store.delete_run(world.ids["rf-2"])
    world.store.delete_run(world.ids["lin-1"])
    got = world.search("params.model = 'rf'", view_type=ViewType.DELETED_ONLY)
    assert got == ["rf-2"]


# -- bad filters and orders ---------------------------------------------------------------
@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.acc >",
        "metrics.acc > 0.5 and",
        "params.model = 'rf",
        "(metrics.acc > 0.5",
        "metrics.acc > 0.5)",
        "metrics.acc >>> 0.5",
        "params.model = 'rf' xor tags.team = 'x'",
        "bogus.acc > 0.5",
    ],
)
def test_a_bad_filter_is_invalid_and_points_at_the_column(world: World, filter_string) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        world.store.search_runs(world.both, filter_string)
    assert "column" in str(excinfo.value).lower()


@pytest.mark.parametrize(
    "filter_string",
    ["metrics.acc = 'high'", "attributes.nonexistent = 'x'", "metrics.acc > 0.5 0.6"],
)
def test_a_meaningless_filter_is_invalid(world: World, filter_string) -> None:
    with pytest.raises(InvalidInput):
        world.store.search_runs(world.both, filter_string)


@pytest.mark.parametrize(
    "order_by",
    [["metrics.acc SIDEWAYS"], ["bogus.acc DESC"], ["attributes.nonexistent"], [""]],
)
def test_a_bad_order_by_is_invalid(world: World, order_by) -> None:
    with pytest.raises(InvalidInput):
        world.store.search_runs(world.both, order_by=order_by)


# -- snapshots from search ------------------------------------------------------------------
def test_searched_runs_are_snapshots(world: World) -> None:
    [run] = world.store.search_runs(world.both, "attributes.run_name = 'xgb-1'")
    world.store.log_batch(
        run.info.run_id, metrics=[Metric("acc", 0.99, T0 + 9999, 5)], tags=[RunTag("team", "z")]
    )
    assert run.data.metrics["acc"] == 0.70
    assert run.data.tags["team"] == "y"
    with pytest.raises(TypeError):
        run.data.metrics["acc"] = 1.0


# -- more of the filter language --------------------------------------------------------
def test_filter_on_parent_run_id_finds_the_children(store: Store, make_run) -> None:
    parent = make_run(run_name="sweep").info.run_id
    children = {make_run(parent_run_id=parent).info.run_id for _ in range(3)}
    make_run(run_name="unrelated")
    exp = store.get_run(parent).info.experiment_id
    found = store.search_runs([exp], f"attributes.parent_run_id = '{parent}'")
    assert {r.info.run_id for r in found} == children


def test_filter_on_a_quoted_key_with_a_space(store: Store, make_run) -> None:
    run_id = make_run().info.run_id
    store.log_batch(run_id, metrics=[Metric("val loss", 0.3, T0)], params=[Param("n est", "9")])
    exp = store.get_run(run_id).info.experiment_id
    assert len(store.search_runs([exp], "metrics.`val loss` < 0.5")) == 1
    assert len(store.search_runs([exp], "params.`n est` = '9'")) == 1
    assert store.search_runs([exp], "metrics.`val loss` > 0.5") == []


def test_like_is_case_sensitive_and_ilike_is_not(world: World) -> None:
    assert world.found("run_name LIKE 'RF%'") == set()
    assert world.found("run_name ILIKE 'RF%'") == {"rf-1", "rf-2", "rf-3"}


def test_a_bad_view_type_is_invalid(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.store.search_runs(world.both, view_type="bogus")  # type: ignore[arg-type]


def test_paging_while_new_runs_arrive_returns_each_old_run_once(
    store: Store, experiment_id: str
) -> None:
    old = {store.create_run(experiment_id, start_time=T0 + i).info.run_id for i in range(6)}
    page = store.search_runs([experiment_id], max_results=3)
    seen = [r.info.run_id for r in page]
    # A live sweep adds newer runs between two page requests (default order: newest first).
    for i in range(2):
        store.create_run(experiment_id, start_time=T0 + 100 + i)
    while page.token is not None:
        page = store.search_runs([experiment_id], max_results=3, page_token=page.token)
        seen += [r.info.run_id for r in page]
    assert len(seen) == len(set(seen)), "a run was returned on two pages"
    assert old <= set(seen)
