"""The param history autolog keeps for refits of one estimator object (no store needed)."""

from __future__ import annotations

import json

from tunetrack import _validation as v
from tunetrack.autologging import _refits as refits


class Estimator:
    """Stands in for any estimator: autolog keys its records by the object."""


def test_a_refit_records_each_changed_param_once_per_fit() -> None:
    est = Estimator()
    refits.record(est, "run-a", {"max_iter": 10, "lr": 0.1, "loss": "log"})
    refits.record(est, "run-a", {"max_iter": 10, "lr": 0.1, "loss": "log"})
    fits = refits.record(est, "run-a", {"max_iter": 30, "lr": 0.1, "loss": None})
    assert fits.step == 2
    assert json.loads(fits.tag()) == {
        "fits": 3,
        "params": {"max_iter": [10, 10, 30], "loss": ["log", "log", None]},
    }
    again = refits.record(est, "run-b", {"max_iter": 40})  # another run starts afresh
    assert (again.count, again.history) == (1, {})


def test_a_long_history_keeps_the_first_and_latest_values_within_the_tag_limit() -> None:
    est = Estimator()
    for n in range(1, 5001):
        fits = refits.record(est, "run", {"max_iter": n, "note": "x" * 20})
    tag = fits.tag()
    assert len(tag) <= v.MAX_TAG_VALUE_LENGTH
    history = json.loads(tag)
    assert history["fits"] == 5000
    values = history["params"]["max_iter"]
    assert values[:2] == [1, "..."]
    assert values[-2:] == [4999, 5000]
