"""CLI commands for sweeps: ``sweep run|resume|status``, ``best`` and ``retrain``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from tunetrack.cli._common import (
    Column,
    JsonOption,
    UriOption,
    client,
    duration,
    friendly,
    print_json,
    print_records,
    print_table,
    run_value,
    short_id,
    stdout_to_stderr,
    when,
)
from tunetrack.sweep.heartbeat import TIMEOUT_S

sweep_app = typer.Typer(help="Run, resume and inspect sweeps.", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a YAML key, e.g. --set budget.trials=20 (repeatable)."),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Show a progress bar (default: on a terminal)."),
]


def _registered(c: Any, run: Any) -> dict[str, Any] | None:
    """The model version a retrained ``run`` registered (None when it registered none)."""
    from tunetrack.sweep import tags as T

    tag = run.data.tags.get(T.REGISTERED_VERSION)  # "<model name>/<version>"
    if tag is None:
        return None
    name, _, number = tag.rpartition("/")
    version = c.get_model_version(name, int(number))
    return {
        "name": name,
        "version": version.version,
        "aliases": list(version.aliases),
        "model_uri": f"models:/{name}/{version.version}",
    }


def _registered_line(registered: dict[str, Any]) -> str:
    aliases = registered["aliases"]
    alias = f" (alias {', '.join(aliases)})" if aliases else ""
    return (
        f"registered {registered['name']} version {registered['version']}{alias}: "
        f"{registered['model_uri']}"
    )


def _result_dict(result: Any, registered: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "sweep_id": result.sweep_id,
        "experiment_id": result.experiment_id,
        "stopped_because": result.stopped_because,
        "stop_message": result.stop_message,
        "counts": result.counts,
        "failures": [  # by reason, most frequent first
            {
                "reason": g.reason,
                "count": g.count,
                "example_trial": g.example_number,
                "example_run_id": g.example_run_id,
            }
            for g in result.failures
        ],
        "best_run_id": result.best_run_id,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "retrain_run_id": result.retrain_run_id,
        "registered": registered,  # name, version, aliases, model_uri; None without one
    }


def _report(result: Any, as_json: bool, tracking_uri: str | None) -> None:
    registered = None
    if result.retrain_run_id is not None:
        c = client(tracking_uri)
        registered = _registered(c, c.get_run(result.retrain_run_id))
    counts = ", ".join(f"{n} {state}" for state, n in result.counts.items() if n) or "none"
    if as_json:
        print_json(_result_dict(result, registered))
    else:
        _print_result(result, counts, registered)
    if not result.counts.get("finished"):
        typer.secho(
            f"error: no trial finished (trials: {counts}); see why with: "
            f"tunetrack sweep status {result.sweep_id}",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)


def _print_result(result: Any, counts: str, registered: dict[str, Any] | None) -> None:
    typer.echo(f"sweep {result.sweep_id} stopped, {result.stop_message}")
    typer.echo(f"trials: {counts}")
    _print_failures(result.failures)
    if result.best_run_id is not None:
        typer.echo(f"best: {result.best_value:.6g} in run {result.best_run_id}")
        typer.echo(f"      params {result.best_params}")
    if result.retrain_run_id is not None:
        typer.echo(f"retrained in run {result.retrain_run_id}")
    if registered is not None:
        typer.echo(_registered_line(registered))
    typer.echo(f"resume or inspect it with: tunetrack sweep status {result.sweep_id}")


def _print_failures(groups: Any) -> None:
    """Failed trials by reason (FailureGroups): how many, why, and one of them."""
    if groups:
        typer.echo("failures by reason:")
    for group in groups:
        typer.echo(
            f"  {group.count} failed: {group.reason}; "
            f"e.g. trial {group.example_number}, run {group.example_run_id}"
        )


@contextlib.contextmanager
def _interrupt_reported() -> Iterator[None]:
    """On Ctrl-C during the sweep: its trials per status and how to resume it, exit 130."""
    from tunetrack.sweep.runner import SweepInterrupted

    try:
        yield
    except SweepInterrupted as stopped:
        n = stopped.counts
        typer.echo(
            f"interrupted: sweep {stopped.sweep_id}: {n.get('finished', 0)} finished, "
            f"{n.get('pruned', 0)} pruned, {n.get('failed', 0)} failed, "
            f"{n.get('killed', 0)} abandoned",
            err=True,
        )
        typer.echo(f"resume with: tunetrack sweep resume {stopped.sweep_id}", err=True)
        raise typer.Exit(130) from None


@sweep_app.command("run")
@friendly
def sweep_run(
    file: Annotated[Path, typer.Argument(help="The sweep YAML file.")],
    overrides: SetOption = None,
    tracking_uri: UriOption = None,
    progress: ProgressOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a sweep file: a parent run with one child run per trial."""
    from tunetrack.sweep.config import load_sweep_config
    from tunetrack.sweep.runner import run_sweep

    config = load_sweep_config(file, overrides or ())
    with _interrupt_reported(), stdout_to_stderr(as_json):
        result = run_sweep(
            config, tracking_uri=tracking_uri, overrides=overrides or (), progress=progress
        )
    _report(result, as_json, tracking_uri)


@sweep_app.command("resume")
@friendly
def sweep_resume(
    sweep_id: str,
    overrides: SetOption = None,
    tracking_uri: UriOption = None,
    progress: ProgressOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Resume even if the sweep's orchestrator still beats its heartbeat."
        ),
    ] = False,
    heartbeat_timeout: Annotated[
        float,
        typer.Option(
            "--heartbeat-timeout",
            min=0,
            help="Seconds since the orchestrator's last heartbeat after which it counts as gone.",
        ),
    ] = TIMEOUT_S,
    as_json: JsonOption = False,
) -> None:
    """Resume a sweep: replay its finished trials, fail orphans, finish the budget.

    Refused while the sweep's orchestrator looks alive (it beat its heartbeat within
    --heartbeat-timeout seconds): resuming would fail its running trials.
    """
    from tunetrack.sweep.runner import resume_sweep

    with _interrupt_reported(), stdout_to_stderr(as_json):
        result = resume_sweep(
            sweep_id,
            tracking_uri=tracking_uri,
            overrides=overrides or (),
            progress=progress,
            force=force,
            heartbeat_timeout=heartbeat_timeout,
        )
    _report(result, as_json, tracking_uri)


@sweep_app.command("list")
@friendly
def sweep_list(
    tracking_uri: UriOption = None,
    max_results: Annotated[int, typer.Option("--max-results", "-n")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List sweeps (parent runs), newest first, across experiments."""
    from tunetrack.sweep import tags as T

    c = client(tracking_uri)
    experiments = [e.experiment_id for e in c.search_experiments(max_results=50_000)]
    sweeps = c.search_runs(experiments, f"tags.`{T.RUN_TYPE}` = 'sweep'", max_results=max_results)
    records = [_sweep_record(r) for r in sweeps]
    if as_json:
        print_json(records)
        return
    print_records("Sweeps", _SWEEP_COLUMNS, records)


_SWEEP_COLUMNS = (
    Column("sweep_id"),
    Column("name"),
    Column("status"),
    Column("start_time", when, rank=2),
    Column("best", rank=1),  # {metric: best value}
    Column("trials_finished", rank=3),
    Column("duration", duration, rank=4),
)


def _sweep_record(run: Any) -> dict[str, Any]:
    """A sweep (its parent run) as the machine values of :data:`_SWEEP_COLUMNS`."""
    metrics = run.data.metrics.items()
    best = {k.removeprefix("best_"): v for k, v in metrics if k.startswith("best_")} or None
    finished = run.data.metrics.get("trials_finished")
    return {
        "sweep_id": run.info.run_id,
        "name": run.info.run_name,
        "status": run.info.status.value,
        "start_time": run.info.start_time,
        "best": best,
        "trials_finished": None if finished is None else int(finished),
        "duration": run_value(run, "duration"),
    }


@sweep_app.command("status")
@friendly
def sweep_status(
    sweep_id: str, tracking_uri: UriOption = None, as_json: JsonOption = False
) -> None:
    """Show a sweep's state: trials per status, best so far, the trials table with why
    each failed trial failed (a trial's metric is shown only if it finished or was pruned)."""
    from tunetrack.entities import RunStatus
    from tunetrack.sweep import tags as T
    from tunetrack.sweep.outcomes import failure_reason, group_failures
    from tunetrack.sweep.select import sweep_goals, trial_params
    from tunetrack.sweep.stored import trial_runs

    c = client(tracking_uri)
    parent = c.get_run(sweep_id)
    goal = sweep_goals(parent)[0]
    trials = trial_runs(c, parent)
    counts: dict[str, int] = {}
    for run in trials:
        counts[run.info.status.value] = counts.get(run.info.status.value, 0) + 1
    records: list[dict[str, Any]] = [
        {
            "number": int(r.data.tags[T.TRIAL_NUMBER]),
            "run_id": r.info.run_id,
            "status": r.info.status.value,
            goal.name: r.data.metrics.get(goal.name)
            if r.info.status in (RunStatus.FINISHED, RunStatus.PRUNED)
            else None,  # a failed trial's last reported value is not its result
            "reason": failure_reason(r),
            "duration": run_value(r, "duration") if r.info.status.is_terminal else None,
            "elapsed": _elapsed(r),  # RUNNING trials only
            "params": trial_params(r),
        }
        for r in trials
    ]
    if as_json:
        print_json(
            {
                "sweep_id": sweep_id,
                "name": parent.info.run_name,
                "status": parent.info.status.value,
                "metric": {"name": goal.name, "goal": goal.direction},
                "counts": counts,
                "best_run_id": parent.data.tags.get(T.BEST_RUN),
                "trials": records,
            }
        )
        return
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    typer.echo(f"sweep {parent.info.run_name} ({sweep_id}): {parent.info.status.value}; {summary}")
    rows = [
        {k: v for k, v in t.items() if k != "params"}
        | {f"params.{k}": v for k, v in t["params"].items()}
        for t in records
    ]
    names = sorted({k for row in rows for k in row if k.startswith("params.")})
    columns = [
        Column("number"),
        Column("run_id", short_id),
        Column("status"),
        Column(goal.name),
        *([Column("reason")] if any(t["reason"] for t in records) else []),
        *([_elapsed_column(parent)] if any(t["elapsed"] is not None for t in records) else []),
        Column("duration", duration, rank=1),
        *(Column(name, rank=2) for name in names),
    ]
    print_records(
        f"Trials of {parent.info.run_name} ({goal.name}, {goal.direction})", columns, rows
    )
    _print_failures(group_failures(trials))


def _elapsed(run: Any) -> int | None:
    """How long a RUNNING trial has run, in ms: since its process started it (the tag
    ``tunetrack.trial.started``), else since its run was created; None once it ended."""
    from tunetrack._clock import now_ms
    from tunetrack.entities import RunStatus
    from tunetrack.sweep import tags as T

    if run.info.status != RunStatus.RUNNING:
        return None
    started = run.data.tags.get(T.TRIAL_STARTED)
    return max(now_ms() - (int(started) if started else run.info.start_time), 0)


def _elapsed_column(parent: Any) -> Column:
    """The ``elapsed`` column, shown against the sweep's ``budget.trial_timeout``."""
    from tunetrack.sweep._config_sections import format_duration

    limit = parent.data.params.get("budget.trial_timeout")
    of = f" of {format_duration(float(limit))}" if limit else ""
    return Column("elapsed", lambda ms: "" if ms is None else duration(ms) + of)


def _model(run: Any) -> tuple[str | None, str]:
    """The URI of the model retrain registers from ``run`` (None without one), and a line
    saying which it is and why."""
    from tunetrack.errors import NotFound
    from tunetrack.sweep.select import run_model

    try:
        choice = run_model(run)
    except NotFound as exc:
        return None, f"model: none ({exc.message})"
    among = f", of {', '.join(choice.candidates)}" if choice.ambiguous else ""
    return choice.uri, f"model: {choice.uri} ({choice.reason}{among})"


@friendly
def best(
    sweep_id: str,
    constraints: Annotated[
        list[str] | None,
        typer.Option("--constraint", "-c", help="A filter the trial must pass (repeatable)."),
    ] = None,
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a sweep's best finished trial (under the sweep's or the given constraints)."""
    from tunetrack.sweep.select import best_trial, sweep_goals, trial_params
    from tunetrack.sweep.stored import load_stored_config

    c = client(tracking_uri)
    parent = c.get_run(sweep_id)
    if constraints is None:
        constraints = list(load_stored_config(c, parent).select.constraints)
    goal = sweep_goals(parent)[0]
    run = best_trial(c, sweep_id, constraints=constraints)
    data: dict[str, Any] = {
        "run_id": run.info.run_id,
        "metric": goal.name,
        "goal": goal.direction,
        "value": run.data.metrics[goal.name],
        "params": trial_params(run),
        "metrics": dict(run.data.metrics),
        "constraints": constraints,
    }
    data["model_uri"], model_line = _model(run)
    if as_json:
        print_json(data)
        return
    typer.echo(f"best trial of {sweep_id}: run {run.info.run_id}")
    typer.echo(f"{goal.name} ({goal.direction}) = {data['value']:.6g}")
    typer.echo(model_line)
    print_table("params", ["param", "value"], [[k, repr(v)] for k, v in data["params"].items()])


@friendly
def retrain_command(
    sweep_id: str,
    register: Annotated[
        str | None, typer.Option("--register", help="Register the model under this name.")
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", help="Point this alias (e.g. champion) at it.")
    ] = None,
    tracking_uri: UriOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retrain a sweep's best trial in a new run nested under the sweep (and register it)."""
    from tunetrack.sweep import tags as T
    from tunetrack.sweep.retrain import retrain

    with stdout_to_stderr(as_json):
        run = retrain(sweep_id, tracking_uri=tracking_uri, register_as=register, alias=alias)
    source = run.data.tags[T.RETRAIN_SOURCE]
    registered = run.data.tags.get(T.REGISTERED_VERSION)
    model_uri, model_line = _model(run)
    if as_json:
        print_json(
            {
                "run_id": run.info.run_id,
                "source_run_id": source,
                "metrics": dict(run.data.metrics),
                "registered_version": registered,  # "<model name>/<version>" or None
                "model_uri": model_uri,  # the model registered (or that would be)
            }
        )
        return
    typer.echo(f"retrained trial run {source} as run {run.info.run_id}")
    if registered and (found := _registered(client(tracking_uri), run)):
        typer.echo(_registered_line(found))
    typer.echo(model_line)
