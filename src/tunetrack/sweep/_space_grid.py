"""A search space as grid points: how many there are, and each in order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from tunetrack.sweep._space_checks import Path, SpaceError
from tunetrack.sweep._space_types import (
    Categorical,
    Choice,
    Distribution,
    Fixed,
    Float,
    Int,
    SearchSpace,
)

MAX_GRID_POINTS = 100_000


def grid_size(space: SearchSpace) -> int:
    """How many points :func:`grid_points` yields; raises for a continuous Float."""
    return _grid_size(space, ())


def _grid_size(space: SearchSpace, path: Path) -> int:
    total = 1
    for name, dist in space.items():
        where = (*path, name)
        if isinstance(dist, Float):
            if dist.step is None:
                raise SpaceError(
                    where,
                    "grid search needs 'values' or a 'step' (q) for a continuous parameter",
                )
            total *= dist.n_steps + 1
        elif isinstance(dist, Int):
            total *= dist.n_steps + 1
        elif isinstance(dist, Categorical):
            total *= len(dist.choices)
        elif isinstance(dist, Choice):
            total *= sum(
                _grid_size(sub, (*where, "values", key)) for key, sub in dist.options.items()
            )
    return total


def grid_points(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Every point of the grid, in a fixed order (the last parameter varies fastest).

    Checks eagerly: raises :class:`SpaceError` for a Float without step or a grid of more
    than :data:`MAX_GRID_POINTS` points.
    """
    n = grid_size(space)
    if n > MAX_GRID_POINTS:
        raise SpaceError(
            (),
            f"the grid has {n:,} points, more than {MAX_GRID_POINTS:,}: "
            "list fewer values or use larger steps",
        )
    return _grid(space)


def _grid(space: SearchSpace) -> Iterator[dict[str, Any]]:
    columns = [list(_entry_points(name, dist)) for name, dist in space.items()]
    for parts in itertools.product(*columns):
        point: dict[str, Any] = {}
        for part in parts:
            point.update(part)
        yield point


def _entry_points(name: str, dist: Distribution) -> Iterator[dict[str, Any]]:
    if isinstance(dist, Float):
        for k in range(dist.n_steps + 1):
            yield {name: dist.at_step(k)}
    elif isinstance(dist, Int):
        for value in range(dist.low, dist.high + 1, dist.step):
            yield {name: value}
    elif isinstance(dist, Categorical):
        for choice in dist.choices:
            yield {name: choice}
    elif isinstance(dist, Fixed):
        yield {name: dist.value}
    else:
        for key, sub in dist.options.items():
            for point in _grid(sub):
                yield {name: key, **point}
