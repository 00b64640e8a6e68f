"""TCP proxies for tests that lose answers: the server carries a request out, the client
never hears so (as when the connection drops or the server dies before it answers)."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class LosingPipe:
    """A TCP proxy on 127.0.0.1 in front of ``target`` that passes every request on and,
    where a subclass says so, drops the connection instead of passing an answer on.

    A subclass sees each chunk a client sends in :meth:`request` and decides in :meth:`lose`
    whether the answer that ``data`` begins or continues is lost; ``state`` is a dict of
    its own per connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def request(self, data: bytes, state: dict[str, Any]) -> None:
        """A chunk the client sent on a connection (before it is passed on)."""

    def lose(self, data: bytes, state: dict[str, Any]) -> bool:
        """Whether to drop the connection instead of passing on this chunk of an answer."""
        return False

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                server = socket.create_connection(self._target)
                self._sockets += [client, server]
                state: dict[str, Any] = {}
                threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
                threading.Thread(
                    target=self._down, args=(server, client, state), daemon=True
                ).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                self.request(data, state)
                server.sendall(data)

    def _down(self, server: socket.socket, client: socket.socket, state: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if self.lose(data, state):
                    break
                client.sendall(data)
        for sock in (client, server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class AnswerDropper(LosingPipe):
    """A proxy in front of a tunetrack server on ``port`` that drops the answer to the first
    request of each kind (method and API path) and to every ``nth`` request."""

    def __init__(self, port: int, nth: int) -> None:
        self.nth = nth
        self.answers = 0
        self.dropped: list[str] = []  # the kind of each request whose answer was lost
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port))

    def request(self, data: bytes, state: dict[str, Any]) -> None:
        if data.startswith((b"GET /api/", b"POST /api/", b"PUT /api/")):
            method, target = data.split(b" ", 2)[:2]
            path = target.split(b"?")[0].decode()
            if path.startswith("/api/artifacts/"):
                path = "/api/artifacts"
            state["kind"] = f"{method.decode()} {path}"
        kind = state.get("kind", "")
        if b'"metrics":[{' in data and not kind.endswith(" metrics"):
            state["kind"] = kind + " metrics"  # a log-batch with metric points: another kind

    def lose(self, data: bytes, state: dict[str, Any]) -> bool:
        if not data.startswith(b"HTTP/1.1 "):  # not the start of an answer (no pipelining)
            return False
        kind = state.get("kind", "")
        with self._lock:
            self.answers += 1
            drop = kind not in self.dropped or self.answers % self.nth == 0
            if drop:
                self.dropped.append(kind)
        return drop
