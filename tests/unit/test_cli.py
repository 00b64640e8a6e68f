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
    assert runs[0]["params.depth"] == "1"
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


# -- readable tables -------------------------------------------------------------------------
START_MS = 1_796_382_191_000  # 2026-12-04 11:03:11 UTC


def wide_run(uri: str) -> str:
    """A finished run named like a generated one, with 30 params and 10 metrics."""
    client = Client(uri)
    experiment_id = client.create_experiment("wide")
    run = client.create_run(
        experiment_id, start_time=START_MS, run_name="bright-owl-123", tags={"team": "ml"}
    )
    run_id = run.info.run_id
    for i in range(30):
        client.log_param(run_id, f"param_{i:02d}", f"value-{i}")
    metrics = ["accuracy", "f1", "precision", "recall", "roc_auc"]
    metrics += ["log_loss", "train_time", "val_loss", "val_accuracy", "model_size_mb"]
    for i, key in enumerate(metrics):
        client.log_metric(run_id, key, 0.5 + i / 100)
    client.set_terminated(run_id, end_time=START_MS + 184_000)
    return run_id


def table(columns: int, *args: str) -> list[str]:
    """The lines a `tunetrack` command prints on a terminal ``columns`` wide."""
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(
        app, list(args), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def headers(lines: list[str]) -> list[str]:
    """The column headers of the runs table in ``lines`` (the first line naming run_id)."""
    line = next(line for line in lines if "run_id" in line)
    return line.replace("┃", " ").replace("│", " ").split()


def test_runs_list_fits_80_columns_and_shows_the_sort_metric(uri) -> None:
    wide_run(uri)
    lines = table(80, "runs", "list", "--tracking-uri", uri, "--order-by", "metrics.val_loss")
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    shown = headers(lines)
    assert "metrics.val_loss" in shown
    assert shown[:4] == ["run_id", "run_name", "status", "start_time"]
    assert "0.57" in lines[3]  # val_loss of the one run
    assert any("--columns" in line for line in lines[3:]), "no note on the columns left out"
    wide = table(200, "runs", "list", "--tracking-uri", uri, "--order-by", "metrics.val_loss")
    assert max(len(line) for line in wide) <= 200
    wider = headers(wide)
    assert len(wider) > len(shown)
    assert wider[4:7] == ["duration", "params.param_00", "params.param_01"]
    first_metric = next(h for h in wider if h.startswith("metrics."))
    assert first_metric == "metrics.val_loss"


def test_runs_list_columns_option_chooses_the_columns(uri) -> None:
    run_id = wide_run(uri)
    chosen = "params.param_07,metrics.f1,tags.team"
    lines = table(200, "runs", "list", "--tracking-uri", uri, "--columns", chosen)
    assert headers(lines) == ["run_id", "params.param_07", "metrics.f1", "tags.team"]
    assert lines[3].split() == [run_id[:8], "value-7", "0.51", "ml"]
    rows = json.loads("\n".join(table(80, "runs", "list", "--tracking-uri", uri,
                                      "--columns", chosen, "--json")))  # fmt: skip
    assert rows == [
        {"run_id": run_id, "params.param_07": "value-7", "metrics.f1": 0.51, "tags.team": "ml"}
    ]
    bad = CliRunner().invoke(app, ["runs", "list", "--tracking-uri", uri, "--columns", "acc"])
    assert bad.exit_code == 1
    assert "unknown column 'acc'" in bad.output


def test_times_in_tables_are_local_and_human_readable(uri, monkeypatch) -> None:
    import time
    from datetime import datetime

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30: local time is not UTC
    time.tzset()
    try:
        run_id = wide_run(uri)
        local = datetime.fromtimestamp(START_MS / 1000).strftime("%Y-%m-%d %H:%M:%S")
        assert local == "2026-12-04 16:33:11"
        listed = "\n".join(table(200, "runs", "list", "--tracking-uri", uri))
        shown = "\n".join(table(200, "runs", "show", run_id, "--tracking-uri", uri))
        for output in (listed, shown):
            assert local in output
            assert "3m 04s" in output
            assert str(START_MS) not in output
            assert str(START_MS + 184_000) not in output
        experiments = json.loads(
            "\n".join(table(80, "experiments", "list", "--tracking-uri", uri, "--json"))
        )
        created = datetime.fromtimestamp(experiments[-1]["creation_time"] / 1000)
        listed = "\n".join(table(200, "experiments", "list", "--tracking-uri", uri))
        assert created.strftime("%Y-%m-%d %H:%M:%S") in listed
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0ms"), (430, "430ms"), (1_200, "1.2s"), (59_940, "59.9s"), (184_000, "3m 04s"),
     (7_260_000, "2h 01m"), (93_600_000, "1d 02h")],
)  # fmt: skip
def test_durations_read_like_seconds_minutes_hours(ms: int, text: str) -> None:
    from tunetrack.cli._common import duration

    assert duration(ms) == text


def test_runs_list_json_keys_equal_the_table_headers(uri) -> None:
    client = Client(uri)
    experiment_id = client.create_experiment("small")
    for depth in (3, 5):
        run_id = client.create_run(experiment_id, run_name=f"d{depth}").info.run_id
        client.log_param(run_id, "max_depth", depth)
        client.log_metric(run_id, "accuracy", depth / 10)
        client.set_terminated(run_id)
    shown = headers(table(200, "runs", "list", "--tracking-uri", uri))
    rows = json.loads("\n".join(table(200, "runs", "list", "--tracking-uri", uri, "--json")))
    assert [set(row) for row in rows] == [set(shown), set(shown)]
    assert {"run_id", "start_time", "params.max_depth", "metrics.accuracy"} <= set(shown)
    assert all(isinstance(row["start_time"], int) for row in rows)  # epoch milliseconds
    assert all(isinstance(row["duration"], int) for row in rows)  # milliseconds
    assert sorted(row["metrics.accuracy"] for row in rows) == [0.3, 0.5]


def test_runs_show_compare_and_delete_take_the_short_id_runs_list_prints(uri) -> None:
    run_id = wide_run(uri)
    other = Client(uri).create_run("1", run_name="other").info.run_id
    short = run_id[:8]
    shown = json.loads("\n".join(table(80, "runs", "show", short, "--tracking-uri", uri, "--json")))
    assert shown["run_id"] == run_id
    assert short in "\n".join(table(80, "runs", "list", "--tracking-uri", uri))
    compared = json.loads(
        "\n".join(table(80, "runs", "compare", short, other[:8], "--tracking-uri", uri, "--json"))
    )
    assert [r["run_id"] for r in compared] == [run_id, other]
    assert f"deleted run {run_id}" in table(80, "runs", "delete", short, "--tracking-uri", uri)[0]
    assert Client(uri).get_run(run_id).info.lifecycle_stage.value == "deleted"


def test_runs_restore_brings_a_deleted_run_back(uri) -> None:
    client = Client(uri)
    run_id = client.create_run(client.create_experiment("wine"), run_name="gone").info.run_id
    assert invoke("runs", "delete", run_id, "--tracking-uri", uri).exit_code == 0
    restored = invoke("runs", "restore", run_id[:8], "--tracking-uri", uri)
    assert restored.exit_code == 0, restored.output
    assert f"restored run {run_id}" in restored.output
    assert Client(uri).get_run(run_id).info.lifecycle_stage.value == "active"
    client.set_tag(run_id, "back", "yes")  # it takes writes again


def strict_json(text: str):  # type: ignore[no-untyped-def]
    """Parse as strict JSON (RFC 8259 has no NaN or Infinity), as jq and browsers do."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_strict_json_with_non_finite_metrics_as_null(uri) -> None:
    client = Client(uri)
    experiment_id = client.create_experiment("odd")
    run_id = client.create_run(experiment_id, run_name="odd").info.run_id
    for key, value in (("nan", float("nan")), ("inf", float("inf")), ("ok", 0.5)):
        client.log_metric(run_id, key, value)
    client.set_terminated(run_id)
    listed = invoke("runs", "list", "-e", "odd", "--tracking-uri", uri, "--json").output
    listed = strict_json(listed)
    assert [(r["metrics.nan"], r["metrics.inf"], r["metrics.ok"]) for r in listed] == [
        (None, None, 0.5)
    ]
    shown = strict_json(invoke("runs", "show", run_id, "--tracking-uri", uri, "--json").output)
    assert shown["metrics"] == {"nan": None, "inf": None, "ok": 0.5}
