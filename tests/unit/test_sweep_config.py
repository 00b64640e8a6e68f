"""Sweep file loading: the DESIGN example parses; every kind of mistake is reported as
``FILE:LINE: PATH: WHAT`` (or ``--set K=V: PATH: WHAT`` for overrides)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tunetrack.errors import ConfigError
from tunetrack.sweep._config_sections import format_duration
from tunetrack.sweep.config import (
    Autolog,
    Budget,
    ObjectiveRef,
    Parallel,
    Retrain,
    SweepConfig,
    SweepConfigError,
    load_sweep_config,
    parse_duration,
    parse_sweep_config,
)
from tunetrack.sweep.goals import Goal, PrunerSpec

OBJECTIVE = """\
raise SystemExit("the objective file must not be executed while loading the config")


def train(params, trial):
    return 1.0


def helper():
    return None
"""

FULL = """\
name: iris-rf
experiment: iris
description: random forest on iris
objective: objectives/iris.py:train
metric: {name: accuracy, goal: maximize}
method: tpe
parameters:
  n_estimators: {distribution: int, min: 10, max: 300}
  max_depth: {values: [3, 5, 8, null]}
  max_features: {distribution: uniform, min: 0.1, max: 1.0}
budget: {trials: 50, timeout: 1h30m, trial_timeout: 10m, target: 0.99, max_failures: 5}
parallel: {n_jobs: 2, backend: loky}
early_terminate: {type: median, min_steps: 5, min_trials: 3}
select: {constraints: ["metrics.model_size_mb < 50"]}
retrain: {register_as: iris-classifier, alias: champion}
autolog: {log_models: false}
tags: {team: a, version: 2}
seed: 42
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``tmp_path`` (the cwd) with objective files beside where the YAML files go."""
    (tmp_path / "objectives").mkdir()
    (tmp_path / "objectives" / "iris.py").write_text(OBJECTIVE)
    (tmp_path / "objectives" / "obj.py").write_text(OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(FULL)
    return tmp_path


def test_full_example_parses(project: Path) -> None:
    config = load_sweep_config("sweep.yaml")
    assert isinstance(config, SweepConfig)
    assert (config.name, config.experiment) == ("iris-rf", "iris")
    assert config.description == "random forest on iris"
    assert config.objective == ObjectiveRef(
        path=(project / "objectives" / "iris.py").resolve(), module=None, function="train"
    )
    assert config.metrics == (Goal(name="accuracy", direction="maximize"),)
    assert config.primary_metric == Goal(name="accuracy", direction="maximize")
    assert config.method == "tpe"
    assert set(config.parameters_raw) == {"n_estimators", "max_depth", "max_features"}
    assert config.parameters_raw["max_depth"] == {"values": [3, 5, 8, None]}
    assert config.space is not None
    assert config.budget == Budget(
        trials=50, timeout=5400.0, trial_timeout=600.0, target=0.99, max_failures=5
    )
    assert isinstance(config.budget.timeout, float)
    assert config.parallel == Parallel(n_jobs=2, backend="loky", address=None)
    assert config.early_terminate == PrunerSpec(
        type="median", min_steps=5, min_trials=3, max_steps=None
    )
    assert config.select.constraints == ("metrics.model_size_mb < 50",)
    assert config.retrain == Retrain(enabled=True, register_as="iris-classifier", alias="champion")
    assert config.autolog == Autolog(log_models=False)
    assert config.tags == {"team": "a", "version": "2"}
    assert config.seed == 42
    assert config.source_path == (project / "sweep.yaml").resolve()
    assert config.source_text == FULL
    with pytest.raises(ValueError, match="frozen"):
        config.seed = 1  # type: ignore[misc]


def test_defaults(project: Path) -> None:
    (project / "minimal.yaml").write_text(
        "objective: objectives/obj.py:train\n"
        "metric: {name: loss, goal: minimize}\n"
        "parameters: {x: {values: [1, 2]}}\n"
    )
    config = load_sweep_config(project / "minimal.yaml")
    assert (config.name, config.experiment) == ("minimal", "minimal")
    assert config.method == "tpe"
    assert config.budget == Budget(trials=20, timeout=None, target=None, max_failures=None)
    assert config.parallel == Parallel(n_jobs=1, backend="loky")
    assert config.early_terminate is None
    assert config.select.constraints == ()
    assert config.retrain.enabled is False
    assert config.autolog == Autolog()
    assert (config.tags, config.seed) == ({}, None)


def test_max_failures_stops_for_failures_before_any_success_unless_set(project: Path) -> None:
    def budget(line: str) -> Budget:
        (project / "b.yaml").write_text(_doc(line))
        return load_sweep_config("b.yaml").budget

    default = budget("")
    assert default.failure_stop(failed=4, succeeded=0) is None
    assert default.failure_stop(failed=5, succeeded=0) == (
        "the first 5 trials failed (budget.max_failures)"
    )
    assert default.failure_stop(failed=50, succeeded=1) is None
    assert budget("budget: {max_failures: null}\n").failure_stop(failed=99, succeeded=0) is None
    three = budget("budget: {max_failures: 3}\n")
    assert three.failure_stop(failed=2, succeeded=0) is None
    assert three.failure_stop(failed=3, succeeded=7) == "3 trials failed (budget.max_failures: 3)"


def test_multi_objective_and_module_objective(project: Path) -> None:
    config = parse_sweep_config(
        "objective: json.decoder:JSONDecoder\n"
        "metric: [{name: accuracy, goal: maximize}, {name: size, goal: minimize}]\n"
        "method: nsga2\n"
        "parameters: {x: {values: [1, 2]}}\n"
        "early_terminate: {type: none}\n"
    )
    assert config.objective == ObjectiveRef(
        path=None, module="json.decoder", function="JSONDecoder"
    )
    assert [g.direction for g in config.metrics] == ["maximize", "minimize"]
    assert config.primary_metric.name == "accuracy"
    assert config.early_terminate is None


def test_module_beside_the_yaml_is_found_without_importing_it(project: Path) -> None:
    pkg = project / "sweeps" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('raise SystemExit("must not be imported")\n')
    (pkg / "obj.py").write_text(OBJECTIVE)
    (project / "sweeps" / "s.yaml").write_text(
        "objective: mypkg.obj:train\n"
        "metric: {name: acc, goal: maximize}\n"
        "parameters: {x: {values: [1]}}\n"
    )
    config = load_sweep_config("sweeps/s.yaml")
    assert config.objective.module == "mypkg.obj"
    assert config.objective.search_dir == (project / "sweeps").resolve()
    assert "mypkg" not in sys.modules


def test_overrides_apply(project: Path) -> None:
    config = load_sweep_config(
        "sweep.yaml",
        overrides=[
            "budget.trials=7",
            "parallel.n_jobs=1",
            "budget.timeout=90s",
            "method=random",
            "tags.owner=me",
            "select.constraints=['metrics.x > 1', 'params.y = \"a\"']",
            "retrain={enabled: false}",
        ],
    )
    assert config.budget.trials == 7
    assert config.budget.timeout == 90.0
    assert config.budget.target == 0.99  # untouched siblings stay
    assert config.parallel.n_jobs == 1
    assert config.method == "random"
    assert config.tags["owner"] == "me"
    assert config.select.constraints == ("metrics.x > 1", 'params.y = "a"')
    assert config.retrain == Retrain(enabled=False)


def test_override_creates_missing_sections(project: Path) -> None:
    (project / "minimal.yaml").write_text(
        "objective: objectives/obj.py:train\n"
        "metric: {name: loss, goal: minimize}\n"
        "parameters: {x: {values: [1, 2]}}\n"
    )
    config = load_sweep_config("minimal.yaml", ["early_terminate.type=hyperband", "seed=3"])
    assert config.early_terminate == PrunerSpec(type="hyperband")
    assert config.seed == 3


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("budget.trials=abc", "--set budget.trials=abc: budget.trials: expected an integer"),
        ("budget", "--set budget: expected KEY=VALUE"),
        ("budget..trials=3", "--set budget..trials=3: expected KEY=VALUE"),
        ("parallel.n_jobs=0", "--set parallel.n_jobs=0: parallel.n_jobs: must not be 0"),
        ("budget.timeout=[1,", "--set budget.timeout=[1,: budget.timeout: invalid value"),
        ("budget.trails=3", "--set budget.trails=3: budget.trails: unknown key; did you mean"),
        ("seed.x=1", "--set seed.x=1: seed: is 42, not a mapping"),
        (
            "early_terminate.min_steps=0",  # replaces min_steps only, keeps the section's type
            "--set early_terminate.min_steps=0: early_terminate.min_steps: must be >= 1",
        ),
    ],
)
def test_override_errors(project: Path, override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_sweep_config("sweep.yaml", [override])
    assert str(info.value).splitlines()[0].startswith(expected), str(info.value)


def test_override_errors_come_first_and_yaml_errors_keep_their_line(project: Path) -> None:
    (project / "bad.yaml").write_text(FULL.replace("seed: 42", "seed: -1"))
    with pytest.raises(SweepConfigError) as info:
        load_sweep_config("bad.yaml", ["parallel.backend=dusk"])
    lines = str(info.value).splitlines()
    assert lines[0].startswith("--set parallel.backend=dusk: parallel.backend: unknown backend")
    assert lines[1].startswith("bad.yaml:18: seed: must be >= 0")
    assert len(info.value.problems) == 2


BASE = """\
name: iris-rf
objective: objectives/obj.py:train
metric: {name: accuracy, goal: maximize}
parameters:
  lr: {distribution: log_uniform, min: 0.001, max: 0.1}
"""  # lines 1-5; extra lines start at 6


def _doc(extra: str = "", **lines: str | None) -> str:
    """BASE with top-level lines replaced (``None`` drops one) and ``extra`` appended."""
    out, key = [], ""
    for line in BASE.splitlines():
        if not line.startswith(" "):
            key = line.split(":")[0]
            if key in lines and lines[key] is not None:
                out.append(f"{key}: {lines[key]}")
        if key not in lines:
            out.append(line)
    return "\n".join(out) + "\n" + textwrap.dedent(extra)


BAD = [
    # (id, yaml text, expected "bad.yaml:LINE: path" prefix, message substring)
    ("yaml-syntax", "name: x\nmetric: {name: a\nmethod: tpe\n", "bad.yaml:3:", "invalid YAML"),
    ("yaml-tab", "name: x\n\tmethod: tpe\n", "bad.yaml:2:", "invalid YAML"),
    ("top-level-list", "- a\n- b\n", "bad.yaml:1:", "a list, not a mapping"),
    ("empty-file", "# nothing\n", "bad.yaml:1:", "the sweep file is empty"),
    ("unknown-key", _doc("budgt: {trials: 3}\n"), "bad.yaml:6: budgt:", "did you mean 'budget'"),
    (
        "unknown-nested-key",
        _doc("budget:\n  trails: 3\n"),
        "bad.yaml:7: budget.trails:",
        "did you mean 'trials'? (allowed: trials, timeout, trial_timeout, target, max_failures)",
    ),
    (
        "typo-of-required-key",
        _doc(objective=None, extra="objectve: objectives/obj.py:train\n"),
        "bad.yaml:5: objectve:",
        "did you mean 'objective'",
    ),
    (
        "missing-objective",
        _doc(objective=None),
        "bad.yaml:1: objective:",
        "required key is missing",
    ),
    ("missing-metric", _doc(metric=None), "bad.yaml:1: metric:", "required key is missing"),
    (
        "grid-without-parameters",
        "objective: objectives/obj.py:train\nmetric: {name: a, goal: minimize}\nmethod: grid\n",
        "bad.yaml:1: parameters:",
        "method grid needs parameters (trial.suggest_* alone works with random, tpe,",
    ),
    (
        "missing-nested-key",
        _doc("early_terminate:\n  min_steps: 3\n"),
        "bad.yaml:6: early_terminate.type:",
        "required key is missing",
    ),
    (
        "wrong-type-int",
        _doc("budget:\n  trials: lots\n"),
        "bad.yaml:7: budget.trials:",
        "expected an integer, got 'lots'",
    ),
    ("wrong-type-bool", _doc("seed: true\n"), "bad.yaml:6: seed:", "expected an integer, got true"),
    (
        "wrong-type-section",
        _doc("parallel: 4\n"),
        "bad.yaml:6: parallel:",
        "expected a mapping, got 4",
    ),
    (
        "wrong-type-autolog",
        _doc("autolog: {log_models: sometimes}\n"),
        "bad.yaml:6: autolog.log_models:",
        "expected true or false",
    ),
    ("trials-zero", _doc("budget: {trials: 0}\n"), "bad.yaml:6: budget.trials:", "must be >= 1"),
    (
        "max-failures-zero",
        _doc("budget: {max_failures: 0}\n"),
        "bad.yaml:6: budget.max_failures:",
        "must be >= 1, got 0 (or null: never stop for failures)",
    ),
    (
        "unknown-method",
        _doc("method: tpee\n"),
        "bad.yaml:6: method:",
        "unknown method 'tpee'; did you mean 'tpe'? (valid: grid, random, tpe,",
    ),
    (
        "unknown-backend",
        _doc("parallel: {n_jobs: 2, backend: dusk}\n"),
        "bad.yaml:6: parallel.backend:",
        "unknown backend 'dusk'; did you mean 'dask'?",
    ),
    (
        "address-without-dask",
        _doc("parallel: {backend: loky, address: 'tcp://h:8786'}\n"),
        "bad.yaml:6: parallel.address:",
        "only used with backend dask or ray",
    ),
    (
        "ray-address-of-dask",
        _doc("parallel: {backend: ray, address: 'tcp://h:8786'}\n"),
        "bad.yaml:6: parallel.address:",
        "expected a Ray cluster address like ray://host:10001",
    ),
    (
        "bad-duration",
        _doc("budget:\n  trials: 5\n  timeout: 10 minutes\n"),
        "bad.yaml:8: budget.timeout:",
        "invalid duration '10 minutes'",
    ),
    (
        "bad-trial-timeout",
        _doc("budget:\n  trial_timeout: 0\n"),
        "bad.yaml:7: budget.trial_timeout:",
        "invalid duration 0: it must be positive and finite",
    ),
    (
        "n-jobs-zero",
        _doc("parallel:\n  n_jobs: 0\n"),
        "bad.yaml:7: parallel.n_jobs:",
        "must not be 0",
    ),
    ("grid-continuous", _doc("method: grid\n"), "bad.yaml:5: parameters.lr:", "grid search needs"),
    (
        "space-error",
        _doc(parameters="\n  lr:\n    distribution: uniform\n    min: 0.1\n    max: 0.01"),
        "bad.yaml:8: parameters.lr.max:",
        "max (0.01) must be greater than min (0.1)",
    ),
    (
        "parameters-not-mapping",
        _doc(parameters="[lr, momentum]"),
        "bad.yaml:4: parameters:",
        "expected a mapping of parameter name to distribution",
    ),
    (
        "multi-goal-single-method",
        _doc(
            metric="[{name: accuracy, goal: maximize}, {name: size, goal: minimize}]",
            extra="method: cmaes\n",
        ),
        "bad.yaml:6: method:",
        "cmaes optimises one metric but metric lists 2",
    ),
    (
        "metric-without-goal",
        _doc(metric="accuracy"),
        "bad.yaml:3: metric:",
        "a goal is required",
    ),
    (
        "metric-bad-goal",
        _doc(metric="\n  - {name: accuracy, goal: maximize}\n  - {name: size, goal: min}"),
        "bad.yaml:5: metric.1.goal:",
        "unknown goal 'min'",
    ),
    (
        "objective-file-missing",
        _doc(objective="objectives/nope.py:train"),
        "bad.yaml:2: objective:",
        "objective file 'objectives/nope.py' not found",
    ),
    (
        "objective-function-missing",
        _doc(objective="objectives/obj.py:trian"),
        "bad.yaml:2: objective:",
        "has no top-level function 'trian'; did you mean 'train'? (functions: helper, train)",
    ),
    (
        "objective-no-colon",
        _doc(objective="objectives/obj.py"),
        "bad.yaml:2: objective:",
        "no ':' before the function name",
    ),
    (
        "objective-module-missing",
        _doc(objective="no_such_pkg_xyz.objectives:train"),
        "bad.yaml:2: objective:",
        "module 'no_such_pkg_xyz.objectives' not found",
    ),
    (
        "select-bad-filter",
        _doc("select:\n  constraints:\n    - metrics.acc > 0.9\n    - metrics.size <<< 5\n"),
        "bad.yaml:9: select.constraints.1:",
        "invalid filter at column 15",
    ),
    (
        "retrain-alias-alone",
        _doc("retrain: {alias: champion}\n"),
        "bad.yaml:6: retrain.alias:",
        "alias needs register_as",
    ),
    (
        "unknown-pruner",
        _doc("early_terminate: {type: asha}\n"),
        "bad.yaml:6: early_terminate.type:",
        "unknown type 'asha' (valid: median, hyperband, successive_halving, none)",
    ),
    (
        "duplicate-key",
        _doc("seed: 1\nseed: 2\n"),
        "bad.yaml:7: seed:",
        "duplicate key (first on line 6",
    ),
    (
        "tag-not-scalar",
        _doc("tags: {team: [a, b]}\n"),
        "bad.yaml:6: tags.team:",
        "expected a string",
    ),
]


@pytest.mark.parametrize(
    ("text", "prefix", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_files(project: Path, text: str, prefix: str, message: str) -> None:
    (project / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sweep_config("bad.yaml")
    first = str(info.value).splitlines()[0]
    assert first.startswith(prefix + (" " if prefix.endswith(":") else "")), str(info.value)
    assert message in first, str(info.value)


def test_all_problems_are_listed_in_file_order(project: Path) -> None:
    (project / "bad.yaml").write_text(
        _doc(
            objective="objectives/obj.py:trian",
            extra="method: tpee\nbudget: {trials: 0, timeout: soon}\nparallel: {n_jobs: 0}\n",
        )
    )
    with pytest.raises(SweepConfigError) as info:
        load_sweep_config("bad.yaml")
    lines = str(info.value).splitlines()
    assert [line.split(": ")[0:2] for line in lines] == [
        ["bad.yaml:2", "objective"],
        ["bad.yaml:6", "method"],
        ["bad.yaml:7", "budget.trials"],
        ["bad.yaml:7", "budget.timeout"],
        ["bad.yaml:8", "parallel.n_jobs"],
    ]
    assert [p.line for p in info.value.problems] == [2, 6, 7, 7, 8]


EVERY_PROBLEM = """\
objective: objectives/obj.py:train
metric: {name: accuracy, goal: maximize}
parameters:
  lr: {distribution: log_uniform, min: 0, max: 0.1}
  depth: {distribution: int, min: 8, max: 2}
  fine: {values: [1, 2]}
  kind: {distribution: gaussian}
  model:
    values:
      rf: {leaf: {min: 1, max: 0}}
      lin: {alpha: {values: []}, beta: {value: 1, colour: red}}
budget: {trials: 0}
parallel: {n_jobs: 0, address: 'tcp://h:8786'}
select: {constraints: ["metrics.a <<< 1", "metrics.b > 1", "params.c ="]}
retrain: {register_as: '', alias: champion, enabeld: true}
early_terminate: {type: asha, min_steps: 5, max_steps: 3}
"""
EVERY_PROBLEM_AT = [  # (line, path) of each problem in EVERY_PROBLEM
    (4, "parameters.lr.min"),
    (5, "parameters.depth.max"),
    (7, "parameters.kind.distribution"),
    (10, "parameters.model.values.rf.leaf.max"),
    (11, "parameters.model.values.lin.alpha.values"),
    (11, "parameters.model.values.lin.beta.colour"),
    (12, "budget.trials"),
    (13, "parallel.n_jobs"),
    (13, "parallel.address"),
    (14, "select.constraints.0"),
    (14, "select.constraints.2"),
    (15, "retrain.register_as"),
    (15, "retrain.enabeld"),
    (16, "early_terminate.type"),
    (16, "early_terminate.max_steps"),
]


def test_every_bad_parameter_and_section_key_is_reported_by_line(project: Path) -> None:
    (project / "bad.yaml").write_text(EVERY_PROBLEM)
    with pytest.raises(SweepConfigError) as info:
        load_sweep_config("bad.yaml")
    lines = str(info.value).splitlines()
    found = [(p.line, ".".join(map(str, p.path))) for p in info.value.problems]
    assert sorted(found) == sorted(EVERY_PROBLEM_AT), str(info.value)
    assert [p.line for p in info.value.problems] == sorted(p.line for p in info.value.problems)
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"bad.yaml:{p.line}", ".".join(map(str, p.path))] for p in info.value.problems
    ]


def test_cross_checks_with_the_metric_are_reported_beside_a_section_s_own_problems(
    project: Path,
) -> None:
    (project / "bad.yaml").write_text(
        _doc(
            metric="[{name: accuracy, goal: maximize}, {name: size, goal: minimize}]",
            extra="method: nsga2\n"
            "budget: {trials: 0, target: 0.9}\n"
            "early_terminate: {type: median, min_steps: 0}\n",
        )
    )
    with pytest.raises(SweepConfigError) as info:
        load_sweep_config("bad.yaml")
    found = {(p.line, ".".join(map(str, p.path))): p.message for p in info.value.problems}
    assert set(found) == {
        (7, "budget.trials"),
        (7, "budget.target"),
        (8, "early_terminate.type"),
        (8, "early_terminate.min_steps"),
    }, str(info.value)
    assert "needs a single metric" in found[7, "budget.target"]
    assert "needs a single metric" in found[8, "early_terminate.type"]


def test_cli_prints_every_problem_of_a_bad_file_without_a_traceback(project: Path) -> None:
    (project / "bad.yaml").write_text(EVERY_PROBLEM)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tunetrack"), "sweep", "run", "bad.yaml"],
        capture_output=True,
        text=True,
        cwd=project,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    listed = [
        line.removeprefix("error: ").split(": ")[0:2]
        for line in output.splitlines()
        if line.startswith(("error: bad.yaml:", "bad.yaml:"))
    ]
    assert sorted(listed) == sorted([f"bad.yaml:{n}", path] for n, path in EVERY_PROBLEM_AT)
    numbers = [int(where.split(":")[1]) for where, _ in listed]
    assert numbers == sorted(numbers), output


def test_missing_file_and_string_source(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope\.yaml: sweep file not found"):
        load_sweep_config("nope.yaml")
    with pytest.raises(ConfigError, match=r"^<string>:1: objective: required key is missing"):
        parse_sweep_config("metric: {name: a, goal: minimize}\nparameters: {x: {values: [1]}}\n")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (2.5, 2.5), ("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("2h", 7200.0),
     ("1h30m", 5400.0), ("1d", 86400.0), ("1.5h", 5400.0), ("1h 30m 10s", 5410.0)],
)  # fmt: skip
def test_parse_duration(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("text", ["2s", "1.5s", "10m", "1m30s", "2h", "1h30m", "1d2h3m4.5s"])
def test_format_duration_writes_what_parse_duration_reads(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("value", ["", "10x", "m", "30m1h", "1h1h", "0", -5, 0, True, "inf"])
def test_parse_duration_rejects(value: str | float) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(value)


def test_import_does_not_load_optimisers() -> None:
    code = (
        "import sys, tunetrack.sweep.config\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(top & {'optuna', 'hyperopt', 'sklearn'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""
