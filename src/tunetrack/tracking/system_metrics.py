"""System metrics: the machine's CPU, memory, disk and network as a run's ``system/*`` metrics.

On for a run with ``start_run(log_system_metrics=True)``, for every run with
``$TUNETRACK_LOG_SYSTEM_METRICS=1`` or :func:`enable_system_metrics_logging`. One daemon
thread per run samples with psutil's non-blocking calls every
``$TUNETRACK_SYSTEM_METRICS_INTERVAL`` seconds (10 by default, or
:func:`set_system_metrics_sampling_interval`) and logs each sample at step = sample index
through the batched writer. Percentages are 0-100; disk and network traffic are megabytes
since the sampler started. psutil is imported when the first sampler starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tunetrack._clock import now_ms
from tunetrack.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from tunetrack.tracking.client import Client

ENABLE_ENV = "TUNETRACK_LOG_SYSTEM_METRICS"
INTERVAL_ENV = "TUNETRACK_SYSTEM_METRICS_INTERVAL"
DEFAULT_INTERVAL = 10.0
THREAD_NAME = "tunetrack-system-metrics"
CPU = "system/cpu_utilization_percentage"
_MB = 1024 * 1024

_enabled: bool | None = None  # set by enable/disable_system_metrics_logging
_interval: float | None = None  # set by set_system_metrics_sampling_interval


def enable_system_metrics_logging() -> None:
    """Sample system metrics for every run started from now on (unless it says otherwise)."""
    global _enabled
    _enabled = True


def disable_system_metrics_logging() -> None:
    """Sample system metrics only for runs started with ``log_system_metrics=True``."""
    global _enabled
    _enabled = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between samples of samplers started from now on (None: the environment's,
    else 10)."""
    global _interval
    _interval = None if interval is None else _positive(interval, "the sampling interval")


def is_enabled(requested: bool | None = None) -> bool:
    """Whether a run samples system metrics: ``requested`` if given, else what
    enable/disable_system_metrics_logging said, else ``$TUNETRACK_LOG_SYSTEM_METRICS``."""
    if requested is not None:
        return requested
    if _enabled is not None:
        return _enabled
    return os.environ.get(ENABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def sampling_interval() -> float:
    """Seconds between samples (set_system_metrics_sampling_interval, the environment, 10)."""
    if _interval is not None:
        return _interval
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        return _positive(float(raw), f"${INTERVAL_ENV}")
    except (ValueError, InvalidInput):
        raise ConfigError(
            f"${INTERVAL_ENV} must be a positive number of seconds, got {raw!r}"
        ) from None


def _positive(value: float, what: str) -> float:
    if not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise InvalidInput(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


class _Probe:
    """Reads the machine through psutil; traffic counts from the probe's creation."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        psutil.cpu_percent(None)  # the first call only starts the measurement
        self._disk0 = psutil.disk_io_counters()
        self._net0 = psutil.net_io_counters()

    def sample(self) -> dict[str, float]:
        ps = self._psutil
        memory = ps.virtual_memory()
        values = {
            CPU: ps.cpu_percent(None),  # since the previous sample, all CPUs
            "system/system_memory_usage_megabytes": memory.used / _MB,
            "system/system_memory_usage_percentage": memory.percent,
            "system/disk_usage_percentage": ps.disk_usage(os.sep).percent,
        }
        disk, disk0 = ps.disk_io_counters(), self._disk0
        if disk is not None and disk0 is not None:
            values["system/disk_read_megabytes"] = (disk.read_bytes - disk0.read_bytes) / _MB
            values["system/disk_write_megabytes"] = (disk.write_bytes - disk0.write_bytes) / _MB
        net, net0 = ps.net_io_counters(), self._net0
        if net is not None and net0 is not None:
            values["system/network_receive_megabytes"] = (net.bytes_recv - net0.bytes_recv) / _MB
            values["system/network_transmit_megabytes"] = (net.bytes_sent - net0.bytes_sent) / _MB
        return values


class SystemMetricsSampler:
    """A daemon thread logging system metrics into one run until :meth:`stop`.

    Steps continue after the run's earlier samples, so a resumed run keeps one series.
    """

    def __init__(self, client: Client, run_id: str, interval: float | None = None) -> None:
        import psutil  # noqa: F401  (a missing psutil fails here, in the caller's thread)

        self.client = client
        self.run_id = run_id
        self.interval = sampling_interval() if interval is None else _positive(interval, "interval")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; returns once the thread logs nothing more."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        # Like the writer's thread: leave SIGTERM and SIGINT to the main thread.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            probe = _Probe()
            earlier = self.client.get_metric_history(self.run_id, CPU)
            step = 1 + max((m.step for m in earlier), default=-1)
            while not self._stop.wait(self.interval):
                timestamp = now_ms()
                for key, value in probe.sample().items():
                    self.client.log_metric(self.run_id, key, value, timestamp, step)
                step += 1
        except Exception as exc:  # the run was deleted, the store is gone: stop, say why
            warnings.warn(
                f"tunetrack: system metrics of run {self.run_id} stopped: {exc}",
                RuntimeWarning,
                stacklevel=1,
            )


def start_sampler(
    client: Client, run_id: str, requested: bool | None = None
) -> SystemMetricsSampler | None:
    """A sampler for ``run_id`` if system metrics are on for it (see :func:`is_enabled`)."""
    return SystemMetricsSampler(client, run_id) if is_enabled(requested) else None


@contextlib.contextmanager
def system_metrics(
    client: Client, run_id: str, requested: bool | None = None
) -> Iterator[SystemMetricsSampler | None]:
    """Sample system metrics into ``run_id`` for the block, if they are on."""
    sampler = start_sampler(client, run_id, requested)
    try:
        yield sampler
    finally:
        if sampler is not None:
            sampler.stop()
