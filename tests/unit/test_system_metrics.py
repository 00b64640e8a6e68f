"""System metrics: a sampler thread per run logs ``system/*`` step metrics until it ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tunetrack
from tunetrack import Client
from tunetrack.entities import Metric, RunStatus
from tunetrack.errors import ConfigError, InvalidInput
from tunetrack.tracking import system_metrics as sm

PERCENTAGES = (
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
)
MEGABYTES = (
    "system/system_memory_usage_megabytes",
    "system/disk_read_megabytes",
    "system/disk_write_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
)


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample every 0.2 s; the environment and the module's settings restored afterwards."""
    monkeypatch.delenv(sm.ENABLE_ENV, raising=False)
    monkeypatch.delenv(sm.INTERVAL_ENV, raising=False)
    monkeypatch.setattr(sm, "_enabled", None)
    monkeypatch.setattr(sm, "_interval", None)
    tunetrack.set_system_metrics_sampling_interval(0.2)


def system_series(run_id: str) -> dict[str, list[Metric]]:
    """Every ``system/*`` metric of the run, as its full history."""
    client = Client()
    keys = [k for k in client.get_run(run_id).data.metrics if k.startswith("system/")]
    return {key: client.get_metric_history(run_id, key) for key in keys}


def samplers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == sm.THREAD_NAME]


def run_for(seconds: float, **start_run_args: object) -> str:
    with tunetrack.start_run(**start_run_args) as run:
        time.sleep(seconds)
    return run.info.run_id


def check_plausible(series: dict[str, list[Metric]], min_samples: int) -> None:
    """Every metric has samples at steps 0, 1, 2... with values in their range."""
    assert set(PERCENTAGES) | {"system/system_memory_usage_megabytes"} <= set(series)
    assert set(series) <= set(PERCENTAGES) | set(MEGABYTES)
    steps = [m.step for m in series["system/cpu_utilization_percentage"]]
    assert len(steps) >= min_samples
    assert steps == list(range(len(steps)))
    for key, points in series.items():
        assert [m.step for m in points] == steps, key  # each sample logs every metric
        values = [m.value for m in points]
        if key in PERCENTAGES:
            assert all(0.0 <= v <= 100.0 for v in values), (key, values)
        else:
            assert all(v >= 0.0 for v in values), (key, values)
    assert all(m.value > 0 for m in series["system/system_memory_usage_megabytes"])


def test_log_system_metrics_samples_the_machine_at_consecutive_steps() -> None:
    run_id = run_for(1.5, log_system_metrics=True)
    check_plausible(system_series(run_id), min_samples=3)


def test_a_run_without_the_sampler_has_no_system_metrics() -> None:
    run_id = run_for(1.0)
    assert system_series(run_id) == {}
    assert samplers_alive() == []


def test_the_environment_turns_sampling_on_and_start_run_can_say_no(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(sm.ENABLE_ENV, "1")
    monkeypatch.setenv(sm.INTERVAL_ENV, "0.2")
    tunetrack.set_system_metrics_sampling_interval(None)  # the environment's interval
    check_plausible(system_series(run_for(1.0)), min_samples=2)
    assert system_series(run_for(1.0, log_system_metrics=False)) == {}


def test_enable_and_disable_apply_to_runs_started_afterwards() -> None:
    tunetrack.enable_system_metrics_logging()
    check_plausible(system_series(run_for(1.0)), min_samples=2)
    tunetrack.disable_system_metrics_logging()
    assert system_series(run_for(1.0)) == {}


def test_the_sampler_stops_with_its_run() -> None:
    run_id = run_for(1.0, log_system_metrics=True)
    assert samplers_alive() == []
    logged = len(system_series(run_id)["system/cpu_utilization_percentage"])
    time.sleep(0.6)  # three intervals after the end
    assert len(system_series(run_id)["system/cpu_utilization_percentage"]) == logged


def test_a_resumed_run_continues_its_series() -> None:
    run_id = run_for(0.7, log_system_metrics=True)
    first = len(system_series(run_id)["system/cpu_utilization_percentage"])
    run_for(0.7, run_id=run_id, log_system_metrics=True)
    steps = [m.step for m in system_series(run_id)["system/cpu_utilization_percentage"]]
    assert len(steps) > first
    assert steps == list(range(len(steps)))


def test_sampling_intervals_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (0, -1.0, float("nan"), "10"):
        with pytest.raises(InvalidInput, match="positive number of seconds"):
            tunetrack.set_system_metrics_sampling_interval(bad)  # type: ignore[arg-type]
    tunetrack.set_system_metrics_sampling_interval(None)
    monkeypatch.setenv(sm.INTERVAL_ENV, "ten")
    with pytest.raises(ConfigError, match=sm.INTERVAL_ENV):
        tunetrack.start_run(log_system_metrics=True)
    assert tunetrack.active_run() is None


SIGTERM_SCRIPT = """
import os, signal, sys, time
import tunetrack
tunetrack.set_tracking_uri({uri!r})
tunetrack.set_system_metrics_sampling_interval(0.1)
run = tunetrack.start_run(log_system_metrics=True)
print(run.info.run_id, flush=True)
time.sleep(1.0)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(60)  # the handler ends the run KILLED and exits long before
"""


def test_sigterm_ends_the_run_and_its_sampler(tracking_uri: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SIGTERM_SCRIPT.format(uri=tracking_uri))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 143, proc.stderr
    run_id = proc.stdout.strip()
    assert tunetrack.get_run(run_id).info.status == RunStatus.KILLED
    check_plausible(system_series(run_id), min_samples=3)


@pytest.mark.slow
def test_default_settings_sample_a_25_second_run_every_10_seconds() -> None:
    tunetrack.set_system_metrics_sampling_interval(None)  # the default: 10 s
    run_id = run_for(25.5, log_system_metrics=True)
    check_plausible(system_series(run_id), min_samples=2)  # at 10 s and 20 s
