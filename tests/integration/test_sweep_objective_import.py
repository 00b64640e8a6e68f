"""An objective file whose import fails is not left half-imported: every load runs it again.

The sweeps run sequentially, in this process, so each trial loads the objective in the
same interpreter as the one before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tunetrack.entities import RunStatus
from tunetrack.errors import ConfigError
from tunetrack.store.uri import open_artifacts
from tunetrack.sweep.config import load_sweep_config
from tunetrack.sweep.objective import load_objective
from tunetrack.sweep.runner import run_sweep
from tunetrack.sweep.stored import trial_runs
from tunetrack.sweep.worker import ERROR_TAG
from tunetrack.tracking.client import Client

OBJECTIVE = "def objective(params):\n    return float(params['x'])\n"

BROKEN = {
    "missing package": (
        "import tunetrack_no_such_package\n",
        "ModuleNotFoundError: No module named 'tunetrack_no_such_package'",
    ),
    "raises ImportError": (
        "raise ImportError('the training data is not mounted')\n",
        "ImportError: the training data is not mounted",
    ),
    "helper with a syntax error": ("import broken_helper\n", "SyntaxError"),
}


def write_objective(folder: Path, first_lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken_helper.py").write_text("def helper(:\n    pass\n")
    path = folder / "train.py"
    path.write_text(first_lines + OBJECTIVE)
    return path


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_trial_of_an_objective_that_fails_to_import_reports_the_import_error(
    tmp_path: Path, case: str
) -> None:
    first_lines, error = BROKEN[case]
    folder = tmp_path / "sweep"
    write_objective(folder, first_lines)
    sweep_file = folder / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "name": "broken-import",
                "objective": "train.py:objective",
                "metric": {"name": "score", "goal": "maximize"},
                "method": "random",
                "parameters": {"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}},
                "budget": {"trials": 3},
                "parallel": {"n_jobs": 1, "backend": "sequential"},
            }
        )
    )
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(load_sweep_config(sweep_file), tracking_uri=uri, progress=False)

    assert result.counts["failed"] == 3
    client = Client(uri)
    trials = trial_runs(client, client.get_run(result.sweep_id))
    assert len(trials) == 3
    for run in trials:
        assert run.info.status == RunStatus.FAILED
        assert error in run.data.tags[ERROR_TAG], run.data.tags[ERROR_TAG]
        traceback = open_artifacts(run.info.artifact_uri).read_bytes("traceback.txt")
        assert error in traceback.decode()


def test_an_objective_file_fixed_after_a_failed_import_loads_in_the_same_process(
    tmp_path: Path,
) -> None:
    from tunetrack.sweep._objective_ref import parse_objective_ref

    path = write_objective(tmp_path / "fixable", "import tunetrack_no_such_package\n")
    ref = parse_objective_ref(f"{path}:objective")
    for _ in range(2):  # the second load runs the file again, it does not find a stub
        with pytest.raises(ModuleNotFoundError, match="tunetrack_no_such_package"):
            load_objective(ref)

    path.write_text(OBJECTIVE)  # a different size: Python will not reuse the old bytecode
    assert load_objective(ref)({"x": 0.25}) == 0.25


def test_workers_without_the_objective_file_run_the_source_sent_with_each_trial(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gone"
    write_objective(folder, "import math\n")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "name": "no-file",
                "objective": "gone/train.py:objective",
                "metric": {"name": "score", "goal": "maximize"},
                "parameters": {"x": {"values": [0.25, 0.5]}},
                "method": "grid",
                "parallel": {"n_jobs": 2, "backend": "loky"},
            }
        )
    )
    config = load_sweep_config(sweep_file)
    for file in folder.iterdir():  # the workers' machines have no copy
        file.unlink()
    folder.rmdir()
    uri = f"sqlite:///{tmp_path}/t.db"
    result = run_sweep(config, tracking_uri=uri, progress=False)
    assert result.counts["finished"] == 2, result.failures
    assert sorted(r.values["score"] for r in result.results) == [0.25, 0.5]


def test_an_objective_file_neither_here_nor_sent_names_the_file(tmp_path: Path) -> None:
    from tunetrack.sweep._objective_ref import ObjectiveRef

    missing = tmp_path / "elsewhere" / "train.py"
    ref = ObjectiveRef(path=missing, module=None, function="objective")
    with pytest.raises(ConfigError, match=rf"objective file {missing} is not on this machine"):
        load_objective(ref)


def test_an_objective_module_missing_here_says_to_install_it_or_send_its_file() -> None:
    from tunetrack.sweep._objective_ref import ObjectiveRef

    ref = ObjectiveRef(path=None, module="tunetrack_no_such_pkg.objectives", function="train")
    with pytest.raises(ConfigError, match=r"'tunetrack_no_such_pkg\.objectives' is not importable"):
        load_objective(ref)
