"""A sweep's summary on its parent run: best trial, counts, trials table and charts."""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

from tunetrack._clock import now_ms
from tunetrack.entities import LifecycleStage, Metric, Run, RunStatus, RunTag
from tunetrack.errors import NotFound
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import SweepConfig
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.outcomes import FailureGroup, group_failures, trial_counts
from tunetrack.sweep.select import best_trial, trial_params
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.strategies import Strategy
from tunetrack.tracking.client import Client


@dataclass
class Summary:
    """Counts per status over every trial of the sweep, its failures by reason, and the
    best trial."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: list[FailureGroup] = field(default_factory=list)
    best_run_id: str | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)


def write_summary(client: Client, parent: Run, config: SweepConfig, strategy: Strategy) -> Summary:
    """Record counts, the best trial, ``trials.csv`` and plotly charts on the parent run.

    Counts and failures include trials whose runs another process deleted; the table and
    the charts show the runs that are there.
    """
    sweep_id = parent.info.run_id
    everything = trial_runs(client, parent, include_deleted=True)
    trials = [r for r in everything if r.info.lifecycle_stage == LifecycleStage.ACTIVE]
    summary = Summary(counts=trial_counts(everything), failures=group_failures(everything))
    goal = config.primary_metric
    try:
        best = best_trial(client, sweep_id, constraints=config.select.constraints)
    except NotFound:
        best = None
    now = now_ms()
    metrics = [Metric(f"trials_{k}", float(v), now) for k, v in summary.counts.items()]
    tags = []
    if best is not None:
        summary.best_run_id = best.info.run_id
        summary.best_value = best.data.metrics[goal.name]
        summary.best_params = trial_params(best)
        metrics.append(Metric(f"best_{goal.name}", summary.best_value, now))
        tags = [
            RunTag(T.BEST_RUN, best.info.run_id),
            RunTag(T.BEST_PARAMS, json.dumps(summary.best_params, default=str)),
        ]
    client.log_batch(sweep_id, metrics=metrics, tags=tags)
    client.log_text(sweep_id, _trials_csv(trials, config), "trials.csv")
    _log_charts(client, sweep_id, strategy, trials)
    return summary


def _trials_csv(trials: list[Run], config: SweepConfig) -> str:
    param_names = sorted({k for r in trials for k in trial_params(r)})
    metric_names = sorted({k for r in trials for k in r.data.metrics})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "run_id", "status", "duration_s", *metric_names, *param_names])
    for run in trials:
        params = trial_params(run)
        end = run.info.end_time
        duration = "" if end is None else f"{(end - run.info.start_time) / 1000:.3f}"
        writer.writerow(
            [
                run.data.tags[T.TRIAL_NUMBER],
                run.info.run_id,
                run.info.status.value,
                duration,
                *(run.data.metrics.get(k, "") for k in metric_names),
                *(params.get(k, "") for k in param_names),
            ]
        )
    return out.getvalue()


def _log_charts(client: Client, sweep_id: str, strategy: Strategy, trials: list[Run]) -> None:
    """Optimisation history (or Pareto front) and parameter importance, as HTML files.

    The single-goal charts are drawn from the trials already read (optuna's own plots
    deep-copy the whole study several times: 100 ms at 300 trials).
    """
    import plotly.io
    from optuna.trial import TrialState

    study = strategy.study
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return
    charts: dict[str, Any] = {}
    if len(strategy.goals) > 1:
        from optuna.visualization import plot_pareto_front

        names = [g.name for g in strategy.goals]
        charts["pareto_front.html"] = lambda: plot_pareto_front(study, target_names=names)
    else:
        goal = strategy.goals[0]
        charts["optimization_history.html"] = lambda: _history_figure(trials, goal)
        if len(complete) >= 2:
            charts["param_importances.html"] = lambda: _importance_figure(study, goal.name)
    wrote = False
    for name, make in charts.items():
        try:
            with warnings.catch_warnings():
                # optuna's notes on small studies ("importances will be equal") are noise here
                warnings.simplefilter("ignore", UserWarning)
                figure = make()
        except (ValueError, RuntimeError) as exc:  # e.g. importance needs varied params
            warnings.warn(f"sweep chart {name} skipped: {exc}", stacklevel=2)
            continue
        html = plotly.io.to_html(
            figure, include_plotlyjs="directory", full_html=True, validate=False
        )
        client.log_text(sweep_id, html, f"charts/{name}")
        wrote = True
    if wrote:
        from plotly.offline import get_plotlyjs

        client.log_text(sweep_id, get_plotlyjs(), "charts/plotly.min.js")


def _history_figure(trials: list[Run], goal: Goal) -> dict[str, Any]:
    """Each finished trial's value by trial number, and the best value so far."""
    points = sorted(
        (int(r.data.tags[T.TRIAL_NUMBER]), r.data.metrics[goal.name])
        for r in trials
        if r.info.status == RunStatus.FINISHED and goal.name in r.data.metrics
    )
    pick = max if goal.direction == "maximize" else min
    best: list[float] = []
    for _, value in points:
        best.append(value if not best else pick(best[-1], value))
    numbers = [n for n, _ in points]
    values = [v for _, v in points]
    traces = [
        {"type": "scatter", "x": numbers, "y": values, "mode": "markers", "name": goal.name},
        {"type": "scatter", "x": numbers, "y": best, "mode": "lines",
         "name": f"best so far ({goal.direction})"},
    ]  # fmt: skip
    return _figure(traces, "Optimisation history", "trial", goal.name)


def _importance_figure(study: Any, metric: str) -> dict[str, Any]:
    """optuna's parameter importances for the metric, as a horizontal bar chart."""
    from optuna.importance import get_param_importances

    importances = get_param_importances(study)
    names = list(reversed(importances))
    bars = {"type": "bar", "x": [importances[n] for n in names], "y": names, "orientation": "h"}
    return _figure([bars], f"Parameter importance for {metric}", "importance", "")


def _figure(traces: list[dict[str, Any]], title: str, x: str, y: str) -> dict[str, Any]:
    """A plotly figure as plain data: written without validating every point, which
    cost more than the rest of the summary at a few hundred trials."""
    layout = {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
    }
    return {"data": traces, "layout": layout}
