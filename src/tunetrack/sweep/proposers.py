"""Where a strategy's next parameters come from: the :class:`Proposer` interface, and the
proposers of the optuna samplers (which choose everything) and of grid search. hyperopt's
is in :mod:`tunetrack.sweep._hyperopt`; :func:`tunetrack.sweep.strategies.make_strategy`
picks one per method.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunetrack.sweep.space import SearchSpace, grid_points, grid_size

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["GridProposer", "Proposer", "SamplerProposer"]


class Proposer(abc.ABC):
    """Where a strategy's next parameters come from; the optuna study stays the ledger.

    One abstract method plus no-op hooks, like optuna's ``BaseSampler``. ``total`` is the
    number of proposals there are, or ``None`` for an endless method.
    """

    total: int | None = None

    @abc.abstractmethod
    def next_params(self) -> dict[str, Any] | None:
        """Flat params to enqueue, ``{}`` to let the optuna sampler choose, None when done."""

    def after_ask(self, number: int) -> None:  # noqa: B027 - optional hook
        """The params just proposed became trial ``number``."""

    def after_tell(self, trial: FrozenTrial) -> None:  # noqa: B027 - optional hook
        """``trial`` finished (any state)."""

    def after_replay(self, params: dict[str, Any], trial: FrozenTrial) -> None:  # noqa: B027
        """A finished trial with flat ``params`` was replayed into the ledger (resume)."""


class SamplerProposer(Proposer):
    """The study's optuna sampler chooses everything."""

    def next_params(self) -> dict[str, Any]:
        return {}


class GridProposer(Proposer):
    """Every grid point once, in order; replayed complete or pruned points are skipped."""

    def __init__(self, space: SearchSpace) -> None:
        self.total = grid_size(space)
        self._points = grid_points(space)
        self._done: set[tuple[Any, ...]] = set()

    def next_params(self) -> dict[str, Any] | None:
        for point in self._points:
            if _point_key(point) not in self._done:
                return point
        return None

    def after_replay(self, params: dict[str, Any], trial: FrozenTrial) -> None:
        if trial.state.name in ("COMPLETE", "PRUNED"):
            self._done.add(_point_key(params))


def _point_key(params: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((name, type(v).__name__, v) for name, v in params.items()))
