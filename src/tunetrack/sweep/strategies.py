"""Search strategies: one ask/tell interface over optuna samplers, grid search and hyperopt.

Every method keeps an optuna study as its ledger (trial numbers, states, intermediate values,
pruning); what differs is where the next parameters come from, a
:class:`~tunetrack.sweep.proposers.Proposer`:

* optuna samplers (``random``, ``tpe``, ``cmaes``, ``gp``, ``nsga2``) suggest define-by-run;
* ``grid`` enqueues the points of :func:`~tunetrack.sweep.space.grid_points` in order;
* ``hyperopt-tpe`` / ``hyperopt-random`` run hyperopt's own algorithm over a
  ``hyperopt.Trials`` (see :mod:`tunetrack.sweep._hyperopt`) and enqueue its proposal.

optuna, hyperopt and the samplers' extra packages are imported only when a strategy is made,
so importing this module stays light.
"""

from __future__ import annotations

import importlib.util
import math
import os
import socket
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from tunetrack.errors import ConfigError, Conflict, InvalidInput, NotFound
from tunetrack.sweep import ledger_wire
from tunetrack.sweep.goals import METHODS, MULTI_OBJECTIVE_METHODS, PRUNER_TYPES, Goal, PrunerSpec
from tunetrack.sweep.proposers import GridProposer, Proposer, SamplerProposer
from tunetrack.sweep.space import (
    Choice,
    Distribution,
    SearchSpace,
    SpaceError,
    check_params,
    optuna_distributions,
    suggest,
    to_optuna_params,
)

if TYPE_CHECKING:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage

__all__ = [
    "Proposal",
    "Strategy",
    "TrialHandle",
    "make_strategy",
]


# Packages a method needs beyond optuna (checked in make_strategy, never installed here).
_NEEDS: dict[str, tuple[str, ...]] = {
    "cmaes": ("cmaes",),
    "gp": ("torch", "scipy"),
    "hyperopt-tpe": ("hyperopt",),
    "hyperopt-random": ("hyperopt",),
}
_INSTALL = {"torch": "'tunetrack[gp]'"}  # a package one of our extras brings: name the extra
_PRUNER_ATTR = "tunetrack:pruner"  # study user attr: the PrunerSpec, for TrialHandle
_SAMPLER_ATTR = "tunetrack:sampler"  # study user attr: how to make the sampler, for TrialHandle
_JOURNAL = "journal:"

StateName = Literal["complete", "pruned", "failed"]
Values = float | Sequence[float] | None


class _SamplerArgs(TypedDict):
    """The arguments of :func:`_make_sampler`, kept as the study's ``_SAMPLER_ATTR``."""

    method: str
    seed: int | None
    conditional: bool


@dataclass(frozen=True)
class Proposal:
    """Parameters to try as trial ``number`` (its number in the study, too)."""

    number: int
    params: dict[str, Any] = field(hash=False)


class Strategy:
    """Ask for parameters, tell results; one optuna study is the ledger for every method.

    Thread-safe: ``ask`` may run in one thread while ``tell``, ``report`` or
    ``should_prune`` run in others. Build it with :func:`make_strategy`.
    """

    def __init__(
        self,
        method: str,
        space: SearchSpace,
        goals: Sequence[Goal],
        study: optuna.Study,
        proposer: Proposer,
        storage_url: str | None = None,
    ) -> None:
        self.method = method
        self.space = space
        self.goals = tuple(goals)
        self.study = study
        self.storage_url = storage_url
        self._proposer = proposer
        self._lock = threading.RLock()
        self._live: dict[int, optuna.Trial] = {}

    @property
    def total(self) -> int | None:
        """How many trials the method can propose (the grid size), else None."""
        return self._proposer.total

    @property
    def study_name(self) -> str:
        """The ledger study's name (with :attr:`storage_url`, what a TrialHandle needs)."""
        return self.study.study_name

    def ask(self, again: Mapping[str, Any] | None = None) -> Proposal | None:
        """The next trial's parameters, or None when the method has nothing left; with
        ``again``, a new trial with exactly those parameters (a trial run again: those
        it suggested define-by-run are what its ``suggest_*`` give back)."""
        with self._lock:
            fixed = dict(again) if again is not None else self._proposer.next_params()
            if fixed is None:
                return None
            if fixed:
                declared = {k: v for k, v in fixed.items() if k in self.space.names}
                suggested = {k: v for k, v in fixed.items() if k not in declared}
                self.study.enqueue_trial({**to_optuna_params(self.space, declared), **suggested})
            trial = self.study.ask()
            params = suggest(trial, self.space)
            self._live[trial.number] = trial
            self._proposer.after_ask(trial.number)
            return Proposal(trial.number, params)

    def tell(self, number: int, values: Values = None, state: StateName = "complete") -> None:
        """Finish trial ``number``.

        ``values`` (one per goal) are required for ``complete`` and ignored otherwise; a NaN
        value marks the trial failed. A pruned trial's value is its last reported
        intermediate value (optuna's rule).
        """
        with self._lock:
            trial = self._trial(number)
            state, told = self._finished(values, state)
            frozen = self.study.tell(trial, told, state=_optuna_state(state))
            del self._live[number]
            self._proposer.after_tell(frozen)

    def add_finished(
        self,
        params: Mapping[str, Any],
        values: Values,
        state: StateName = "complete",
        *,
        intermediate_values: Mapping[int, float] | None = None,
        suggested: SearchSpace | None = None,
    ) -> None:
        """Replay a trial finished earlier (resume): the method learns from it.

        ``suggested`` holds the distributions of the params the trial suggested
        define-by-run (``trial.suggest_*``); the others must be a point of the space.
        """
        from optuna.trial import create_trial

        suggested = suggested or SearchSpace()
        declared = {k: v for k, v in params.items() if k not in suggested}
        extra = {k: v for k, v in params.items() if k in suggested}
        try:
            check_params(self.space, declared)
            distributions = {
                **optuna_distributions(self.space, declared),
                **optuna_distributions(suggested, extra),
            }
        except SpaceError as exc:
            raise InvalidInput(f"cannot replay a trial that is not in the space: {exc}") from exc
        steps = dict(intermediate_values or {})
        with self._lock:
            state, told = self._finished(values, state)
            if state == "pruned" and steps and len(self.goals) == 1:
                told = [steps[max(steps)]]
            frozen = create_trial(
                state=_optuna_state(state),
                values=told,
                params={**to_optuna_params(self.space, declared), **extra},
                distributions=distributions,
                intermediate_values=steps,
            )
            self.study.add_trial(frozen)
            self._proposer.after_replay(dict(params), frozen)

    def report(self, number: int, value: float, step: int) -> None:
        """Record an intermediate value of trial ``number`` at ``step`` (for pruning)."""
        with self._lock:
            trial = self._trial(number)
            self._single_goal("intermediate values")
            trial.report(float(value), step)

    def suggest(self, number: int, name: str, distribution: Distribution) -> Any:
        """A value of the define-by-run parameter ``name`` for trial ``number``, from the
        study's sampler (which then learns from it)."""
        with self._lock:
            return suggest(self._trial(number), SearchSpace([(name, distribution)]))[name]

    def should_prune(self, number: int) -> bool:
        """Whether the pruner would stop trial ``number`` now."""
        with self._lock:
            trial = self._trial(number)
            self._single_goal("pruning")
            # Read the trial from storage: a worker process may have reported values too.
            latest = trial.storage.get_trial(_trial_id(trial.storage, self.study_name, number))
            return self.study.pruner.prune(self.study, latest)

    def _trial(self, number: int) -> optuna.Trial:
        try:
            return self._live[number]
        except KeyError:
            raise InvalidInput(
                f"trial {number} is not running: it was not asked here or is already told"
            ) from None

    def _single_goal(self, what: str) -> None:
        if len(self.goals) > 1:
            raise InvalidInput(
                f"{what} work only with a single goal (this strategy has {len(self.goals)})"
            )

    def _finished(self, values: Values, state: StateName) -> tuple[StateName, list[float] | None]:
        """Check a result; returns the state to record and the values to record with it."""
        if state not in ("complete", "pruned", "failed"):
            raise InvalidInput(f"state must be complete, pruned or failed, got {state!r}")
        if state != "complete":
            return state, None
        told = _as_values(values, len(self.goals))
        if any(math.isnan(v) for v in told):
            return "failed", None
        return state, told


def _as_values(values: Values, n: int) -> list[float]:
    items = [values] if isinstance(values, Real) else values
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise InvalidInput(f"a complete trial needs {n} value(s), got {values!r}")
    if len(items) != n or not all(isinstance(v, Real) and not isinstance(v, bool) for v in items):
        raise InvalidInput(f"a complete trial needs {n} number(s), one per goal, got {values!r}")
    return [float(v) for v in items]


def _optuna_state(state: str) -> Any:
    from optuna.trial import TrialState

    return {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(
        state, TrialState.FAIL
    )


# ----------------------------------------------------------------------------- construction


def make_strategy(
    method: str,
    space: SearchSpace,
    goals: Sequence[Goal],
    *,
    seed: int | None = None,
    pruner: PrunerSpec | None = None,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
) -> Strategy:
    """Build the strategy for ``method`` over ``space``, optimising ``goals``.

    ``storage`` is None (in memory), ``"journal:/path/file.log"`` (an optuna journal file,
    usable from other processes through :class:`TrialHandle`), another string (an optuna
    RDB URL such as ``sqlite:///optuna.db``) or an optuna storage. Raises ConfigError for an
    unknown method, several goals for a single-objective method, a bad pruner or a missing
    package (``cmaes`` needs ``cmaes``; ``gp`` needs ``torch``).
    """
    goals = _check_goals(method, goals)
    if pruner is not None and pruner.type != "none" and len(goals) > 1:
        raise ConfigError("early termination (pruning) needs a single goal")
    optuna = _import_optuna(method)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    proposer = _make_proposer(method, space, goals, seed)
    backend, url = _make_storage(storage)
    sampler: _SamplerArgs = {
        "method": method,
        "seed": seed,
        "conditional": any(isinstance(d, Choice) for d in space.values()),
    }
    try:
        study = optuna.create_study(
            storage=backend,
            sampler=_make_sampler(**sampler),
            pruner=_make_pruner(pruner),
            study_name=study_name,
            directions=[g.direction for g in goals],
        )
    except optuna.exceptions.DuplicatedStudyError as exc:
        where = _shown(url) if url else "the storage"
        raise Conflict(f"study {study_name!r} already exists in {where}") from exc
    study.set_user_attr(_PRUNER_ATTR, asdict(pruner) if pruner is not None else None)
    study.set_user_attr(_SAMPLER_ATTR, sampler)
    return Strategy(method, space, goals, study, proposer, url)


def _check_goals(method: str, goals: Sequence[Goal]) -> tuple[Goal, ...]:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    goals = tuple(goals)
    if not goals:
        raise ConfigError("at least one goal is needed")
    names = [g.name for g in goals]
    if len(set(names)) != len(names):
        raise ConfigError(f"a goal is listed twice: {names}")
    for goal in goals:
        if goal.direction not in ("maximize", "minimize"):
            raise ConfigError(
                f"goal {goal.name!r}: direction must be maximize or minimize, "
                f"got {goal.direction!r}"
            )
    if len(goals) > 1 and method not in MULTI_OBJECTIVE_METHODS:
        raise ConfigError(
            f"method {method} optimises one metric; use "
            f"{' or '.join(MULTI_OBJECTIVE_METHODS)} for several"
        )
    return goals


def _import_optuna(method: str | None = None) -> Any:
    for module in ("optuna", *_NEEDS.get(method or "", ())):
        if importlib.util.find_spec(module) is None:
            needed_by = f"method {method!r}" if method else "a sweep trial handle"
            raise ConfigError(
                f"{needed_by} needs the {module!r} package, which is not installed "
                f"(pip install {_INSTALL.get(module, module)})"
            )
    import optuna

    return optuna


def _make_proposer(
    method: str, space: SearchSpace, goals: tuple[Goal, ...], seed: int | None
) -> Proposer:
    if method == "grid":
        return GridProposer(space)
    if method.startswith("hyperopt-"):
        from tunetrack.sweep._hyperopt import HyperoptProposer

        algorithm: Literal["tpe", "random"] = "tpe" if method == "hyperopt-tpe" else "random"
        return HyperoptProposer(space, algorithm, seed=seed, direction=goals[0].direction)
    return SamplerProposer()


def _make_sampler(method: str, seed: int | None, conditional: bool) -> BaseSampler:
    """The sampler of ``method`` (``conditional``: the space has choices with sub-spaces)."""
    import optuna.samplers as samplers
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if method == "tpe":
            return samplers.TPESampler(seed=seed, multivariate=True, group=conditional)
        if method == "cmaes":
            return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if method == "gp":
            return samplers.GPSampler(seed=seed)
        if method == "nsga2":
            return samplers.NSGAIISampler(seed=seed)
    # random, and the ledger of grid/hyperopt (whose parameters are all enqueued)
    return samplers.RandomSampler(seed=seed)


def _make_pruner(spec: PrunerSpec | None) -> BasePruner:
    import optuna.pruners as pruners

    if spec is None or spec.type == "none":
        return pruners.NopPruner()
    if spec.type not in PRUNER_TYPES:
        raise ConfigError(f"unknown pruner {spec.type!r}; valid: {', '.join(PRUNER_TYPES)}")
    lowest = 0 if spec.type == "median" else 1
    if not isinstance(spec.min_steps, int) or spec.min_steps < lowest:
        raise ConfigError(f"min_steps must be an integer >= {lowest}, got {spec.min_steps!r}")
    if not isinstance(spec.min_trials, int) or spec.min_trials < 0:
        raise ConfigError(f"min_trials must be an integer >= 0, got {spec.min_trials!r}")
    if spec.max_steps is not None and (
        not isinstance(spec.max_steps, int) or spec.max_steps <= spec.min_steps
    ):
        raise ConfigError(
            f"max_steps ({spec.max_steps!r}) must be an integer greater than min_steps "
            f"({spec.min_steps})"
        )
    if spec.type == "median":
        return pruners.MedianPruner(n_startup_trials=spec.min_trials, n_warmup_steps=spec.min_steps)
    if spec.type == "hyperband":
        return pruners.HyperbandPruner(
            min_resource=spec.min_steps, max_resource=spec.max_steps or "auto"
        )
    return pruners.SuccessiveHalvingPruner(min_resource=spec.min_steps)


def _trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """Trial ``number``'s id in the study (what optuna's storage calls it by)."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def _shown(url: str) -> str:
    """A storage URL as errors show it: a database URL's password hidden."""
    if url.startswith(_JOURNAL) or ledger_wire.is_served(url):
        return url
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "the storage"


def _make_storage(storage: str | BaseStorage | None) -> tuple[BaseStorage, str | None]:
    """The optuna storage for ``storage``, and its URL when it has one."""
    if storage is None:
        from optuna.storages import InMemoryStorage

        return InMemoryStorage(), None
    if isinstance(storage, str) and storage.startswith(_JOURNAL):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = storage[len(_JOURNAL) :]
        if not path:
            raise ConfigError("a journal storage needs a file: journal:/path/to/file.log")
        if not os.path.isdir(os.path.dirname(path) or "."):
            raise ConfigError(
                f"the sweep's optuna journal {path} is not on this machine "
                f"({socket.gethostname()}): workers on other machines prune and suggest "
                "through a study on a PostgreSQL store or a tunetrack server"
            )
        return JournalStorage(JournalFileBackend(path)), storage
    if isinstance(storage, str) and ledger_wire.is_served(storage):
        from tunetrack.sweep.ledger_client import ServedLedger

        return ServedLedger(storage), storage
    if isinstance(storage, str):
        from optuna.storages import RDBStorage

        return RDBStorage(storage), storage
    return storage, None


# ----------------------------------------------------------------------------- workers


class TrialHandle:
    """Report intermediate values and ask about pruning for a trial, from any process.

    Built from the strategy's ``storage_url`` (a journal file or RDB URL, not in-memory),
    ``study_name`` and the proposal's ``number``; it uses the pruner and the sampler the
    strategy was made with (stored in the study; the sampler's seed, if any, offset by the
    trial number so that trials do not draw the same values).
    """

    def __init__(self, storage_url: str, study_name: str, number: int) -> None:
        optuna = _import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        backend, _ = _make_storage(storage_url)
        try:
            study = optuna.load_study(
                study_name=study_name,
                storage=backend,
                sampler=optuna.samplers.RandomSampler(),
                pruner=optuna.pruners.NopPruner(),
            )
        except KeyError as exc:
            raise NotFound(f"no study {study_name!r} in {_shown(storage_url)}") from exc
        spec = study.user_attrs.get(_PRUNER_ATTR)
        study.pruner = _make_pruner(PrunerSpec(**spec) if spec else None)
        sampler = study.user_attrs.get(_SAMPLER_ATTR)
        if sampler is not None:
            seed = sampler["seed"]
            seed = None if seed is None else (seed + number) % 2**32
            study.sampler = _make_sampler(sampler["method"], seed, sampler["conditional"])
        try:
            trial_id = _trial_id(backend, study_name, number)
        except KeyError as exc:
            raise NotFound(f"no trial {number} in study {study_name!r}") from exc
        self._trial = optuna.trial.Trial(study, trial_id)

    @property
    def number(self) -> int:
        """The trial's number in the study."""
        return self._trial.number

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value at ``step``."""
        self._trial.report(float(value), step)

    def should_prune(self) -> bool:
        """Whether the pruner would stop the trial now."""
        return self._trial.should_prune()

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """A value of the define-by-run parameter ``name``, from the study's sampler."""
        return suggest(self._trial, SearchSpace([(name, distribution)]))[name]
