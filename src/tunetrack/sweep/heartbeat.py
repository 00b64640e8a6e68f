"""The orchestrator's heartbeat on its sweep's parent run, and resume's check of it.

While a sweep runs, a background thread writes the time (epoch ms) to the parent run's
``tunetrack.sweep.heartbeat`` tag every few seconds, beside ``tunetrack.sweep.orchestrator``
(host and pid). ``resume`` refuses a RUNNING sweep whose last beat is younger than a
timeout: its orchestrator looks alive, and resuming would fail its running trials.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

from tunetrack._clock import now_ms
from tunetrack.errors import Conflict, InvalidInput
from tunetrack.sweep import tags as T

if TYPE_CHECKING:  # the CLI imports TIMEOUT_S: keep this module light
    from tunetrack.entities import Run
    from tunetrack.tracking.client import Client

INTERVAL_S = 5.0  # one tag write every 5 s: nothing next to a sweep's own writes
TIMEOUT_S = 30.0  # resume's default: six missed beats

_log = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(client, sweep_id):`` beats on the parent run until the block ends."""

    def __init__(self, client: Client, sweep_id: str, interval: float = INTERVAL_S) -> None:
        self._client = client
        self._sweep_id = sweep_id
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tunetrack-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        identity = f"{socket.gethostname()} pid {os.getpid()}"
        self._client.set_tag(self._sweep_id, T.SWEEP_ORCHESTRATOR, identity)
        self._beat()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._beat()
            except Exception as error:  # a missed beat must not stop the sweep
                _log.warning("sweep %s: heartbeat not written: %s", self._sweep_id, error)

    def _beat(self) -> None:
        self._client.set_tag(self._sweep_id, T.SWEEP_HEARTBEAT, str(now_ms()))


def check_orchestrator_gone(parent: Run, timeout: float = TIMEOUT_S) -> None:
    """Raise :class:`Conflict` if the sweep ``parent`` is RUNNING and its orchestrator beat
    less than ``timeout`` seconds ago. A sweep that ended (any terminal status) or never
    beat (written by an older tunetrack) passes."""
    if timeout < 0:
        raise InvalidInput(f"the heartbeat timeout must be >= 0 seconds, got {timeout}")
    if parent.info.status.is_terminal:
        return
    try:
        last_ms = int(parent.data.tags[T.SWEEP_HEARTBEAT])
    except (KeyError, ValueError):
        return
    age = time.time() - last_ms / 1000
    if age >= timeout:
        return
    who = parent.data.tags.get(T.SWEEP_ORCHESTRATOR, "an unknown process")
    at = datetime.fromtimestamp(last_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    raise Conflict(
        f"sweep {parent.info.run_id} looks alive: its orchestrator ({who}) last beat "
        f"{max(age, 0.0):.1f} s ago at {at}, within the {timeout:g} s timeout; resuming now "
        "would fail its running trials. Stop it or wait, or pass --force (force=True) "
        "to resume anyway"
    )
