"""Tracking servers for the store suite, started in a fraction of a second each.

As a script, ``python tests/rest_servers.py`` imports the server once and then, for every line
``<sqlite file>\\t<artifacts dir>`` on stdin, forks a real uvicorn process serving
:func:`tunetrack.server.app.create_app` over that store, on a socket it has bound to a free
port of 127.0.0.1, and answers ``<pid> <port>``. A fresh server per test costs a fork and a
schema instead of an interpreter start and every import (about a second).
:class:`RestServers` runs that script and asks it for servers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _serve(sock: socket.socket, db_path: str, artifacts: str) -> None:
    import uvicorn

    from tunetrack.server.app import create_app

    app = create_app(f"sqlite:///{db_path}", artifacts)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def _warm_up() -> None:
    """Import everything a server loads (uvicorn's protocols, the SQL store, alembic) once,
    before forking, by building an app over a throwaway store."""
    import tempfile

    import uvicorn

    from tunetrack.server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(f"sqlite:///{tmp}/warm.db", tmp)
        uvicorn.Config(app).load()
        app.state.store.close()


def main() -> None:
    """Fork one server per request line until stdin closes."""
    _warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the servers
    for line in sys.stdin:
        db_path, artifacts = line.rstrip("\n").split("\t")
        # proto IPPROTO_TCP, as uvicorn's own sockets: asyncio then sets TCP_NODELAY on
        # each connection (without it every response waits ~40 ms for a delayed ACK)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        pid = os.fork()
        if pid == 0:
            os.dup2(2, 1)  # the server's output must not reach the answers pipe
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _serve(sock, db_path, artifacts)
            finally:
                os._exit(0)
        sock.close()
        sys.stdout.write(f"{pid} {port}\n")
        sys.stdout.flush()


class RestServers:
    """Fresh ``tunetrack server`` processes on 127.0.0.1, forked by tests/rest_servers.py."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("rest_servers.py")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNETRACK_")}
        self._zygote = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._http = httpx.Client(timeout=5)

    def start(self, db_path: Path, artifacts: Path) -> tuple[str, int]:
        """A new server over a new SQLite store: its URL and process id, once it answers."""
        assert self._zygote.stdin is not None
        assert self._zygote.stdout is not None
        self._zygote.stdin.write(f"{db_path}\t{artifacts}\n")
        self._zygote.stdin.flush()
        answer = self._zygote.stdout.readline()
        if not answer:
            pytest.fail(f"the server forker exited with {self._zygote.wait()}")
        pid, port = map(int, answer.split())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if self._http.get(f"{url}/health").status_code == 200:
                    return url, pid
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not _alive(pid):
                pytest.fail(f"the tracking server for {db_path} did not start (see stderr)")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop forking servers."""
        assert self._zygote.stdin is not None
        self._http.close()
        self._zygote.stdin.close()
        self._zygote.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_server(pid: int) -> None:
    """Kill a server process and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.005)


if __name__ == "__main__":
    main()
