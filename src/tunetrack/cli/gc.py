"""``tunetrack gc``: remove for good the deleted experiments and runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tunetrack.cli._common import JsonOption, UriOption, client, friendly, print_json

if TYPE_CHECKING:
    from tunetrack.entities import GcReport


def _older_than(value: str | None) -> int | None:
    from tunetrack._durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--older-than'") from None


def _experiment_ids(values: list[str] | None) -> list[str] | None:
    """``--experiment-ids 1,2 --experiment-ids 3`` as ``["1", "2", "3"]``."""
    if not values:
        return None
    ids = [part.strip() for value in values for part in value.split(",")]
    if not all(ids):
        raise typer.BadParameter(
            f"an empty experiment id in {','.join(values)!r}", param_hint="'--experiment-ids'"
        )
    return ids


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_report(report: GcReport) -> None:
    verb = "would remove" if report.dry_run else "removed"
    runs, experiments = len(report.run_ids), len(report.experiment_ids)
    typer.echo(f"{verb} for good: {_plural(experiments, 'experiment')}, {_plural(runs, 'run')}")
    if report.experiment_ids:
        typer.echo(f"  experiments: {', '.join(report.experiment_ids)}")
    typer.echo("  rows per table: " + ", ".join(f"{t} {n}" for t, n in report.rows.items()))
    typer.echo(f"  artifact locations: {len(report.artifacts)}")
    for reason in report.kept:
        typer.echo(f"kept {reason}")
    for error in report.artifact_errors:
        typer.secho(f"error: could not remove the files at {error}", err=True, fg=typer.colors.RED)


@friendly
def gc_command(
    tracking_uri: UriOption = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Only what was deleted at least this long ago: a number and a unit "
            "(s, m, h, d, w), like 30d or 1d12h.",
            show_default=False,
        ),
    ] = None,
    experiment_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment-ids",
            help="Only in these experiments (comma-separated or repeated): deleted ones go "
            "whole, active ones lose their deleted runs.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove for good the deleted experiments and runs: their metrics, params, tags and
    artifacts. A deleted run takes its child runs along. This cannot be undone."""
    c = client(tracking_uri)
    report = c.gc(
        older_than=_older_than(older_than),
        experiment_ids=_experiment_ids(experiment_ids),
        dry_run=dry_run,
    )
    if as_json:
        print_json(
            {
                "dry_run": report.dry_run,
                "experiment_ids": list(report.experiment_ids),
                "run_ids": list(report.run_ids),
                "rows": dict(report.rows),
                "artifacts": list(report.artifacts),
                "kept": list(report.kept),
                "artifact_errors": list(report.artifact_errors),
            }
        )
    else:
        _print_report(report)
    if report.artifact_errors:
        raise typer.Exit(1)
