"""A real store for the UI tests and ``tunetrack ui`` serving it in a real process.

:func:`fill_store` runs a small real sweep (``sweeps/iris_rf.yaml``, 6 trials, retrained
and registered) through the CLI and logs a few synthetic runs through the Python API: one
named like a script, with an HTML artifact carrying a script, a step metric with a spike
and artifacts of every previewed kind. :func:`serve_ui` starts ``tunetrack ui`` over it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
XSS_NAME = "<script>window.__xss = 1</script>"
HTML_ARTIFACT = (
    "<html><body><script>parent.__xss = 2; window.__ran = 1</script><p>report</p></body></html>"
)
SPIKE_STEP = 1234
STEPS = 5000


@dataclass(frozen=True)
class UiStore:
    """What the tests look up in the filled store."""

    uri: str
    sweep_id: str
    iris_experiment: str
    synthetic_experiment: str
    xss_run: str
    plain_runs: tuple[str, ...]
    model_name: str


def _tunetrack(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("tunetrack")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "tunetrack.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
    return subprocess.run(
        [*argv, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _synthetic_runs(uri: str) -> tuple[str, tuple[str, ...]]:
    from PIL import Image

    import tunetrack

    tunetrack.set_tracking_uri(uri)
    tunetrack.set_experiment("synthetic")
    ids = []
    for i in range(4):
        name = XSS_NAME if i == 0 else f"plain-{i}"
        with tunetrack.start_run(run_name=name) as run:
            tunetrack.log_params({"lr": 10.0 ** -(i + 1), "model": "rf" if i % 2 else "<b>xgb</b>"})
            for step in range(STEPS):
                value = math.exp(-step / 800) + (50.0 if step == SPIKE_STEP else 0.0)
                tunetrack.log_metric("loss", value, step=step)
            tunetrack.log_metric("accuracy", 0.7 + 0.05 * i)
            tunetrack.set_tag("note", "<img src=x onerror=alert(1)>")
            tunetrack.log_text(HTML_ARTIFACT, "report.html")
            tunetrack.log_dict({"layers": [64, 32], "name": "<x>"}, "config.json")
            tunetrack.log_text("fold,score\n1,0.9\n2,<i>0.8</i>\n", "scores.csv")
            tunetrack.log_image(Image.new("RGB", (8, 8), (200, 30, 30)), "red.png")
            ids.append(run.info.run_id)
    from tunetrack.tracking import fluent

    tunetrack.set_tracking_uri(None)
    fluent._experiment_id = None  # the next test module starts with no active experiment
    return ids[0], tuple(ids[1:])


def fill_store(root: Path) -> UiStore:
    """A SQLite store in ``root`` with a real sweep and synthetic runs."""
    shutil.copytree(REPO / "sweeps", root / "sweeps")
    uri = f"sqlite:///{root}/ui.db"
    done = _tunetrack(
        "sweep", "run", "sweeps/iris_rf.yaml", "--tracking-uri", uri,
        "--set", "budget.trials=6", "--set", "retrain.register_as=iris-ui",
        "--set", "retrain.alias=champion", cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from tunetrack.store.sql.store import SqlStore

    store = SqlStore(uri)
    try:
        iris = store.get_experiment_by_name("iris")
        assert iris is not None
        (sweep,) = store.search_runs([iris.experiment_id], "tags.`tunetrack.run_type` = 'sweep'")
    finally:
        store.close()
    xss, plain = _synthetic_runs(uri)
    store = SqlStore(uri)
    try:
        synthetic = store.get_experiment_by_name("synthetic")
        assert synthetic is not None
    finally:
        store.close()
    return UiStore(
        uri, sweep.info.run_id, iris.experiment_id, synthetic.experiment_id, xss, plain, "iris-ui"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_ui(uri: str, cwd: Path) -> Iterator[str]:
    """``tunetrack ui`` over ``uri`` on a free port of 127.0.0.1; yields its base URL."""
    import httpx

    port = _free_port()
    script = Path(sys.executable).with_name("tunetrack")
    log = (cwd / f"ui-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(script), "ui", "--backend-store-uri", uri, "--port", str(port)],
        cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/static/ui/ui.css", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"tunetrack ui did not start: {(cwd / log.name).read_text()}"
                    ) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
