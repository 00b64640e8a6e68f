"""Every ``--json`` output of the CLI is exactly one JSON document on stdout.

The commands are read from the typer app, so a command that gains ``--json`` is tested here
as soon as it exists (and fails until :data:`ARGS` says how to call it). Each one runs as a
real process over one store holding a small real sweep (two decision trees on iris, the
retrained one registered); messages for people may go to stderr, never to stdout, and
neither may what the objective prints, in the orchestrator or in a worker process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import typer.main

from tunetrack.cli import app
from tunetrack.sweep import tags as T
from tunetrack.sweep.stored import trial_runs
from tunetrack.tracking.client import Client

if TYPE_CHECKING:  # the fixtures' types (tests/integration/conftest.py)
    from conftest import RunTunetrack, ServeModel

MODEL = "json-iris"

SWEEP = f"""\
name: json-iris
experiment: json
objective: objective.py:train
metric: {{name: accuracy, goal: maximize}}
method: grid
parameters:
  max_depth: {{values: [1, 2]}}
budget: {{trials: 2}}
parallel: {{n_jobs: 1, backend: sequential}}
retrain: {{register_as: {MODEL}}}
seed: 0
"""

OBJECTIVE = """\
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier


def train(params):
    print(f"fitting a tree of depth {params['max_depth']}")  # a user's progress message
    X, y = load_iris(return_X_y=True, as_frame=True)
    tree = DecisionTreeClassifier(max_depth=params["max_depth"], random_state=0).fit(X, y)
    return {"accuracy": float(tree.score(X, y))}
"""


@dataclass(frozen=True)
class Store:
    """The store every command reads: a finished sweep and its registered model."""

    uri: str
    folder: Path
    sweep_file: Path
    sweep_id: str
    trial_ids: tuple[str, ...]


IN_WORKER_PROCESSES = ["--set", "parallel.backend=loky", "--set", "parallel.n_jobs=2"]
#: The arguments of each command with --json (before --tracking-uri and --json).
ARGS: dict[str, Callable[[Store], list[str]]] = {
    "sweep run": lambda s: [str(s.sweep_file), "--no-progress", *IN_WORKER_PROCESSES],
    "sweep resume": lambda s: [s.sweep_id, "--no-progress"],
    "sweep list": lambda s: [],
    "sweep status": lambda s: [s.sweep_id],
    "best": lambda s: [s.sweep_id],
    "retrain": lambda s: [s.sweep_id, "--register", MODEL, "--alias", "challenger"],
    "runs list": lambda s: [],
    "runs show": lambda s: [s.trial_ids[0]],
    "runs compare": lambda s: list(s.trial_ids),
    "experiments list": lambda s: [],
    "experiments create": lambda s: ["made-by-the-json-test"],
    "gc": lambda s: ["--dry-run"],  # the store stays as the other commands expect it
    "models list": lambda s: [],
    "models show": lambda s: [MODEL],
    "models alias": lambda s: [MODEL, "champion", "1"],
    "models stage": lambda s: [MODEL, "1", "Staging"],
    "models serve": lambda s: [f"models:/{MODEL}/1"],
    "users list": lambda s: [],
    "tokens list": lambda s: [],
}


def json_commands() -> list[str]:
    """Every command of the app that has a --json option, as 'group command'."""
    found: list[str] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)  # a group
        if subcommands is not None:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        elif any("--json" in param.opts for param in command.params):
            found.append(" ".join(path))

    walk(typer.main.get_command(app), ())
    return sorted(found)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, run_tunetrack: RunTunetrack) -> Store:
    folder = tmp_path_factory.mktemp("json")
    (folder / "objective.py").write_text(OBJECTIVE)
    sweep_file = folder / "sweep.yaml"
    sweep_file.write_text(SWEEP)
    uri = f"sqlite:///{folder}/json.db"
    done = run_tunetrack(
        "sweep", "run", str(sweep_file), "--no-progress", "--tracking-uri", uri, cwd=folder
    )
    assert done.returncode == 0, done.stderr
    client = Client(uri)
    experiment = client.get_experiment_by_name("json")
    assert experiment is not None
    (sweep,) = client.search_runs([experiment.experiment_id], f"tags.`{T.RUN_TYPE}` = 'sweep'")
    trials = tuple(r.info.run_id for r in trial_runs(client, sweep))
    assert client.get_model_version(MODEL, 1).run_id is not None
    return Store(uri, folder, sweep_file, sweep.info.run_id, trials)


def test_the_json_commands_are_found_and_each_has_arguments() -> None:
    commands = json_commands()
    assert {"sweep run", "models serve", "retrain"} <= set(commands)
    missing = sorted(set(commands) - set(ARGS))
    assert not missing, f"add the arguments of {missing} to ARGS"


@pytest.mark.parametrize("command", json_commands())
def test_json_output_is_one_json_document(
    command: str,
    store: Store,
    run_tunetrack: RunTunetrack,
    serve_model: ServeModel,
    tmp_path: Path,
) -> None:
    args = [*ARGS[command](store), "--json"]
    if command == "models serve":
        with serve_model(store.uri, args[0], tmp_path, *args[1:]) as server:
            server.health()  # the server logs each request: never onto stdout
        stdout = server.stdout.read_text()
    else:
        done = run_tunetrack(*command.split(), *args, "--tracking-uri", store.uri, cwd=store.folder)
        assert done.returncode == 0, done.stderr
        stdout = done.stdout
        if command in ("sweep run", "retrain"):  # the objective ran: its message was kept
            assert "fitting a tree of depth" in done.stderr
    try:
        json.loads(stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"`tunetrack {command} --json` printed more than JSON ({exc}):\n{stdout}")
