"""HTTP to a tunetrack server: a pooled httpx client, retries with backoff, and the server's
JSON errors raised again as the same tunetrack exceptions.

A request that never reached the server (connection refused, connect timeout) is retried
with jittered exponential backoff until ``retry_for`` seconds have passed; so is an
idempotent request that failed after it was sent (connection reset, read timeout) or was
answered 502/503/504 by a proxy. A request that may have been carried out and must not be
repeated is not retried once sent: :class:`ServerUnreachable` says so; unless a repeat is
recognisable (``done_if``): a delete repeated says NotFound, a create Conflict, and then
:class:`DoneBefore` tells the caller that the lost first attempt did the work.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import httpx

from tunetrack.errors import StoreError, TunetrackError, error_from_dict

_RETRY_STATUSES = frozenset({502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 2.0


class BodyStream(Protocol):
    """A request body streamed in chunks: a file, closed after the attempt when it has
    ``close``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def __iter__(self) -> Iterator[bytes]: ...


#: A request body: JSON-able data, raw bytes, or a callable opening a fresh stream per attempt.
Content = bytes | Callable[[], BodyStream]


class ServerUnreachable(StoreError):
    """The server gave no answer (after retrying where that was safe)."""


class DoneBefore(StoreError):
    """A request resent after its answer was lost was refused as done already (``error``)."""

    def __init__(self, error: TunetrackError) -> None:
        super().__init__(str(error))
        self.error = error


def encode_json(data: Any) -> bytes:
    """A request body as compact JSON (non-finite floats as the tokens NaN/Infinity)."""
    return json.dumps(data, separators=(",", ":")).encode()


def credentials_headers() -> dict[str, str]:
    """The Authorization header for a ``tunetrack server --auth``: a Bearer token from
    ``TUNETRACK_TRACKING_TOKEN``, else Basic from ``TUNETRACK_TRACKING_USERNAME/PASSWORD``."""
    token = os.environ.get("TUNETRACK_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("TUNETRACK_TRACKING_USERNAME")
    if user:
        password = os.environ.get("TUNETRACK_TRACKING_PASSWORD", "")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {}


class HttpSession:
    """Requests to one tunetrack server, through one connection pool per process."""

    def __init__(self, base_url: str, *, timeout: float = 60.0, retry_for: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_for = retry_for
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = os.getpid()

    def _http(self) -> httpx.Client:
        """The pooled client; a forked child makes its own (the parent's sockets stay its)."""
        client = self._client
        if client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = httpx.Client(
                        base_url=self.base_url,
                        timeout=self._timeout,
                        headers={"User-Agent": "tunetrack", **credentials_headers()},
                        follow_redirects=False,
                        # plain http needs no certificates (loading them costs ~20 ms)
                        verify=self.base_url.startswith("https:"),
                    )
                    self._pid = os.getpid()
                client = self._client
        return client

    def close(self) -> None:
        """Close the pooled connections (a later request opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: Content | None = None,
        idempotent: bool,
        stream: bool = False,
        done_if: type[TunetrackError] | None = None,
    ) -> httpx.Response:
        """Send a request and return its successful response (the caller closes a
        ``stream=True`` one); an error response raises the tunetrack error it carries.

        ``done_if`` retries a request that is not idempotent like one that is; when a resent
        request is refused with that error, :class:`DoneBefore` is raised instead.
        """
        headers = {}
        if json_body is not None:
            content = encode_json(json_body)
            headers["Content-Type"] = "application/json"
        deadline = time.monotonic() + self.retry_for
        delay = _FIRST_DELAY_S
        resent = False  # an earlier attempt reached the server and its answer was lost
        while True:
            body = content() if callable(content) else content
            try:
                request = self._http().build_request(
                    method, path, params=params, content=body, headers=headers
                )
                response = self._http().send(request, stream=stream)
            except httpx.TransportError as exc:
                retry = isinstance(exc, _NOT_SENT) or idempotent or done_if is not None
                resent = resent or not isinstance(exc, _NOT_SENT)
                if not retry or time.monotonic() + delay > deadline:
                    raise ServerUnreachable(
                        f"no answer from the tunetrack server at {self.base_url} to "
                        f"{method} {path}: {type(exc).__name__}: {exc or 'connection lost'}"
                    ) from exc
            else:
                retry = response.status_code in _RETRY_STATUSES and idempotent
                if not retry or time.monotonic() + delay > deadline:
                    if response.status_code >= 400:
                        error = self._error(response, method, path)
                        if resent and done_if is not None and isinstance(error, done_if):
                            raise DoneBefore(error)
                        raise error
                    return response
                response.close()
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            time.sleep(delay * (0.5 + random.random()))
            delay = min(_MAX_DELAY_S, delay * 2)

    def _error(self, response: httpx.Response, method: str, path: str) -> TunetrackError:
        try:
            raw = response.read()
        except httpx.HTTPError:
            raw = b""
        finally:
            response.close()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        text = raw[:200].decode(errors="replace")
        fallback = f"HTTP {response.status_code} from {method} {self.base_url}{path}: {text}"
        return error_from_dict(data, fallback)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        done_if: type[TunetrackError] | None = None,
    ) -> bytes:
        """The body of a successful JSON API call (``done_if`` as in :meth:`request`)."""
        response = self.request(
            method, path, params=params, json_body=json_body, idempotent=idempotent, done_if=done_if
        )
        return response.content
