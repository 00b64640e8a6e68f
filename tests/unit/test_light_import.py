"""``import tunetrack`` stays light: heavy libraries load only when first used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tunetrack

HEAVY = ("pandas", "sklearn", "xgboost", "optuna", "hyperopt", "plotly", "matplotlib", "psutil")

PROBE = """\
import json
import sys

import tunetrack

heavy = {heavy!r}
report = {{"after_import": sorted(m for m in heavy if m in sys.modules)}}
start_run = tunetrack.start_run
report["start_run"] = [start_run.__module__, start_run.__name__, callable(start_run)]
report["after_start_run"] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(report))
"""


def probe(tmp_path: Path, code: str = PROBE) -> dict[str, list]:
    proc = subprocess.run(
        [sys.executable, "-c", code.format(heavy=HEAVY)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_loads_no_heavy_library(tmp_path: Path) -> None:
    report = probe(tmp_path)
    assert report["after_import"] == []
    assert report["start_run"] == ["tunetrack.tracking.fluent", "start_run", True]
    assert report["after_start_run"] == []  # reaching the fluent API stays light too


def test_all_is_sorted_and_resolves() -> None:
    names = tunetrack.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in ("start_run", "end_run", "log_metric", "log_param", "search_runs", "Client"):
        assert name in names, name
    for name in names:
        assert getattr(tunetrack, name) is not None, name
    assert set(names) <= set(dir(tunetrack))


SWEEP_PROBE = """\
import json
import sys

import tunetrack

heavy = {heavy!r}
report = {{"sweep_imported": "tunetrack.sweep" in sys.modules}}
run = tunetrack.sweep.run
report["run"] = [run.__module__, run.__name__]
report["public"] = tunetrack.sweep.__all__
report["heavy"] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(report))
"""


def test_the_sweep_api_is_an_attribute_loaded_on_first_use(tmp_path: Path) -> None:
    report = probe(tmp_path, SWEEP_PROBE)
    assert report["sweep_imported"] is False
    assert report["run"] == ["tunetrack.sweep.api", "run"]
    assert {"run", "load", "result", "Sweep", "SweepResult", "Trial", "TrialPruned"} <= set(
        report["public"]
    )
    assert report["heavy"] == []  # pandas and optuna load when a sweep needs them


CONSTRAINT_PROBE = """\
import json
import sys

from tunetrack.errors import ConfigError
from tunetrack.sweep.config import parse_sweep_config

sweep = '''\\
experiment: light
objective: train.py:train
metric: {{name: accuracy, goal: maximize}}
method: random
parameters: {{x: {{distribution: uniform, min: 0, max: 1}}}}
select: {{constraints: [CONSTRAINT]}}
'''
report = {{}}
good = parse_sweep_config(sweep.replace("CONSTRAINT", '"metrics.size < 50"'))
report["checked"] = list(good.select.constraints)
try:
    parse_sweep_config(sweep.replace("CONSTRAINT", '"metrics.size <<< 50"'))
except ConfigError as exc:
    report["refused"] = str(exc)
report["sql"] = sorted(m for m in ("sqlalchemy", "alembic") if m in sys.modules)
print(json.dumps(report))
"""


def test_checking_a_sweep_constraint_loads_no_sql_library(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def train(params, trial):\n    return 1.0\n")
    report = probe(tmp_path, CONSTRAINT_PROBE)
    assert report["checked"] == ["metrics.size < 50"]
    assert "select.constraints.0" in report["refused"]  # the bad filter was parsed, and refused
    assert report["sql"] == []


AUTOLOG_PROBE = """\
import json
import sys
import types

import {package}  # first, as a sweep worker does: tunetrack.autolog must stay the callable

import tunetrack

autolog = tunetrack.autolog
with autolog.paused():
    paused = True
report = {{
    "callable": callable(autolog) and not isinstance(autolog, types.ModuleType),
    "paused": paused,
    "swapped": sorted(
        name for name, module in sys.modules.items()
        if name.startswith("tunetrack") and type(module) is not types.ModuleType
    ),
    "parameters": list(__import__("inspect").signature(autolog).parameters)[:3],
}}
print(json.dumps(report))
"""


def test_autolog_is_callable_without_swapping_a_module_class(tmp_path: Path) -> None:
    report = probe(tmp_path, AUTOLOG_PROBE.replace("{package}", "tunetrack.autologging"))
    assert report == {
        "callable": True,
        "paused": True,
        "swapped": [],
        "parameters": ["log_models", "log_datasets", "log_importances"],
    }
