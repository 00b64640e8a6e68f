"""The ``tunetrack`` command line: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import typer

from tunetrack.cli.gc import gc_command
from tunetrack.cli.models import models_app
from tunetrack.cli.server import server_command
from tunetrack.cli.sweeps import best, retrain_command, sweep_app
from tunetrack.cli.tracking import db_app, experiments_app, runs_app
from tunetrack.cli.ui import ui_command
from tunetrack.cli.users import tokens_app, users_app

app = typer.Typer(
    name="tunetrack",
    help="Hyperparameter sweeps with their own experiment tracking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sweep_app, name="sweep")
app.command("best")(best)
app.command("retrain")(retrain_command)
app.add_typer(runs_app, name="runs")
app.add_typer(experiments_app, name="experiments")
app.add_typer(db_app, name="db")
app.command("gc")(gc_command)
app.add_typer(models_app, name="models")
app.command("server")(server_command)
app.command("ui")(ui_command)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


def main() -> None:
    """Console-script entry point."""
    app()
