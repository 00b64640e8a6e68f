"""Refits of one estimator object in one run: warm starts and staged training.

The first fit of an object in a run logs its params and saves its model. A later fit of
the same object in the same run (``warm_start=True`` with ``max_iter`` stepped up, a
``partial_fit``-style loop through ``fit``...) logs its metrics at the next step (the n-th
fit at step n-1), overwrites that one model artifact (the run keeps the last model, not
one per fit) and, since params are immutable, keeps the first fit's params and records
each param that changed in the tag :data:`REFITS_TAG`::

    {"fits": 3, "params": {"max_iter": [10, 20, 30]}}

(one value per fit, oldest first; very long histories keep the first and latest values).
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tunetrack import _validation as v

REFITS_TAG = "tunetrack.autolog.refits"
_PLAIN = (str, int, float, bool, type(None))


@dataclass
class Fits:
    """What autolog recorded for one estimator object in its run."""

    run_id: str
    count: int
    first: dict[str, Any]
    history: dict[str, list[Any]] = field(default_factory=dict)
    model_path: str | None = None  # the artifact its model was saved under

    @property
    def step(self) -> int:
        """The step this fit's metrics are logged at (0 for the first fit)."""
        return self.count - 1

    def tag(self) -> str:
        """The :data:`REFITS_TAG` value, within the store's tag length limit."""
        keep = self.count
        while True:
            params = {
                k: vals if len(vals) <= keep else [vals[0], "...", *vals[len(vals) - keep + 2 :]]
                for k, vals in self.history.items()
            }
            text = json.dumps({"fits": self.count, "params": params}, default=str)
            if len(text) <= v.MAX_TAG_VALUE_LENGTH or keep <= 3:
                return text[: v.MAX_TAG_VALUE_LENGTH]
            keep = max(keep // 2, 3)


_fits: weakref.WeakKeyDictionary[Any, Fits] = weakref.WeakKeyDictionary()


def lookup(obj: Any) -> Fits | None:
    """The latest record of ``obj`` (None if autolog never logged it)."""
    try:
        return _fits.get(obj)
    except TypeError:  # unhashable or not weak-referenceable
        return None


def record(obj: Any, run_id: str, params: Mapping[str, Any]) -> Fits:
    """Count a fit of ``obj`` logged in ``run_id`` with ``params``; return its record.

    A first fit in ``run_id`` starts a new record (``count == 1``); a refit updates the
    history of every param whose value differs from the first fit's.
    """
    shown = {k: val if isinstance(val, _PLAIN) else str(val) for k, val in params.items()}
    fits = lookup(obj)
    if fits is None or fits.run_id != run_id:
        fits = Fits(run_id, 1, shown)
        with contextlib.suppress(TypeError):
            _fits[obj] = fits
        return fits
    fits.count += 1
    for key, values in fits.history.items():
        values.append(shown.get(key))
    for key, value in shown.items():
        before = fits.first.get(key)
        if key not in fits.history and str(value) != str(before):
            fits.history[key] = [before] * (fits.count - 1) + [value]
    return fits
