"""Shared pieces of the integration tests: autolog isolation, the CLI as a real process, model
and tracking servers as real processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STARTUP_S = 90
REQUEST_S = 30


@pytest.fixture
def autolog_tracking(isolated_tracking: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store in ``tmp_path``, testing mode on, autolog off afterwards."""
    from tunetrack.autologging import autolog

    monkeypatch.setenv("TUNETRACK_AUTOLOG_TESTING", "true")
    try:
        yield isolated_tracking
    finally:
        autolog(disable=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each SQL backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/schema.db"
    return request.getfixturevalue("fresh_postgres_uri")


def _tunetrack_argv() -> list[str]:
    """The argv prefix that runs the ``tunetrack`` command of this environment."""
    script = Path(sys.executable).with_name("tunetrack")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tunetrack.cli import main; main()"]


def _cli_env() -> dict[str, str]:
    """This process's environment without any TUNETRACK_* setting (the CLI gets flags)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}


RunTunetrack = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def run_tunetrack() -> RunTunetrack:
    """``run_tunetrack(*args, cwd=dir, env=None)``: the ``tunetrack`` CLI in a real process,
    to the end, with stdout and stderr captured apart (text); ``env`` adds variables."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_tunetrack_argv(), *args],
            capture_output=True,
            text=True,
            env={**_cli_env(), **(env or {})},
            cwd=cwd,
            timeout=600,
        )

    return run


@dataclass
class ModelServer:
    """A running ``tunetrack models serve``: its URL, process and output files."""

    url: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def post(self, body: Any = None, content: bytes | None = None) -> Any:
        """POST /invocations with a JSON ``body`` or raw ``content``."""
        import httpx

        if content is not None:
            return httpx.post(
                f"{self.url}/invocations",
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=REQUEST_S,
            )
        return httpx.post(f"{self.url}/invocations", json=body, timeout=REQUEST_S)

    def health(self) -> dict[str, Any]:
        """The JSON of GET /health."""
        import httpx

        return httpx.get(f"{self.url}/health", timeout=REQUEST_S).json()

    def output(self) -> str:
        """What the process printed so far (for failure messages)."""
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ServeModel = Callable[..., AbstractContextManager[ModelServer]]


@pytest.fixture(scope="session")
def serve_model() -> ServeModel:
    """``serve_model(tracking_uri, model_uri, out_dir, *flags)``: a context manager running
    ``tunetrack models serve`` on a free port until ``/health`` answers, stopped after."""

    @contextlib.contextmanager
    def serve(
        tracking_uri: str, model_uri: str, out_dir: Path, *flags: str
    ) -> Iterator[ModelServer]:
        port = _free_port()
        args = ["models", "serve", model_uri, "--port", str(port), *flags]
        stdout, stderr = out_dir / "server.out", out_dir / "server.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [*_tunetrack_argv(), *args, "--tracking-uri", tracking_uri],
                stdout=out,
                stderr=err,
                env=_cli_env(),
                cwd=out_dir,
            )
        server = ModelServer(f"http://127.0.0.1:{port}", proc, stdout, stderr)
        try:
            _wait_healthy(server.url, proc, server.output)
            yield server
        finally:
            _stop(proc)

    return serve


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], output: Callable[[], str]) -> None:
    """Wait until ``url/health`` answers 200; fail with the output if the process exits."""
    import httpx

    deadline = time.monotonic() + STARTUP_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{output()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server not healthy after {STARTUP_S}s:\n{output()}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@dataclass
class TrackingServer:
    """A running ``tunetrack server``: its URL, port, process and output files."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        """What the process printed so far (for failure messages)."""
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"

    def kill(self) -> None:
        """End it at once with SIGKILL, as a crash would (no shutdown)."""
        self.proc.kill()
        self.proc.wait(timeout=15)


StartServer = Callable[..., TrackingServer]


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start(*flags, port=None)``: a ``tunetrack server`` process on 127.0.0.1 over
    ``tmp_path/server.db``, artifacts in ``tmp_path/server-artifacts`` (``flags`` come after
    these and override them), its working directory ``tmp_path/server-cwd``; returned once
    ``/health`` answers. Every server started is stopped after the test."""
    started: list[TrackingServer] = []
    cwd = tmp_path / "server-cwd"
    cwd.mkdir(exist_ok=True)

    def start(*flags: str, port: int | None = None) -> TrackingServer:
        port = port or _free_port()
        store = ["--backend-store-uri", f"sqlite:///{tmp_path}/server.db"]
        artifacts = ["--artifacts-destination", str(tmp_path / "server-artifacts")]
        args = ["server", "--port", str(port), *store, *artifacts, *flags]
        stdout, stderr = cwd / f"server{len(started)}.out", cwd / f"server{len(started)}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [*_tunetrack_argv(), *args], stdout=out, stderr=err, env=_cli_env(), cwd=cwd
            )
        server = TrackingServer(f"http://127.0.0.1:{port}", port, proc, stdout, stderr)
        started.append(server)
        _wait_healthy(server.url, proc, server.output)
        return server

    try:
        yield start
    finally:
        for server in started:
            _stop(server.proc)
