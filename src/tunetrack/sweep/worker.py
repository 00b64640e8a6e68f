"""What runs inside a worker for one trial: activate its run, call the objective, record."""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Literal

from tunetrack._clock import now_ms
from tunetrack.entities import LifecycleStage, Metric, Run, RunStatus
from tunetrack.errors import InvalidInput, TunetrackError
from tunetrack.sweep.config import Autolog, ObjectiveRef
from tunetrack.sweep.goals import Goal
from tunetrack.sweep.objective import load_objective, wants_trial
from tunetrack.sweep.space import Distribution
from tunetrack.sweep.strategies import TrialHandle
from tunetrack.sweep.trial import Pruner, Suggester, Trial, is_pruned, take_returned_model

TrialState = Literal["complete", "pruned", "failed"]
ERROR_TAG = "tunetrack.trial.error"
RUN_DELETED = "its run was deleted while the trial ran"  # the error of such a trial
_STATUS = {"complete": RunStatus.FINISHED, "pruned": RunStatus.PRUNED, "failed": RunStatus.FAILED}


@dataclass(frozen=True)
class PrunerRef:
    """How a worker in another process reaches the trial in the sweep's optuna study (to
    prune it and to suggest its define-by-run parameters)."""

    storage_url: str
    study_name: str
    number: int

    def open(self) -> TrialHandle:
        """The trial, from the study's storage."""
        return TrialHandle(self.storage_url, self.study_name, self.number)


class _OpenedOnUse:
    """A :class:`PrunerRef` opened when the objective first reports, asks or suggests:
    an objective that does none of these never loads the study."""

    def __init__(self, ref: PrunerRef) -> None:
        self._ref = ref

    @functools.cached_property
    def _handle(self) -> TrialHandle:
        return self._ref.open()

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value."""
        self._handle.report(value, step)

    def should_prune(self) -> bool:
        """Ask the study's pruner."""
        return self._handle.should_prune()

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """A define-by-run value from the study's sampler."""
        return self._handle.suggest(name, distribution)


@dataclass(frozen=True)
class InProcessPruner:
    """The strategy itself, for trials that run in the orchestrator's process."""

    strategy: Any
    number: int

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value."""
        self.strategy.report(self.number, value, step)

    def should_prune(self) -> bool:
        """Ask the strategy's pruner."""
        return self.strategy.should_prune(self.number)

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """A define-by-run value from the strategy's sampler."""
        return self.strategy.suggest(self.number, name, distribution)


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs to run one trial (picklable unless ``pruner`` or
    ``suggester`` is live). ``pruner`` is set when the sweep prunes, ``suggester`` (often
    the same) when it can propose define-by-run parameters."""

    tracking_uri: str
    run: Run
    sweep_id: str
    number: int
    params: Mapping[str, Any]
    objective: ObjectiveRef
    goals: Sequence[Goal]
    pruner: PrunerRef | Pruner | None = None
    mode: Literal["train", "retrain"] = "train"
    autolog: Autolog | None = None
    suggester: PrunerRef | Suggester | None = None


@dataclass(frozen=True)
class TrialResult:
    """What a trial produced; ``values`` hold every metric the objective returned."""

    number: int
    run_id: str
    state: TrialState
    values: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0

    def goal_values(self, goals: Sequence[Goal]) -> list[float] | None:
        """The values of the sweep's goals, in order (None unless complete)."""
        if self.state != "complete":
            return None
        return [self.values[g.name] for g in goals]


def returned_metrics(output: object, goals: Sequence[Goal]) -> dict[str, float]:
    """The objective's return value as metrics: a number (the first goal) or a dict."""
    if isinstance(output, Real) and not isinstance(output, bool):
        if len(goals) > 1:
            raise InvalidInput(
                f"the objective returned one number, but the sweep optimises "
                f"{', '.join(g.name for g in goals)}: return a dict with each of them"
            )
        return {goals[0].name: float(output)}
    if isinstance(output, Mapping):
        metrics: dict[str, float] = {}
        for key, value in output.items():
            try:
                metrics[str(key)] = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"the objective returned {key!r}: {value!r}, which is not a number"
                ) from None
        missing = [g.name for g in goals if g.name not in metrics]
        if missing:
            raise InvalidInput(
                f"the objective's result has no {', '.join(map(repr, missing))} "
                f"(it returned {', '.join(map(repr, metrics)) or 'nothing'})"
            )
        return metrics
    raise InvalidInput(
        f"the objective must return a number or a dict of metrics, got {type(output).__name__}"
    )


@functools.cache
def worker_client(tracking_uri: str) -> Any:
    """One Client per store in each worker process."""
    from tunetrack.tracking.client import Client

    return Client(tracking_uri)


def execute_trial(task: TrialTask) -> TrialResult:
    """Run one trial in this process and record it in its (already created) run."""
    from tunetrack.tracking.fluent import activated

    client = worker_client(task.tracking_uri)
    run_id = task.run.info.run_id
    opened: dict[PrunerRef, _OpenedOnUse] = {}  # the pruner and suggester share the study

    def use(ref: PrunerRef) -> _OpenedOnUse:
        return opened.setdefault(ref, _OpenedOnUse(ref))

    pruner = use(task.pruner) if isinstance(task.pruner, PrunerRef) else task.pruner
    suggester = use(task.suggester) if isinstance(task.suggester, PrunerRef) else task.suggester
    trial = Trial(
        number=task.number,
        params=task.params,
        run_id=run_id,
        sweep_id=task.sweep_id,
        metric=task.goals[0].name,
        client=client,
        pruner=pruner,
        suggester=suggester,
        mode=task.mode,
    )
    started = time.perf_counter()
    values: dict[str, float] = {}
    error = trace = None
    with activated(task.run, client):
        try:
            objective = load_objective(task.objective)
            enable_autolog(task.autolog)
            output = (
                objective(task.params, trial) if wants_trial(objective) else objective(task.params)
            )
            values = returned_metrics(take_returned_model(trial, output), task.goals)
            state: TrialState = "complete"
            if any(math.isnan(values[g.name]) for g in task.goals):
                state, error = "failed", "the objective returned NaN"
        except Exception as exc:
            if is_pruned(exc):  # ours or optuna's TrialPruned
                state = "pruned"
            else:
                state, error = "failed", f"{type(exc).__name__}: {exc}"
                trace = traceback.format_exc()
        state, error = _record(client, run_id, state, values, trial.last_step, error, trace)
    return TrialResult(task.number, run_id, state, values, error, time.perf_counter() - started)


def _record(
    client: Any,
    run_id: str,
    state: TrialState,
    values: Mapping[str, float],
    step: int | None,
    error: str | None,
    trace: str | None,
) -> tuple[TrialState, str | None]:
    """End the trial's run: ``traceback.txt``, then in one transaction the returned metrics
    as its latest points, the error line as a tag and the status; return the trial's state
    and error.

    ``set_terminated`` writes the reported steps (the batched writer) first, so the
    returned values, at the last reported step, are the latest. A run that cannot be
    recorded into (another process deleted it, say) fails the trial, not the sweep: the
    run ends FAILED where the store still allows it.
    """
    try:
        if trace:
            client.log_text(run_id, trace, "traceback.txt")
        timestamp = now_ms()
        client.set_terminated(
            run_id,
            _STATUS[state],
            metrics=[Metric(key, value, timestamp, step or 0) for key, value in values.items()],
            tags={ERROR_TAG: error[:5000]} if error else None,
        )
        return state, error
    except (TunetrackError, OSError) as exc:
        error = _unrecorded(client, run_id, exc)
    with contextlib.suppress(TunetrackError):
        client.set_tag(run_id, ERROR_TAG, error[:5000])
    with contextlib.suppress(TunetrackError):
        client.set_terminated(run_id, RunStatus.FAILED)
    return "failed", error


def _unrecorded(client: Any, run_id: str, exc: Exception) -> str:
    """Why a trial's outcome could not be recorded in its run."""
    with contextlib.suppress(TunetrackError):
        if client.get_run(run_id).info.lifecycle_stage != LifecycleStage.ACTIVE:
            return RUN_DELETED
    return f"{type(exc).__name__}: {exc}"


def enable_autolog(settings: Autolog | None) -> None:
    """Set autolog in this worker as the sweep file says (loky workers start fresh, and
    a reused worker may still carry an earlier sweep's setting).

    It runs after the objective's module is loaded and patches the libraries that module
    imported (scikit-learn, XGBoost): a pure-Python objective pays for neither. Patching
    happens once per process; later calls only update the options.
    """
    if settings is None:
        return
    from tunetrack.autologging import autolog

    if settings.disable:
        autolog(disable=True)
        return
    autolog(
        log_models=settings.log_models,
        log_datasets=settings.log_datasets,
        log_importances=settings.log_importances,
        silent=True,
        imported_only=True,
    )


@contextlib.contextmanager
def autolog_restored() -> Iterator[None]:
    """Around a sweep or a retrain in the caller's process: whatever autolog integration
    the trials run here turned on is turned off again afterwards (worker processes of
    their own keep theirs)."""
    before = _enabled_integrations()
    try:
        yield
    finally:
        for name in _enabled_integrations() - before:
            importlib.import_module(f"tunetrack.autologging.{name}").autolog(disable=True)


def _enabled_integrations() -> set[str]:
    if "tunetrack.autologging" not in sys.modules:  # never imported: nothing is on
        return set()
    from tunetrack.autologging import enabled_integrations

    return set(enabled_integrations())
