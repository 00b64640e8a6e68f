"""A TCP proxy for tests that loses answers: the server carries a request out, the client
never hears so (as when the connection drops or the server dies before it answers)."""

from __future__ import annotations

import contextlib
import socket
import threading


class AnswerDropper:
    """A TCP proxy in front of a server that passes every request on, and drops the
    connection instead of passing on the answer to the first request of each kind (method
    and API path) and to every ``nth`` request: the server carried the request out, the
    client never hears so."""

    def __init__(self, port: int, nth: int) -> None:
        self.port = port
        self.nth = nth
        self.answers = 0
        self.dropped: list[str] = []  # the kind of each request whose answer was lost
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                server = socket.create_connection(("127.0.0.1", self.port))
                last = [""]  # the kind of the request on this connection
                threading.Thread(target=self._up, args=(client, server, last), daemon=True).start()
                threading.Thread(
                    target=self._down, args=(server, client, last), daemon=True
                ).start()

    @staticmethod
    def _up(client: socket.socket, server: socket.socket, last: list[str]) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if data.startswith((b"GET /api/", b"POST /api/", b"PUT /api/")):
                    method, target = data.split(b" ", 2)[:2]
                    path = target.split(b"?")[0].decode()
                    if path.startswith("/api/artifacts/"):
                        path = "/api/artifacts"
                    last[0] = f"{method.decode()} {path}"
                if b'"metrics":[{' in data and not last[0].endswith(" metrics"):
                    last[0] += " metrics"  # a log-batch with metric points: another kind
                server.sendall(data)

    def _down(self, server: socket.socket, client: socket.socket, last: list[str]) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if data.startswith(b"HTTP/1.1 "):  # an answer begins (no pipelining)
                    with self._lock:
                        self.answers += 1
                        drop = last[0] not in self.dropped or self.answers % self.nth == 0
                        if drop:
                            self.dropped.append(last[0])
                    if drop:
                        break
                client.sendall(data)
        for sock in (client, server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._listener.close()
