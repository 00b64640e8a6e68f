"""Several processes register versions of one model at once: numbering stays 1..N.

Each child logs a tiny model manifest into its own run, waits at a barrier (a go-file it
polls), then races the others through ``Client.register_model`` — which also races to
create the registered model itself on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

TIMEOUT_S = 240  # a hang fails the test instead of blocking CI
VERSIONS_EACH = 10
MODEL = "racer"

# argv: index, versions, go-file path
REGISTER_SCRIPT = """\
import os
import sys
import time

from tunetrack.tracking.client import Client

index, count, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = Client()
experiment = client.get_experiment_by_name("race")
run = client.create_run(experiment.experiment_id, run_name=f"proc-{index}")
run_id = run.info.run_id
# the smallest model.yaml register_model accepts (the race is about version numbers)
manifest = f"flavor: sklearn\\nmodel_module: m{index}\\nmodel_class: C\\nfiles: {{}}\\n"
client.log_text(run_id, manifest, "model/model.yaml")
open(f"{go}.ready{index}", "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("timed out waiting for the go file")
    time.sleep(0.002)
for _ in range(count):
    version = client.register_model(f"runs:/{run_id}/model", sys.argv[4])
    print(run_id, version.version, flush=True)
client.set_terminated(run_id)
"""


def _child_env(uri: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    env["TUNETRACK_TRACKING_URI"] = uri
    env["TUNETRACK_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    return env


def _prepare(uri: str, tmp_path: Path) -> None:
    """Create the schema and the experiment up front: the race is about versions."""
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri, default_artifact_root=str(tmp_path / "artifacts"))
    try:
        store.create_experiment("race")
    finally:
        store.close()


def _race(uri: str, tmp_path: Path, processes: int) -> list[tuple[int, str, str]]:
    script = tmp_path / "register.py"
    script.write_text(REGISTER_SCRIPT)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), str(VERSIONS_EACH), str(go), MODEL],
            cwd=tmp_path,
            env=_child_env(uri, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    results = []
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not all(Path(f"{go}.ready{i}").exists() for i in range(processes)):
            early = [p for p in procs if p.poll() is not None]
            if early:
                _, err = early[0].communicate()
                pytest.fail(f"a child exited before the barrier ({early[0].returncode}): {err}")
            assert time.monotonic() < deadline, "the children never reached the barrier"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            left = max(1.0, deadline - time.monotonic())
            out, err = proc.communicate(timeout=left)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return results


def _stored_versions(uri: str) -> list[tuple[int, str]]:
    engine = sa.create_engine(uri, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT version, run_id FROM model_versions WHERE name = :n"), {"n": MODEL}
            )
            return sorted((int(v), r) for v, r in rows)
    finally:
        engine.dispose()


def _check(uri: str, results: list[tuple[int, str, str]]) -> None:
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err, err
    processes = len(results)
    total = processes * VERSIONS_EACH
    reported = [tuple(line.split()) for _, out, _ in results for line in out.splitlines()]
    assert len(reported) == total, "some register_model call printed nothing"
    reported_numbers = sorted(int(number) for _, number in reported)
    assert reported_numbers == list(range(1, total + 1)), "duplicate or skipped version numbers"
    stored = _stored_versions(uri)
    assert [v for v, _ in stored] == list(range(1, total + 1)), "gaps or duplicates in the store"
    assert sorted((int(n), r) for r, n in reported) == stored, "a version's run_id was mixed up"
    per_run: dict[str, int] = {}
    for _, run_id in stored:
        per_run[run_id] = per_run.get(run_id, 0) + 1
    assert sorted(per_run.values()) == [VERSIONS_EACH] * processes, "a process lost versions"

    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri)
    try:
        assert store.get_registered_model(MODEL).latest_version == total
        assert store.get_latest_version(MODEL).version == total
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_register_on_sqlite(tmp_path: Path, processes: int) -> None:
    uri = f"sqlite:///{tmp_path}/race.db"
    _prepare(uri, tmp_path)
    _check(uri, _race(uri, tmp_path, processes))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_register_on_postgres(
    tmp_path: Path, fresh_postgres_uri: str, processes: int
) -> None:
    _prepare(fresh_postgres_uri, tmp_path)
    _check(fresh_postgres_uri, _race(fresh_postgres_uri, tmp_path, processes))
