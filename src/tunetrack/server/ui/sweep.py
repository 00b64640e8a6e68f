"""What the sweep page shows: trials by status, history, importance, slices, intermediate
values (pruned trials marked), the Pareto front of a multi-objective sweep, best and retrain.

Parameter importance (optuna's fANOVA over the finished trials) costs seconds at thousands
of trials, so it is cached per sweep and number of finished trials: a page refresh reuses
it, one more finished trial recomputes it.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput
from tunetrack.server.ui import charts, reads
from tunetrack.server.ui.downsample import downsample
from tunetrack.store.base import Store
from tunetrack.store.sql.store import SqlStore
from tunetrack.sweep import tags as T
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.select import sweep_goals
from tunetrack.sweep.worker import ERROR_TAG

_PAGE = 1000
#: fANOVA's forest: optuna's defaults (64 trees, depth 64) take minutes at 2,000 trials,
#: since the marginal variances grow with the leaves; 32 trees of depth 6 rank the same
#: parameters in about a second.
IMPORTANCE_TREES = 32
IMPORTANCE_DEPTH = 6
MAX_INTERMEDIATE = 300  # trials drawn in the intermediate-values chart (the newest)
INTERMEDIATE_POINTS = 200  # points per trial there (downsampled)


def child_runs(store: Store, parent: Run, extra_filter: str = "") -> Iterator[Run]:
    """Every child run of ``parent`` (matching ``extra_filter``), a page at a time."""
    filter_string = f"attributes.parent_run_id = '{parent.info.run_id}'" + extra_filter
    token = None
    while True:
        page = store.search_runs(
            [parent.info.experiment_id], filter_string, max_results=_PAGE, page_token=token
        )
        yield from page
        token = page.token
        if token is None:
            return


@dataclass
class Trial:
    """One trial row: its run, number, objective value, proposed params, failure reason."""

    run: Run
    number: int
    value: float | None
    params: dict[str, Any]
    reason: str = ""

    @property
    def finished(self) -> bool:
        """Finished with an objective value (what history, slices and importance use)."""
        return self.run.info.status is RunStatus.FINISHED and self.value is not None


@dataclass
class SweepView:
    """Everything the sweep page renders."""

    parent: Run
    metric: str
    maximize: bool
    goals: list[Goal]
    trials: list[Trial]
    counts: dict[str, int]
    best: Run | None = None
    retrain: Run | None = None
    registered: str | None = None
    importance: dict[str, float] | None = None
    figures: dict[str, charts.Figure] = field(default_factory=dict)


def _reason(run: Run) -> str:
    if run.info.status not in (RunStatus.FAILED, RunStatus.KILLED):
        return ""
    tags = run.data.tags
    return tags.get(ERROR_TAG) or tags.get(T.TRIAL_ABANDONED) or "no reason recorded"


def _params(run: Run) -> dict[str, Any]:
    """The trial's proposed params with their types (its params tag), else its logged
    params with numbers read back as numbers (a run param is text)."""
    raw = run.data.tags.get(T.TRIAL_PARAMS)
    if raw:
        return dict(json.loads(raw))
    return {key: _number_or_text(value) for key, value in run.data.params.items()}


def _number_or_text(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class ImportanceCache:
    """fANOVA importances per (sweep id, finished trials), the newest 64 kept."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], dict[str, float] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sweep_id: str, finished: list[Trial], maximize: bool) -> dict[str, float] | None:
        """The importances of these finished trials, computed once per count."""
        key = (sweep_id, len(finished))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = importances(finished, maximize)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def _distribution(values: list[Any]) -> Any:
    """The optuna distribution these observed values could come from (None: constant)."""
    import optuna.distributions as d

    if len({json.dumps(v, sort_keys=True) for v in values}) < 2:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return d.IntDistribution(min(values), max(values))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return d.FloatDistribution(float(min(values)), float(max(values)))
    return d.CategoricalDistribution(sorted({json.dumps(v) for v in values}))


def _internal(value: Any, dist: Any) -> Any:
    """A param value as the distribution :func:`_distribution` made expects it."""
    import optuna.distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return json.dumps(value)
    return float(value) if isinstance(dist, d.FloatDistribution) else value


def importances(finished: list[Trial], maximize: bool) -> dict[str, float] | None:
    """fANOVA importance of each varying parameter, or None with fewer than 3 trials."""
    if len(finished) < 3:
        return None
    import optuna

    params = [t.params for t in finished]
    keys = sorted({k for p in params for k in p})
    dists = {}
    for key in keys:
        values = [p[key] for p in params if key in p]
        dist = _distribution(values)
        if dist is not None and len(values) == len(params):
            dists[key] = dist
    if not dists:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for trial, p in zip(finished, params, strict=True):
        chosen = {k: _internal(p[k], dist) for k, dist in dists.items()}
        study.add_trial(
            optuna.trial.create_trial(params=chosen, distributions=dists, value=trial.value)
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(
        n_trees=IMPORTANCE_TREES, max_depth=IMPORTANCE_DEPTH, seed=0
    )
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def _trials(
    store: Store, parent: Run, goal: Goal, extra_filter: str = ""
) -> tuple[list[Trial], Run | None]:
    """The sweep's trials in number order, and its retrained run (if any)."""
    trials: list[Trial] = []
    retrain = None
    for run in child_runs(store, parent, extra_filter):
        kind = run.data.tags.get(T.RUN_TYPE)
        if kind == "retrain":
            retrain = run
        elif kind == "trial":
            value = charts.number(run.data.metrics.get(goal.name))
            number = int(run.data.tags.get(T.TRIAL_NUMBER, "0"))
            trials.append(Trial(run, number, value, _params(run), _reason(run)))
    trials.sort(key=lambda t: t.number)
    return trials, retrain


def _goals(parent: Run) -> list[Goal]:
    if parent.data.tags.get(T.RUN_TYPE) != "sweep":
        raise InvalidInput(f"run {parent.info.run_id!r} is not a sweep")
    return sweep_goals(parent)


def sweep_view(store: SqlStore, parent: Run, cache: ImportanceCache) -> SweepView:
    """Read a sweep's trials and build its page (InvalidInput when ``parent`` is no sweep)."""
    goals = _goals(parent)
    goal = goals[0]
    maximize = goal.direction == "maximize"
    trials, retrain = _trials(store, parent, goal)
    counts = Counter(t.run.info.status.value for t in trials)
    view = SweepView(parent, goal.name, maximize, goals, trials, dict(sorted(counts.items())))
    best_id = parent.data.tags.get(T.BEST_RUN)
    view.best = next((t.run for t in trials if t.run.info.run_id == best_id), None)
    view.retrain = retrain
    if retrain is not None:
        view.registered = retrain.data.tags.get(T.REGISTERED_VERSION)
    finished = [t for t in trials if t.finished]
    view.figures["history"] = charts.optimisation_history(
        [t.number for t in finished], [t.value for t in finished], maximize, goal.name
    )
    view.importance = cache.get(parent.info.run_id, finished, maximize)
    if view.importance:
        view.figures["importance"] = charts.importance_bars(view.importance)
    intermediate = _intermediate(store, trials, goal.name)
    if intermediate is not None:
        view.figures["intermediate"] = intermediate
    if len(goals) > 1:
        view.figures["pareto"] = _pareto(trials, goals[0], goals[1])
    params = [t.params for t in finished]
    for key in sorted({k for p in params for k in p}):
        pairs = [(p[key], t.value) for p, t in zip(params, finished, strict=True) if key in p]
        view.figures[f"slice:{key}"] = charts.slice_plot(
            key, [str(x) if x is None else x for x, _ in pairs], [y for _, y in pairs], goal.name
        )
    return view


def _intermediate(store: SqlStore, trials: list[Trial], metric: str) -> charts.Figure | None:
    """Each trial's reported values of the objective by step (None: no trial reported any)."""
    shown = trials[-MAX_INTERMEDIATE:]
    found = reads.histories(store, [t.run.info.run_id for t in shown], metric)
    series = []
    for t in shown:
        steps, values = found.get(t.run.info.run_id, ([], []))
        if len(steps) < 2 and t.run.info.status is not RunStatus.PRUNED:
            continue  # a final value only: nothing was reported along the way
        if not steps:
            continue
        xs, ys = downsample(steps, values, INTERMEDIATE_POINTS)
        series.append((f"#{t.number}", xs, ys, t.run.info.status is RunStatus.PRUNED))
    return charts.intermediate_values(metric, series) if series else None


def pareto_mask(points: list[tuple[float, float]], signs: tuple[int, int]) -> list[bool]:
    """For each point, whether no other point dominates it (``signs``: +1 for a maximised
    objective, -1 for a minimised one). One sort, then one pass: O(n log n)."""
    scaled = [(a * signs[0], b * signs[1]) for a, b in points]
    order = sorted(range(len(points)), key=lambda i: (-scaled[i][0], -scaled[i][1]))
    front = [False] * len(points)
    best = -math.inf
    last_on_front: tuple[float, float] | None = None
    for i in order:
        if scaled[i][1] > best:
            front[i], best, last_on_front = True, scaled[i][1], scaled[i]
        elif scaled[i] == last_on_front:  # a tie with a point on the front
            front[i] = True
    return front


def _pareto(trials: list[Trial], first: Goal, second: Goal) -> charts.Figure:
    points: list[tuple[str, float, float]] = []
    for t in trials:
        if t.run.info.status is not RunStatus.FINISHED:
            continue
        a = charts.number(t.run.data.metrics.get(first.name))
        b = charts.number(t.run.data.metrics.get(second.name))
        if a is not None and b is not None:
            points.append((f"#{t.number}", a, b))
    signs = (
        1 if first.direction == "maximize" else -1,
        1 if second.direction == "maximize" else -1,
    )
    mask = pareto_mask([(a, b) for _, a, b in points], signs)
    return charts.pareto_front((first.name, second.name), points, mask)


def sweep_updates(store: Store, parent: Run, since: int) -> tuple[list[Trial], dict[str, int]]:
    """The trials that started or ended at ``since`` (epoch ms) or later, and the counts by
    status of all trials: what a running sweep's page fetches every few seconds."""
    goal = _goals(parent)[0]
    changed, _ = _trials(
        store,
        parent,
        goal,
        f" AND (attributes.start_time >= {since} OR attributes.end_time >= {since})",
    )
    counts = Counter(
        run.info.status.value
        for run in child_runs(store, parent, f" AND tags.`{T.RUN_TYPE}` = 'trial'")
    )
    return changed, dict(sorted(counts.items()))
