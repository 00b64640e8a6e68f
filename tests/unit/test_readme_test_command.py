"""README's test command runs on a fresh machine without the multi-GB CUDA build of torch.

It leaves the ``gp`` extra (torch) out; without torch the GP-sampler tests skip with the
reason; CI (``.ci/run``) installs the CPU torch wheel and ``gp`` first, then runs README's
command as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def readme_test_command() -> str:
    """The shell command of README's "Tests (one command)" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Tests (one command)", 1)[1]
    [command] = re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)[:1]
    return command.strip()


def test_readmes_test_command_leaves_out_the_gp_extra() -> None:
    command = readme_test_command()
    [extras] = re.findall(r"pip install -e '\.\[([^\]]*)\]'", command)
    assert "gp" not in extras.split(","), command
    assert "torch" not in command


def test_ci_installs_cpu_torch_and_gp_then_runs_readmes_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    [ci_command] = re.findall(r'^test_command="(.+)"$', ci, flags=re.M)
    assert readme_test_command().endswith(ci_command)
    torch = ci.index("pip install -q torch==")
    assert torch < ci.index("pip install -q -e '.[gp]'") < ci.index('eval "$test_command"')


def test_without_torch_the_gp_tests_skip_with_the_reason(tmp_path: Path) -> None:
    hide = tmp_path / "hide_torch"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    pythonpath = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    strategies = str(ROOT / "tests" / "unit" / "test_strategies.py")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-k",
            "gp",
            strategies,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped, done.stdout
    assert all("method gp needs torch, which is not installed" in s for s in skipped), skipped
