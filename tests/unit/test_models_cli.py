"""``tunetrack models list|show|alias|stage|serve`` against a real SQLite store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunetrack.cli import app
from tunetrack.tracking.client import Client


@pytest.fixture
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


@pytest.fixture
def registry(uri, tmp_path) -> Client:
    """``iris`` with versions 1-3 (champion -> 2) and ``wine`` with version 1 (tiny models)."""
    from sklearn.dummy import DummyClassifier

    from tunetrack.models import save_model

    save_model(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "model")
    client = Client(uri)
    experiment_id = client.create_experiment("models")
    for name, count in (("iris", 3), ("wine", 1)):
        for _ in range(count):
            run_id = client.create_run(experiment_id).info.run_id
            client.log_artifacts(run_id, tmp_path / "model", "model")
            client.register_model(f"runs:/{run_id}/model", name)
    client.set_registered_model_alias("iris", "champion", 2)
    return client


def invoke(*args: str):  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich folds no cell
    return runner.invoke(app, list(args), catch_exceptions=False)


def invoke_json(*args: str):  # type: ignore[no-untyped-def]
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- list ----------------------------------------------------------------------------------
def test_list_json(uri, registry) -> None:
    models = invoke_json("models", "list", "--tracking-uri", uri)
    assert [m["name"] for m in models] == ["iris", "wine"]
    iris = models[0]
    assert iris["latest_version"] == 3
    assert iris["aliases"] == {"champion": 2}
    assert models[1]["aliases"] == {}
    assert iris["last_updated_time"] >= iris["creation_time"] > 0


def test_list_table(uri, registry) -> None:
    result = invoke("models", "list", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    assert "Registered models" in result.output
    assert "iris" in result.output
    assert "wine" in result.output
    assert "champion" in result.output


def test_list_filter(uri, registry) -> None:
    models = invoke_json("models", "list", "--tracking-uri", uri, "--filter", "name LIKE 'w%'")
    assert [m["name"] for m in models] == ["wine"]


def test_list_of_an_empty_store(uri) -> None:
    assert invoke_json("models", "list", "--tracking-uri", uri) == []


def test_list_with_a_bad_filter_points_at_the_column(uri, registry) -> None:
    result = CliRunner().invoke(
        app, ["models", "list", "--tracking-uri", uri, "--filter", "name =="]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("error: Invalid filter at column 7")


# -- show ----------------------------------------------------------------------------------
def test_show_json(uri, registry) -> None:
    shown = invoke_json("models", "show", "iris", "--tracking-uri", uri)
    assert shown["name"] == "iris"
    versions = shown["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    by_number = {v["version"]: v for v in versions}
    assert by_number[2]["aliases"] == ["champion"]
    assert by_number[1]["current_stage"] == "None"
    assert by_number[1]["source"] == f"runs:/{by_number[1]['run_id']}/model"


def test_show_table(uri, registry) -> None:
    result = invoke("models", "show", "iris", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    for text in ("Model iris", "version", "stage", "champion", "runs:/"):
        assert text in result.output


def test_show_a_name_with_a_quote(uri) -> None:
    client = Client(uri)
    client.create_registered_model("o'brien")
    shown = invoke_json("models", "show", "o'brien", "--tracking-uri", uri)
    assert shown["name"] == "o'brien"
    assert shown["versions"] == []


def test_show_unknown_model_is_one_line_error(uri, registry) -> None:
    result = CliRunner().invoke(app, ["models", "show", "nope", "--tracking-uri", uri])
    assert_one_line_error(result, "nope")


# -- alias ---------------------------------------------------------------------------------
def test_alias_set_move_and_delete(uri, registry) -> None:
    moved = invoke_json("models", "alias", "iris", "champion", "3", "--tracking-uri", uri)
    assert moved == {"name": "iris", "alias": "champion", "version": 3}
    assert registry.get_model_version_by_alias("iris", "champion").version == 3
    assert registry.get_model_version("iris", 2).aliases == ()
    result = invoke("models", "alias", "iris", "challenger", "1", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    assert "iris@challenger -> version 1" in result.output
    deleted = invoke_json("models", "alias", "iris", "champion", "--delete", "--tracking-uri", uri)
    assert deleted == {"name": "iris", "alias": "champion", "deleted": True}
    assert dict(registry.get_registered_model("iris").aliases) == {"challenger": 1}


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["iris", "champion", "9"], ["no version 9"]),
        (["nope", "champion", "1"], ["nope"]),
        (["iris", "latest", "1"], ["reserved"]),
        (["iris", "ghost", "--delete"], ["ghost"]),
        (["iris", "champion"], ["VERSION"]),
        (["iris", "champion", "1", "--delete"], ["not both"]),
    ],
)
def test_alias_errors_are_one_line(uri, registry, args, needles) -> None:
    result = CliRunner().invoke(app, ["models", "alias", *args, "--tracking-uri", uri])
    assert_one_line_error(result, *needles)


# -- stage ---------------------------------------------------------------------------------
def test_stage_transition_and_archive_existing(uri, registry) -> None:
    moved = invoke_json("models", "stage", "iris", "1", "production", "--tracking-uri", uri)
    assert moved["current_stage"] == "Production"
    assert moved["version"] == 1
    result = invoke(
        "models", "stage", "iris", "3", "Production", "--archive-existing", "--tracking-uri", uri
    )
    assert result.exit_code == 0, result.output
    assert "version 3 is now in Production" in result.output
    versions = registry.search_model_versions("name = 'iris'")
    stages = {v.version: v.current_stage.value for v in versions}
    assert stages[1] == "Archived"
    assert stages[3] == "Production"
    assert stages[2] == "None"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["iris", "1", "Prod"], ["unknown stage", "Production"]),
        (["iris", "7", "Staging"], ["no version 7"]),
        (["nope", "1", "Staging"], ["nope"]),
        (["iris", "1", "Archived", "--archive-existing"], ["Staging and Production"]),
    ],
)
def test_stage_errors_are_one_line(uri, registry, args, needles) -> None:
    result = CliRunner().invoke(app, ["models", "stage", *args, "--tracking-uri", uri])
    assert_one_line_error(result, *needles)


def test_non_integer_version_is_a_usage_error(uri, registry) -> None:
    result = CliRunner().invoke(app, ["models", "stage", "iris", "abc", "Staging"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# -- serve (startup errors only; the running server is tests/integration/test_serving.py) --
@pytest.mark.parametrize(
    ("model_uri", "needles"),
    [
        ("models:/nope@champion", ["nope"]),
        ("models:/iris@ghost", ["ghost"]),
        ("models:/iris/0", ["malformed model URI"]),
        ("bogus:thing", ["malformed model URI"]),
    ],
)
def test_serve_bad_uri_is_one_line_error(uri, registry, model_uri, needles) -> None:
    result = CliRunner().invoke(app, ["models", "serve", model_uri, "--tracking-uri", uri])
    assert_one_line_error(result, *needles)


def test_serve_a_version_that_is_no_model_is_one_line_error(uri, registry) -> None:
    # Client.register_model refuses such a source; the store below it records any source
    run = registry.create_run(registry.get_experiment_by_name("models").experiment_id)
    registry.log_text(run.info.run_id, "not a model", "notes/readme.txt")
    version = registry.store.create_model_version("iris", f"runs:/{run.info.run_id}/notes")
    model_uri = f"models:/iris/{version.version}"
    result = CliRunner().invoke(app, ["models", "serve", model_uri, "--tracking-uri", uri])
    assert_one_line_error(result, "model.yaml")


def test_models_help_lists_the_commands() -> None:
    result = invoke("models", "--help")
    assert result.exit_code == 0
    for command in ("list", "show", "alias", "stage", "serve"):
        assert command in result.output
