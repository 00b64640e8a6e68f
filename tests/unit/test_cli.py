"""The CLI against a real SQLite store: tables, --json, and one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunetrack.cli import app
from tunetrack.tracking.client import Client


@pytest.fixture
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_db_upgrade_creates_schema(uri, tmp_path) -> None:
    result = invoke("db", "upgrade", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert (tmp_path / "cli.db").exists()


def test_experiments_create_list_delete_restore(uri) -> None:
    created = invoke("experiments", "create", "iris", "--tracking-uri", uri, "--json")
    experiment_id = json.loads(created.output)["experiment_id"]
    listed = json.loads(invoke("experiments", "list", "--tracking-uri", uri, "--json").output)
    assert {e["name"] for e in listed} == {"Default", "iris"}
    assert invoke("experiments", "delete", experiment_id, "--tracking-uri", uri).exit_code == 0
    listed = json.loads(invoke("experiments", "list", "--tracking-uri", uri, "--json").output)
    assert [e["name"] for e in listed] == ["Default"]
    assert invoke("experiments", "restore", experiment_id, "--tracking-uri", uri).exit_code == 0
    table = invoke("experiments", "list", "--tracking-uri", uri).output
    assert "iris" in table


def test_duplicate_experiment_is_one_line_error(uri) -> None:
    invoke("experiments", "create", "iris", "--tracking-uri", uri)
    result = CliRunner().invoke(app, ["experiments", "create", "iris", "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output


def test_runs_list_filter_order_and_show(uri) -> None:
    client = Client(uri)
    experiment_id = client.create_experiment("wine")
    for i, acc in enumerate((0.7, 0.9, 0.8)):
        run = client.create_run(experiment_id, run_name=f"r{i}")
        client.log_param(run.info.run_id, "depth", i)
        client.log_metric(run.info.run_id, "acc", acc)
        client.set_terminated(run.info.run_id)
    result = invoke(
        "runs", "list", "-e", "wine", "--tracking-uri", uri, "--json",
        "--filter", "metrics.acc >= 0.8", "--order-by", "metrics.acc DESC",
    )  # fmt: skip
    runs = json.loads(result.output)
    assert [r["run_name"] for r in runs] == ["r1", "r2"]
    assert runs[0]["params"] == {"depth": "1"}
    shown = json.loads(
        invoke("runs", "show", runs[0]["run_id"], "--tracking-uri", uri, "--json").output
    )
    assert shown["metrics"] == {"acc": 0.9}
    table = invoke("runs", "list", "-e", "wine", "--tracking-uri", uri).output
    assert "r0" in table
    assert "acc" in table


def test_bad_filter_points_at_column(uri) -> None:
    result = CliRunner().invoke(
        app, ["runs", "list", "--tracking-uri", uri, "--filter", "metrics.acc >"]
    )
    assert result.exit_code == 1
    assert "column" in result.output
    assert "Traceback" not in result.output


def test_missing_run_and_experiment(uri) -> None:
    result = CliRunner().invoke(app, ["runs", "show", "deadbeef", "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "no run with id 'deadbeef'" in result.output
    result = CliRunner().invoke(app, ["runs", "list", "-e", "nope", "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "no experiment named 'nope'" in result.output
