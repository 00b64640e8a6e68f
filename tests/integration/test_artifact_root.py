"""A store records its default artifact root in its database when it is created: every client
of it writes artifacts there, whatever its working directory or environment says."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tunetrack.store.sql.store import SqlStore

if TYPE_CHECKING:  # the fixture's type (tests/integration/conftest.py)
    from conftest import RunTunetrack

LOG_ARTIFACT = """
import sys
from tunetrack import Client

uri, name = sys.argv[1:]
with Client(uri) as client:
    run = client.create_run(client.create_experiment(name))
    client.log_text(run.info.run_id, name, "note.txt")
    print(run.info.artifact_uri)
"""


def log_artifact_from(cwd: Path, uri: str, name: str, **env: str) -> Path:
    """In a new process working in ``cwd``: create experiment ``name`` in ``uri`` with a run
    holding ``note.txt``; return the experiment's artifact directory."""
    cwd.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    done = subprocess.run(
        [sys.executable, "-c", LOG_ARTIFACT, uri, name],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert (run_dir / "note.txt").read_text() == name
    return run_dir.parent


def test_clients_of_one_postgres_store_in_different_directories_share_its_artifact_root(
    fresh_postgres_uri: str, tmp_path: Path
) -> None:
    alice = log_artifact_from(tmp_path / "alice", fresh_postgres_uri, "alice")
    bob = log_artifact_from(tmp_path / "bob", fresh_postgres_uri, "bob")
    root = tmp_path / "alice" / "tunetrack-artifacts"  # the creator's default
    assert (alice.parent, bob.parent) == (root, root)
    assert not (tmp_path / "bob" / "tunetrack-artifacts").exists()


def test_clients_of_one_sqlite_file_by_relative_paths_share_its_artifact_root(
    tmp_path: Path,
) -> None:
    team = tmp_path / "team"
    first = log_artifact_from(team, "sqlite:///t.db", "first", TUNETRACK_ARTIFACT_ROOT="files")
    second = log_artifact_from(
        team / "sub", "sqlite:///../t.db", "second", TUNETRACK_ARTIFACT_ROOT="files"
    )
    assert (first.parent, second.parent) == (team / "files", team / "files")
    assert not (team / "sub" / "files").exists()


def test_a_requested_root_other_than_the_recorded_one_is_ignored_with_a_warning(
    db_uri: str, tmp_path: Path
) -> None:
    recorded = str(tmp_path / "recorded")
    SqlStore(db_uri, default_artifact_root=recorded).close()
    with pytest.warns(UserWarning, match="tunetrack db upgrade --artifact-root"):
        other = SqlStore(db_uri, default_artifact_root=str(tmp_path / "elsewhere"))
    try:
        assert other.artifact_root == recorded
        eid = other.create_experiment("e")
        assert other.get_experiment(eid).artifact_location == f"{recorded}/{eid}"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            SqlStore(db_uri, default_artifact_root=recorded + "/").close()
    finally:
        other.close()


def test_db_upgrade_artifact_root_sets_a_new_stores_root_and_changes_an_old_ones(
    tmp_path: Path, run_tunetrack: RunTunetrack
) -> None:
    uri = f"sqlite:///{tmp_path}/t.db"
    done = run_tunetrack(
        "db", "upgrade", "--tracking-uri", uri, "--artifact-root", "shared", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    store = SqlStore(uri)
    assert store.artifact_root == str(tmp_path / "shared")
    assert store.get_experiment("0").artifact_location == f"{tmp_path / 'shared'}/0"
    before = store.create_experiment("before")
    store.close()

    done = run_tunetrack(
        "db", "upgrade", "--tracking-uri", uri, "--artifact-root", "s3://bucket/team/", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "s3://bucket/team" in done.stdout
    store = SqlStore(uri)
    try:
        after = store.create_experiment("after")
        assert store.get_experiment(after).artifact_location == f"s3://bucket/team/{after}"
        assert store.get_experiment(before).artifact_location == f"{tmp_path / 'shared'}/{before}"
    finally:
        store.close()
