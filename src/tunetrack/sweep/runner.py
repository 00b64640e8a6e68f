"""Run a sweep: a parent run, one child run per trial, dispatched in parallel through joblib.

The orchestrator asks the strategy for parameters lazily (joblib pulls the next task only
when a worker frees up), creates each trial's child run *before* dispatching it (so a
crash leaves a record to resume from), and tells the strategy every result in completion
order. Workers record their own params, step metrics and final values.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tunetrack.entities import Run, RunStatus
from tunetrack.errors import InvalidInput
from tunetrack.sweep import ledger
from tunetrack.sweep import tags as T
from tunetrack.sweep.cluster import is_pool_crash, parallel_backend, pool_error, ray_unordered
from tunetrack.sweep.config import SweepConfig
from tunetrack.sweep.heartbeat import TIMEOUT_S, Heartbeat, check_orchestrator_gone
from tunetrack.sweep.ledger_wire import study_name
from tunetrack.sweep.objective import check_loadable
from tunetrack.sweep.outcomes import trial_counts
from tunetrack.sweep.progress import SweepProgress
from tunetrack.sweep.results import SweepResult
from tunetrack.sweep.space import SearchSpace
from tunetrack.sweep.stored import (
    config_params,
    load_stored_config,
    sweep_context_tags,
    trial_runs,
)
from tunetrack.sweep.strategies import Proposal, Strategy, make_strategy
from tunetrack.sweep.trial_process import end_failed, execute_in_child
from tunetrack.sweep.worker import (
    InProcessPruner,
    PrunerRef,
    TrialResult,
    TrialState,
    TrialTask,
    autolog_restored,
    execute_trial,
)
from tunetrack.tracking.client import Client

_PROCESS_BACKENDS = ("loky", "dask", "ray")

_log = logging.getLogger(__name__)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep ``sweep_id``; ``counts`` are its trials per status then."""

    def __init__(self, sweep_id: str, counts: Mapping[str, int]) -> None:
        super().__init__(sweep_id)
        self.sweep_id = sweep_id
        self.counts = dict(counts)


def run_sweep(
    config: SweepConfig,
    *,
    tracking_uri: str | None = None,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
) -> SweepResult:
    """Run ``config`` from the start: a new parent run and its trials."""
    client = Client(tracking_uri)
    context = sweep_context_tags(config)
    experiment = client.get_experiment_by_name(config.experiment)
    if experiment is None:
        with contextlib.suppress(Exception):
            client.create_experiment(config.experiment)
        experiment = client.get_experiment_by_name(config.experiment)
    assert experiment is not None
    parent = client.create_run(
        experiment.experiment_id,
        run_name=config.name,
        tags={
            **context,
            **config.tags,
            T.RUN_TYPE: "sweep",
            T.SWEEP_SOURCE: str(config.source_path or ""),
            T.SWEEP_OVERRIDES: json.dumps(list(overrides)),
            T.SWEEP_GOALS: json.dumps([[g.name, g.direction] for g in config.metrics]),
            **({"tunetrack.note.content": config.description} if config.description else {}),
        },
    )
    sweep_id = parent.info.run_id
    client.set_tag(sweep_id, T.SWEEP_ID, sweep_id)
    client.log_text(sweep_id, config.source_text, "sweep.yaml")
    client.log_text(sweep_id, config.space.to_json(), "space.json")
    client.log_batch(sweep_id, params=config_params(config))
    return _start(config, client, parent, context=context).run(progress)


def _start(config: SweepConfig, client: Client, parent: Run, **kwargs: Any) -> _SweepRun:
    """Set up the invocation; if that fails, the parent run ends FAILED, not RUNNING."""
    try:
        return _SweepRun(config, client, parent, **kwargs)
    except BaseException:
        client.set_terminated(parent.info.run_id, RunStatus.FAILED)
        raise


def resume_sweep(
    sweep_id: str,
    *,
    tracking_uri: str | None = None,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
    force: bool = False,
    heartbeat_timeout: float = TIMEOUT_S,
    objective: Callable[..., Any] | None = None,
) -> SweepResult:
    """Continue a sweep: replay its finished trials, fail the orphans, finish the budget.

    Refuses (:class:`Conflict`) a RUNNING sweep whose orchestrator beat its heartbeat less
    than ``heartbeat_timeout`` seconds ago, unless ``force``: its trials may be running.
    ``objective`` replaces the stored one (a function a sweep was given in Python).
    """
    client = Client(tracking_uri)
    parent = client.get_run(sweep_id)
    if parent.data.tags.get(T.RUN_TYPE) != "sweep":
        raise InvalidInput(f"run {sweep_id!r} is not a sweep (it has no tunetrack.run_type=sweep)")
    if not force:
        check_orchestrator_gone(parent, heartbeat_timeout)
    config = load_stored_config(client, parent, overrides, objective=objective)
    check_loadable(config.objective)  # before the sweep is marked RUNNING again
    all_overrides = [*json.loads(parent.data.tags.get(T.SWEEP_OVERRIDES, "[]")), *overrides]
    client.set_tag(sweep_id, T.SWEEP_OVERRIDES, json.dumps(all_overrides))
    client.update_run(sweep_id, status=RunStatus.RUNNING)
    context = sweep_context_tags(config, parent)
    return _start(config, client, parent, resuming=True, context=context).run(progress)


class _SweepRun:
    """One invocation of a sweep (a first run or a resume).

    Two threads share its bookkeeping (``asked``, ``in_flight``, ``counts``,
    ``best``, ``stop_reason``) and the progress line: joblib's callback thread asks for and
    registers the next trials (``_tasks``), the main thread counts results (``_finish``).
    Every read and write of that state holds ``_lock``.
    """

    def __init__(
        self,
        config: SweepConfig,
        client: Client,
        parent: Run,
        *,
        resuming: bool = False,
        context: Mapping[str, str] | None = None,
    ) -> None:
        trial_timeout = config.budget.trial_timeout
        # before any trial is dispatched
        config.parallel.check_store(client.tracking_uri, trial_timeout=trial_timeout)
        self.config = config
        self.client = client
        self.parent = parent
        self.sweep_id = parent.info.run_id
        self.context = dict(context or {})  # context tags for every trial run
        self.goals = config.metrics
        self.resuming = resuming
        self.n_jobs = 1 if config.parallel.backend == "sequential" else config.parallel.n_jobs
        # trials run in other processes: worker processes, or children (see trial_process)
        self.in_processes = (
            config.parallel.backend in _PROCESS_BACKENDS and self.n_jobs != 1
        ) or trial_timeout is not None
        # the study's journal (trials in other processes): in memory where the OS allows
        self._tmp = tempfile.TemporaryDirectory(prefix="tunetrack-sweep-", dir=_memory_dir())
        self.previous = trial_runs(client, parent, include_deleted=True) if resuming else []
        self.strategy = self._make_strategy()
        self.budget = config.budget.trials
        if "trials" not in config.budget.model_fields_set and self.strategy.total is not None:
            self.budget = self.strategy.total  # a grid runs to the end unless told otherwise
        self.offset = 0  # our trial number = optuna's number + offset (after a resume)
        self._lock = threading.RLock()  # guards the state below (see the class docstring)
        self.counted = 0  # trials that used the budget, this and earlier invocations
        self.asked = 0
        self.in_flight: dict[int, str] = {}  # optuna number -> run id
        self.again: deque[tuple[dict[str, Any], int]] = deque()  # (params, number) to rerun
        self.reruns: set[int] = set()  # optuna numbers of trials that are reruns
        self.results: list[TrialResult] = []
        self.counts = {"complete": 0, "pruned": 0, "failed": 0}  # earlier invocations' too
        self.best: tuple[float, str] | None = None
        self.stop_reason: str | None = None
        self.deadline = (
            time.monotonic() + config.budget.timeout if config.budget.timeout else math.inf
        )

    def _make_strategy(self) -> Strategy:
        storage = None
        if self.in_processes:  # workers prune and suggest through the ledger
            storage = ledger.ledger_url(
                self.config, self.client.tracking_uri, self._tmp.name, self.sweep_id
            )
            ledger.prepare(storage, self.study_name)
        seed = self.config.seed
        if seed is not None and self.previous:
            # a resumed sampler must not replay the first run's random sequence
            seed = (seed + 7919 * len(self.previous)) % 2**32
        return make_strategy(
            self.config.method,
            self.config.space,
            self.goals,
            seed=seed,
            pruner=self.config.early_terminate,
            storage=storage,
            study_name=self.study_name,
        )

    @property
    def study_name(self) -> str:
        """The name of the sweep's optuna study (a resume finds it by the same name)."""
        return study_name(self.sweep_id)

    def _drop_ledger(self) -> None:
        """Delete the study the workers pruned through (best effort: the trials' runs hold
        every result; a resume rebuilds the study from them)."""
        self._tmp.cleanup()
        url = self.strategy.storage_url
        if url is not None and not url.startswith("journal:"):
            try:
                ledger.drop(url, self.study_name)
            except Exception as error:
                _log.warning("sweep %s: its optuna study stays: %s", self.sweep_id, error)

    # -- the run -------------------------------------------------------------------------
    def run(self, progress: bool | None) -> SweepResult:
        title = f"sweep {self.sweep_id[:8]}"
        from tunetrack.sweep.summary import write_summary
        from tunetrack.tracking.system_metrics import system_metrics

        try:
            with Heartbeat(self.client, self.sweep_id):  # from before the replay to the summary
                if self.resuming:
                    self._replay()
                with (
                    SweepProgress(self.budget, enabled=progress, title=title) as self.progress,
                    autolog_restored(),
                    system_metrics(self.client, self.sweep_id),  # when on: for the whole sweep
                ):
                    self._show()
                    self._dispatch()
                summary = write_summary(self.client, self.parent, self.config, self.strategy)
                stop_message = self._stop_message()
                self.client.set_tag(self.sweep_id, T.SWEEP_STOPPED, stop_message)
        except KeyboardInterrupt:
            self._abandon_in_flight(RunStatus.KILLED, "interrupted")
            self.client.set_terminated(self.sweep_id, RunStatus.KILLED)
            counts = trial_counts(trial_runs(self.client, self.parent, include_deleted=True))
            raise SweepInterrupted(self.sweep_id, counts) from None
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            self._drop_ledger()
        self.client.set_terminated(self.sweep_id, RunStatus.FINISHED)
        retrained = None
        if self.config.retrain.enabled and summary.best_run_id is not None:
            from tunetrack.sweep.retrain import retrain

            retrained = retrain(
                self.sweep_id, tracking_uri=self.client.tracking_uri, config=self.config
            ).info.run_id
        return SweepResult(
            sweep_id=self.sweep_id,
            experiment_id=self.parent.info.experiment_id,
            stopped_because=self.stop_reason or "budget",
            stop_message=stop_message,
            counts=summary.counts,
            failures=summary.failures,
            results=self.results,
            best_run_id=summary.best_run_id,
            best_value=summary.best_value,
            best_params=summary.best_params,
            retrain_run_id=retrained,
            tracking_uri=self.client.tracking_uri,
            config=self.config,
        )

    def _dispatch(self) -> None:
        from joblib import Parallel, delayed

        parallel = self.config.parallel
        with parallel_backend(
            parallel.backend,
            parallel.address,
            self.n_jobs,
            self.client.tracking_uri,
            self.parent.info.artifact_uri,
        ):
            while self.stop_reason is None:
                if self.in_processes:  # each trial in a child process of its own
                    timeout = self.config.budget.trial_timeout
                    calls = (delayed(execute_in_child)(t, timeout) for t in self._tasks())
                else:
                    calls = (delayed(execute_trial)(t) for t in self._tasks())
                if parallel.backend == "ray":
                    results = ray_unordered(calls, self.n_jobs)
                else:
                    results = Parallel(
                        n_jobs=self.n_jobs,
                        return_as="generator_unordered",
                        pre_dispatch="n_jobs",
                        batch_size=1,
                    )(calls)
                try:
                    for result in results:
                        self._finish(result)
                except Exception as exc:
                    if not is_pool_crash(exc):
                        raise
                    self._run_again_in_flight(exc)
                    continue
                if self.stop_reason is None:
                    self.stop_reason = "budget"

    def _tasks(self) -> Iterator[TrialTask]:
        """The trials to dispatch, asked for one at a time (joblib pulls them from its
        callback thread when a worker frees up)."""
        while (task := self._next_task()) is not None:
            yield task

    def _next_task(self) -> TrialTask | None:
        """Ask for the next trial, create its run and register it in flight, all under the
        lock: the main thread sees a trial not yet asked or in flight, never in between.
        None once the sweep stops (``stop_reason`` says why)."""
        with self._lock:
            reason = self._should_stop()
            if reason is not None:
                self.stop_reason = reason
                return None
            proposal, rerun_of = self._ask()
            if proposal is None:
                self.stop_reason = "exhausted"
                return None
            number = proposal.number + self.offset
            run = self.client.create_run(
                self.parent.info.experiment_id,
                run_name=f"{self.config.name}-{number}",
                parent_run_id=self.sweep_id,
                params=proposal.params,
                tags={
                    **self.context,
                    T.RUN_TYPE: "trial",
                    T.SWEEP_ID: self.sweep_id,
                    T.TRIAL_NUMBER: str(number),
                    T.TRIAL_PARAMS: json.dumps(proposal.params, default=str),
                    **({} if rerun_of is None else {T.TRIAL_RERUN_OF: str(rerun_of)}),
                },
            )
            self.in_flight[proposal.number] = run.info.run_id
            self.asked += 1
            self._show()
            return TrialTask(
                tracking_uri=self.client.tracking_uri,
                run=run,
                sweep_id=self.sweep_id,
                number=number,
                params=proposal.params,
                objective=self.config.objective,
                goals=self.goals,
                pruner=self._pruner(proposal),
                autolog=self.config.autolog,
                suggester=self._study_trial(proposal),
            )

    def _ask(self) -> tuple[Proposal | None, int | None]:
        """The next trial: first a trial to run again (and the number it had), else the
        method's next proposal."""
        if not self.again:
            return self.strategy.ask(), None
        params, number = self.again.popleft()
        proposal = self.strategy.ask(again=params)
        assert proposal is not None
        self.reruns.add(proposal.number)
        return proposal, number

    def _pruner(self, proposal: Any) -> PrunerRef | InProcessPruner | None:
        if self.config.early_terminate is None or self.config.early_terminate.type == "none":
            return None
        return self._study_trial(proposal)

    def _study_trial(self, proposal: Any) -> PrunerRef | InProcessPruner:
        """The trial's side of the optuna study (to prune it, suggest its parameters)."""
        if self.in_processes:
            assert self.strategy.storage_url is not None
            return PrunerRef(self.strategy.storage_url, self.strategy.study_name, proposal.number)
        return InProcessPruner(self.strategy, proposal.number)

    def _should_stop(self) -> str | None:
        if self.stop_reason is not None:
            return self.stop_reason
        if self.counted + self.asked >= self.budget:
            return "budget"
        if time.monotonic() >= self.deadline:
            return "timeout"
        if self._failure_stop() is not None:
            return "max_failures"
        return None

    def _failure_stop(self) -> str | None:
        succeeded = self.counts["complete"] + self.counts["pruned"]
        return self.config.budget.failure_stop(self.counts["failed"], succeeded)

    def _stop_message(self) -> str:
        """Why the sweep stopped, in words: ``<reason>: <what happened> (<its key>)``."""
        budget, reason = self.config.budget, self.stop_reason or "budget"
        if reason == "timeout":
            message = f"no new trial after {budget.timeout:g} s (budget.timeout)"
        elif reason == "target":
            message = f"a trial reached {budget.target:g} (budget.target)"
        elif reason == "max_failures":
            message = self._failure_stop() or "too many trials failed (budget.max_failures)"
        elif reason == "exhausted":
            message = f"the method {self.config.method} has nothing left to propose"
        else:
            message = f"its {self.budget} trials are done (budget.trials)"
        return f"{reason}: {message}"

    def _finish(self, result: TrialResult) -> None:
        """Count a trial's result (in the main thread)."""
        optuna_number = result.number - self.offset
        with self._lock:
            self.in_flight.pop(optuna_number, None)
            self.strategy.tell(optuna_number, result.goal_values(self.goals), result.state)
            self.results.append(result)
            self.counts[result.state] += 1
            if result.state == "complete":
                self._track_best(result)
            self._show()

    def _track_best(self, result: TrialResult) -> None:
        goal = self.goals[0]
        value = result.values[goal.name]
        sign = 1.0 if goal.direction == "maximize" else -1.0
        if self.best is None or sign * value > sign * self.best[0]:
            self.best = (value, result.run_id)
        target = self.config.budget.target
        if target is not None and sign * value >= sign * target and self.stop_reason is None:
            self.stop_reason = "target"

    def _show(self) -> None:
        """Update the progress line (under the lock: one consistent snapshot, in order)."""
        progress = getattr(self, "progress", None)
        if progress is None:
            return
        with self._lock:
            best = "-" if self.best is None else f"{self.best[0]:.6g}"
            progress.update(
                done=sum(self.counts.values()),
                finished=self.counts["complete"],
                running=len(self.in_flight),
                pruned=self.counts["pruned"],
                failed=self.counts["failed"],
                best=best,
            )

    def _abandon_in_flight(self, status: RunStatus, why: str) -> None:
        """End the runs of trials whose result never came back; tell the strategy.

        A worker may have finished (and recorded) its trial just before the orchestrator
        stopped listening: such a run keeps its status and its result counts.
        """
        with self._lock:
            for optuna_number, run_id in list(self.in_flight.items()):
                run = self.client.get_run(run_id)
                if run.info.status.is_terminal:
                    state, values = self._outcome(run.info.status, run.data.metrics)
                else:
                    self._end_abandoned(run_id, status, why)
                    state, values = "failed", None
                    self.asked -= 1  # an abandoned trial does not use up the budget
                with contextlib.suppress(InvalidInput):
                    self.strategy.tell(optuna_number, values, state)
            self.in_flight.clear()

    def _run_again_in_flight(self, error: Exception) -> None:
        """The worker pool broke: one of its processes was killed from outside (a trial that
        kills its own process ends alone, in a child of the worker), and the pool killed
        the others. A trial in flight whose run ended counts as it ended; every other one
        runs again as a new trial, its run KILLED and uncounted; a rerun lost too fails."""
        why = pool_error(error)
        with self._lock:
            for optuna_number, run_id in list(self.in_flight.items()):
                number = optuna_number + self.offset
                run = self.client.get_run(run_id)
                if run.info.status.is_terminal or optuna_number in self.reruns:
                    died = f"worker process died: {why}"
                    self._finish(end_failed(self.client, number, run_id, self.goals, died))
                    continue
                again = f"worker process died ({why}): run again as a new trial"
                self._end_abandoned(run_id, RunStatus.KILLED, again)
                del self.in_flight[optuna_number]
                self.asked -= 1  # the rerun uses its place in the budget
                with contextlib.suppress(InvalidInput):
                    self.strategy.tell(optuna_number, None, "failed")
                self.again.append((json.loads(run.data.tags[T.TRIAL_PARAMS]), number))
            if self.again and self.stop_reason in ("budget", "exhausted"):
                self.stop_reason = None  # every trial was asked for, but these run again
            self._show()

    def _end_abandoned(self, run_id: str, status: RunStatus, why: str) -> None:
        """End the run of a trial without a result: ``status``, and ``why`` in a tag (a run
        another process deleted takes no tag, only the status)."""
        with contextlib.suppress(InvalidInput):
            self.client.set_tag(run_id, T.TRIAL_ABANDONED, why)
        with contextlib.suppress(InvalidInput):  # its points were refused: it is deleted
            self.client.set_terminated(run_id, status)

    def _fail(self, exc: BaseException) -> None:
        """The orchestrator failed with ``exc``: end the trials in flight, then the parent
        FAILED with the reason in its ``tunetrack.sweep.error`` tag. Each step is best
        effort (the store may be what failed), so ``exc`` is what the caller sees."""
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0] if lines else ''}"[:5000]
        steps = (
            lambda: self._abandon_in_flight(RunStatus.FAILED, f"the orchestrator failed: {reason}"),
            lambda: self.client.set_tag(self.sweep_id, T.SWEEP_ERROR, reason),
            lambda: self.client.set_terminated(self.sweep_id, RunStatus.FAILED),
        )
        for step in steps:
            try:
                step()
            except Exception as error:
                _log.warning("sweep %s: while failing it: %s", self.sweep_id, error)

    # -- resume ----------------------------------------------------------------------------
    def _outcome(
        self, status: RunStatus, metrics: Mapping[str, float]
    ) -> tuple[TrialState, list[float] | None]:
        """A recorded trial's state and goal values, as the strategy is told them."""
        if status == RunStatus.PRUNED:
            return "pruned", None
        if status == RunStatus.FINISHED and all(g.name in metrics for g in self.goals):
            return "complete", [metrics[g.name] for g in self.goals]
        return "failed", None

    def _replay(self) -> None:
        """Feed every earlier trial to the new strategy, in trial-number order."""
        trials = self.previous
        highest = -1
        for run in trials:
            tags = run.data.tags
            number = int(tags[T.TRIAL_NUMBER])
            highest = max(highest, number)
            status = run.info.status
            if not status.is_terminal:  # left RUNNING by a dead worker or orchestrator
                self._end_abandoned(run.info.run_id, RunStatus.FAILED, "orphaned")
                status, abandoned = RunStatus.FAILED, True
            else:
                abandoned = T.TRIAL_ABANDONED in tags or status == RunStatus.KILLED
            params = json.loads(tags[T.TRIAL_PARAMS])
            state, values = self._outcome(status, run.data.metrics)
            steps = None
            if state == "pruned":
                history = self.client.get_metric_history(run.info.run_id, self.goals[0].name)
                steps = {m.step: m.value for m in history}
            suggested = tags.get(T.TRIAL_SUGGESTED)  # the define-by-run params' space
            self.strategy.add_finished(
                params,
                values,
                state,
                intermediate_values=steps,
                suggested=SearchSpace.from_json(suggested) if suggested else None,
            )
            if not abandoned:
                self.counted += 1
                self.counts[state] += 1
                if state == "complete":
                    self._track_best(
                        TrialResult(number, run.info.run_id, "complete", dict(run.data.metrics))
                    )
        self.offset = highest + 1 - len(trials)
        if self.stop_reason == "target":
            self.stop_reason = None  # resuming means: go on


def _memory_dir() -> str | None:
    """A folder in memory for temporary files (``/dev/shm``), else None (the default)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
