"""Run context captured once per process: source script, git state, user, host, versions.

Cheap by design: one ``git status`` subprocess (run while the package versions are read)
and :mod:`importlib.metadata` lookups that never import the packages themselves.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import subprocess
import sys
import threading

GIT_TIMEOUT_S = 2.0

#: Distributions whose installed versions are recorded (never imported).
VERSIONED_PACKAGES = (
    "tunetrack",
    "numpy",
    "pandas",
    "scikit-learn",
    "xgboost",
    "optuna",
    "hyperopt",
)

SOURCE_NAME = "tunetrack.source.name"
SOURCE_TYPE = "tunetrack.source.type"
GIT_COMMIT = "tunetrack.source.git.commit"
GIT_BRANCH = "tunetrack.source.git.branch"
GIT_DIRTY = "tunetrack.source.git.dirty"
USER = "tunetrack.user"
HOST = "tunetrack.host"
PYTHON_VERSION = "tunetrack.python_version"
VERSIONS = "tunetrack.versions"


def current_user() -> str:
    """The login name of the current user; never raises (falls back to ``"unknown"``)."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (containers)
        return os.environ.get("USERNAME") or "unknown"


def _source() -> tuple[str, str, str]:
    """``(source name, source type, directory to run git in)``."""
    ipython = sys.modules.get("IPython")  # only if already imported: never import it here
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    if shell is not None:
        if "ipykernel" in sys.modules:
            notebook = os.environ.get("JPY_SESSION_NAME") or "<notebook>"
            return notebook, "NOTEBOOK", os.getcwd()
        return "<interactive>", "INTERACTIVE", os.getcwd()
    argv = getattr(sys, "argv", None) or [""]  # embedded interpreters may lack argv
    main = argv[0]
    if main in ("", "-c", "-") or hasattr(sys, "ps1") or not os.path.exists(main):
        return "<interactive>", "INTERACTIVE", os.getcwd()
    path = os.path.abspath(main)
    return path, "SCRIPT", os.path.dirname(path)


def _start_git(cwd: str) -> subprocess.Popen[str] | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.Popen(
            # Untracked files are ignored: the store and artifacts often sit untracked in
            # the working directory and would mark every run dirty (and scanning is slow).
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    except (OSError, ValueError):  # git not installed, cwd gone
        return None


def _finish_git(proc: subprocess.Popen[str] | None) -> dict[str, str]:
    if proc is None:
        return {}
    try:
        out, _ = proc.communicate(timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {}
    if proc.returncode != 0:  # not a repository, unsafe ownership, ...
        return {}
    return parse_git_status(out)


def parse_git_status(output: str) -> dict[str, str]:
    """Git tags from ``git status --porcelain=v2 --branch`` output."""
    tags: dict[str, str] = {}
    dirty = False
    for line in output.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            if oid != "(initial)":
                tags[GIT_COMMIT] = oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :].strip()
            if head != "(detached)":
                tags[GIT_BRANCH] = head
        elif line[:2] in ("1 ", "2 ", "u "):  # changed, renamed/copied, unmerged entries
            dirty = True
    tags[GIT_DIRTY] = "true" if dirty else "false"
    return tags


def installed_versions(names: tuple[str, ...] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` from package metadata (missing ones are left out)."""
    import importlib.metadata  # ~30 ms cold; usually already loaded (SQLAlchemy, fsspec)

    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


_lock = threading.Lock()
_cached: dict[str, str] | None = None


def _compute_tags(source: tuple[str, str, str | None] | None = None) -> dict[str, str]:
    """The tags for ``(source name, source type, directory to run git in)``, by default
    this process's own source."""
    if source is None:
        try:
            source = _source()
        except OSError:  # the working directory was deleted
            source = "<interactive>", "INTERACTIVE", None
    name, kind, git_dir = source
    proc = _start_git(git_dir) if git_dir else None  # runs while the rest is gathered
    try:
        host = socket.gethostname()
    except OSError:
        host = "unknown"
    tags = {
        SOURCE_NAME: name,
        SOURCE_TYPE: kind,
        USER: current_user(),
        HOST: host,
        PYTHON_VERSION: platform.python_version(),
        VERSIONS: json.dumps(installed_versions(), separators=(",", ":"), sort_keys=True),
    }
    tags.update(_finish_git(proc))
    return tags


def run_context_tags() -> dict[str, str]:
    """Tags describing where this process runs; computed once, a fresh dict each call."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = _compute_tags()
    return dict(_cached)


def source_context_tags(path: str | os.PathLike[str], kind: str = "SWEEP") -> dict[str, str]:
    """The keys of :func:`run_context_tags` for runs that come from the file ``path`` (a
    sweep file) rather than this process's script: git state from the file's directory.

    Not cached (one ``git status``): compute it once and reuse the dict.
    """
    full = os.path.abspath(path)
    return _compute_tags((full, kind, os.path.dirname(full)))


def _clear_cache() -> None:
    """Forget the cached tags (tests)."""
    global _cached
    with _lock:
        _cached = None
