"""A PostgreSQL URI on a machine without the driver says which extra to install, in one line.

The processes run with psycopg hidden: a ``sitecustomize`` on PYTHONPATH makes importing it
fail exactly as it fails when the package is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixture's type (tests/integration/conftest.py)
    from conftest import RunTunetrack

URI = "postgresql://postgres@127.0.0.1:5432/postgres"
INSTALL = "pip install 'tunetrack[postgres]'"
API_SCRIPT = f"""
import tunetrack
from tunetrack.errors import TunetrackError

tunetrack.set_tracking_uri({URI!r})
try:
    tunetrack.start_run()
except TunetrackError as exc:
    print(type(exc).__name__)
    print(exc.message)
"""


@pytest.fixture
def without_psycopg(tmp_path: Path) -> dict[str, str]:
    """Environment variables that hide psycopg from a Python process."""
    hook = tmp_path / "hide"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("import sys\nsys.modules['psycopg'] = None\n")
    return {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}


def test_the_cli_without_psycopg_says_to_install_the_extra_in_one_line(
    run_tunetrack: RunTunetrack, without_psycopg: dict[str, str], tmp_path: Path
) -> None:
    env = {**without_psycopg, "TUNETRACK_TRACKING_URI": URI}
    done = run_tunetrack("runs", "list", cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert INSTALL in done.stderr


def test_the_python_api_without_psycopg_raises_a_config_error_naming_the_extra(
    without_psycopg: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    done = subprocess.run(
        [sys.executable, "-c", API_SCRIPT],
        env={**env, **without_psycopg},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    kind, message = done.stdout.splitlines()
    assert kind == "ConfigError"
    assert INSTALL in message
