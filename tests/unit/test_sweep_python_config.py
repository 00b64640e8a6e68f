"""The keys of a sweep file given in Python build the same SweepConfig through the same
validation (one config model); the objective may be the function itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tunetrack.errors import ConfigError
from tunetrack.sweep.config import (
    SweepConfig,
    build_sweep_config,
    load_sweep_config,
    parse_sweep_config,
)
from tunetrack.sweep.objective import load_objective

KEYS = {
    "name": "same",
    "experiment": "exp",
    "metric": [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}],
    "method": "nsga2",
    "parameters": {
        "lr": {"distribution": "log_uniform", "min": 0.001, "max": 0.3},
        "model": {"values": {"rf": {"leaf": {"distribution": "int", "min": 1, "max": 8}}}},
        "depth": (3, 5, None),  # a tuple is a list
    },
    "budget": {"trials": 7, "timeout": "10m"},
    "parallel": {"n_jobs": 2, "backend": "threading"},
    "select": {"constraints": ["metrics.size < 50"]},
    "retrain": {"register_as": "m", "alias": "champion"},
    "autolog": {"log_models": False},
    "tags": {"team": "a"},
    "seed": 42,
}


def train(params, trial):
    return {"acc": 1.0, "size": 1.0}


def fields(config: SweepConfig) -> dict[str, object]:
    """Every field of ``config`` but where it came from (objective, source)."""
    where = {"objective", "source_path", "source_text"}
    return {name: getattr(config, name) for name in SweepConfig.model_fields if name not in where}


def test_python_keys_build_the_config_the_sweep_file_builds(tmp_path: Path) -> None:
    (tmp_path / "objectives.py").write_text("def train(params, trial):\n    return 1.0\n")
    yaml_keys = {**KEYS, "parameters": {**KEYS["parameters"], "depth": [3, 5, None]}}
    (tmp_path / "same.yaml").write_text(
        yaml.safe_dump({**yaml_keys, "objective": "objectives.py:train"}, sort_keys=False)
    )
    from_file = load_sweep_config(tmp_path / "same.yaml")
    from_python = build_sweep_config({**KEYS, "objective": train}, source="tunetrack.sweep.run")
    assert fields(from_python) == fields(from_file)
    assert from_python.objective.func is train
    assert str(from_python.objective) == f"{__name__}:train"
    assert load_objective(from_python.objective) is train
    # its source text is the sweep file stored with the sweep: it parses to the same config
    again = parse_sweep_config(from_python.source_text)
    assert fields(again) == fields(from_file)
    assert again.objective == from_python.objective


def test_python_keys_are_checked_like_a_file_with_problems_named_without_lines() -> None:
    keys = {**KEYS, "budget": {"trials": 0}, "paralel": {}, "objective": train}
    with pytest.raises(ConfigError) as info:
        build_sweep_config(keys, source="tunetrack.sweep.run")
    assert str(info.value).splitlines() == [
        "tunetrack.sweep.run: paralel: unknown key; did you mean 'parallel'? (allowed: name, "
        "experiment, description, objective, metric, method, parameters, budget, parallel, "
        "early_terminate, select, retrain, autolog, tags, seed)",
        "tunetrack.sweep.run: budget.trials: must be >= 1, got 0",
    ]


@pytest.mark.parametrize("method", ["tpe", "random", "cmaes", "gp", "nsga2"])
def test_without_parameters_an_optuna_method_sweeps_define_by_run(method: str) -> None:
    metric = {"name": "acc", "goal": "maximize"}
    config = build_sweep_config({"objective": train, "metric": metric, "method": method})
    assert dict(config.space) == {}
    assert config.name == config.experiment == "train"  # named after the function


@pytest.mark.parametrize("method", ["grid", "hyperopt-tpe", "hyperopt-random"])
def test_methods_that_propose_only_declared_parameters_need_some(method: str) -> None:
    text = f"objective: json:loads\nmetric: {{name: a, goal: minimize}}\nmethod: {method}\n"
    with pytest.raises(ConfigError, match=f"^<string>:1: parameters: method {method} needs"):
        parse_sweep_config(text)


def test_a_function_of_a_script_is_referenced_by_its_file_one_of_a_session_by_main(
    tmp_path: Path,
) -> None:
    code = textwrap.dedent(
        """
        from tunetrack.sweep.config import build_sweep_config

        def train(params):
            return 1.0

        config = build_sweep_config(
            {"objective": train, "metric": {"name": "a", "goal": "maximize"}}
        )
        print(config.objective)
        """
    )
    script = tmp_path / "script.py"
    script.write_text(code)
    as_script = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    assert as_script.stdout.strip() == f"{script.resolve()}:train"
    interactive = subprocess.run(
        [sys.executable, "-"], input=code, capture_output=True, text=True, check=True
    )
    assert interactive.stdout.strip() == "__main__:train"
