"""run_context_tags: source, git state, versions; cheap and import-free."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunetrack.tracking import context
from tunetrack.tracking.context import (
    GIT_BRANCH,
    GIT_COMMIT,
    GIT_DIRTY,
    parse_git_status,
    run_context_tags,
)

PYTHON = sys.executable
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")

SCRIPT = """\
import json
from tunetrack.tracking.context import run_context_tags
print(json.dumps(run_context_tags()))
"""


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    cmd += ["-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def run_script(script: Path, cwd: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run ``script`` with the venv python (so argv[0] is the script) and return its tags."""
    out = subprocess.run(
        [PYTHON, str(script)], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Keep git from finding a repository above ``tmp_path``."""
    return dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))


@needs_git
def test_git_tags_in_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "feature/x")
    (repo / "data.csv").write_text("a,b\n")
    script = repo / "src" / "train.py"
    script.write_text(SCRIPT)
    git(repo, "add", "data.csv", "src/train.py")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD").strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = isolated_env(tmp_path)

    # An untracked file (like a local store) does not make the run dirty.
    (repo / "tunetrack.db").write_text("x")
    clean = run_script(script, cwd=elsewhere, env=env)  # git runs in the script's directory
    assert clean["tunetrack.source.name"] == str(script)
    assert clean["tunetrack.source.type"] == "SCRIPT"
    assert clean[GIT_COMMIT] == head
    assert len(head) == 40
    assert clean[GIT_BRANCH] == "feature/x"
    assert clean[GIT_DIRTY] == "false"

    (repo / "data.csv").write_text("a,b\n1,2\n")
    dirty = run_script(script, cwd=elsewhere, env=env)
    assert dirty[GIT_COMMIT] == head
    assert dirty[GIT_DIRTY] == "true"


@needs_git
def test_detached_head_omits_branch(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    script = repo / "train.py"
    script.write_text(SCRIPT)
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    tags = run_script(script, cwd=repo, env=isolated_env(tmp_path))
    assert tags[GIT_COMMIT] == head
    assert GIT_BRANCH not in tags
    assert tags[GIT_DIRTY] == "false"


def test_outside_a_repository_git_keys_are_absent(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    tags = run_script(script, cwd=tmp_path, env=isolated_env(tmp_path))
    assert tags["tunetrack.source.name"] == str(script)
    assert not [k for k in tags if k.startswith("tunetrack.source.git.")]
    for key in ("tunetrack.user", "tunetrack.host", "tunetrack.python_version"):
        assert tags[key]


def test_without_git_installed_git_keys_are_absent(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    tags = run_script(script, cwd=tmp_path, env=env)
    assert not [k for k in tags if k.startswith("tunetrack.source.git.")]
    assert tags["tunetrack.source.type"] == "SCRIPT"


def test_no_heavy_imports_and_versions_found(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from tunetrack.tracking.context import run_context_tags\n"
        "tags = run_context_tags()\n"
        "heavy = ['pandas', 'numpy', 'sklearn', 'xgboost', 'optuna', 'hyperopt']\n"
        "print(json.dumps({'tags': tags, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout)
    assert result["loaded"] == []
    tags = result["tags"]
    assert tags["tunetrack.source.name"] == "<interactive>"
    assert tags["tunetrack.source.type"] == "INTERACTIVE"
    versions = json.loads(tags["tunetrack.versions"])
    assert set(versions) <= set(context.VERSIONED_PACKAGES)
    # Installed in the venv, so found from metadata without being imported.
    import importlib.metadata

    assert versions["tunetrack"] == importlib.metadata.version("tunetrack")
    assert versions["numpy"] == importlib.metadata.version("numpy")
    assert versions["pandas"] == importlib.metadata.version("pandas")
    assert " " not in tags["tunetrack.versions"]  # compact JSON


def test_computed_once_and_returns_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_start = context._start_git

    def counting_start(cwd: str) -> subprocess.Popen[str] | None:
        calls.append(cwd)
        return real_start(cwd)

    monkeypatch.setattr(context, "_start_git", counting_start)
    context._clear_cache()
    try:
        first = run_context_tags()
        first["tunetrack.user"] = "mutated"
        second = run_context_tags()
    finally:
        context._clear_cache()
    assert len(calls) == 1
    assert second["tunetrack.user"] != "mutated"
    assert second["tunetrack.user"] == context.current_user()


def test_current_user_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> str:
        raise OSError("no user")

    monkeypatch.setattr(context.getpass, "getuser", broken)
    monkeypatch.delenv("USERNAME", raising=False)
    assert context.current_user() == "unknown"


def test_parse_git_status() -> None:
    clean = "# branch.oid abc123\n# branch.head main\n# branch.upstream origin/main\n"
    assert parse_git_status(clean) == {GIT_COMMIT: "abc123", GIT_BRANCH: "main", GIT_DIRTY: "false"}
    changed = clean + "1 .M N... 100644 100644 100644 aaa bbb src/x.py\n"
    assert parse_git_status(changed)[GIT_DIRTY] == "true"
    renamed = clean + "2 R. N... 100644 100644 100644 aaa bbb R100 new.py\told.py\n"
    assert parse_git_status(renamed)[GIT_DIRTY] == "true"
    untracked_only = clean + "? notes.txt\n"
    assert parse_git_status(untracked_only)[GIT_DIRTY] == "false"
    fresh = "# branch.oid (initial)\n# branch.head (detached)\n"
    assert parse_git_status(fresh) == {GIT_DIRTY: "false"}
