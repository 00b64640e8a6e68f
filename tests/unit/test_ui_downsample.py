"""Downsampling metric series for the UI's charts: bounded size, extremes kept, gaps for NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunetrack.server.ui.downsample import downsample


def test_a_series_that_fits_comes_back_whole_with_non_finite_values_as_gaps() -> None:
    xs, ys = downsample([0, 1, 2, 3], [1.0, math.nan, math.inf, -2.5])
    assert xs == [0, 1, 2, 3]
    assert ys == [1.0, None, None, -2.5]


def test_a_long_series_keeps_every_spike_and_dip_within_the_point_budget() -> None:
    steps = list(range(200_000))
    values = list(np.sin(np.arange(200_000) / 5000.0))
    values[123_457] = 40.0
    values[7] = -40.0
    xs, ys = downsample(steps, values, 1000)
    assert len(xs) == len(ys) <= 1000
    assert 123_457 in xs
    assert 7 in xs
    assert max(ys) == 40.0
    assert min(ys) == -40.0
    assert xs == sorted(xs)


def test_a_bucket_of_only_nan_becomes_one_gap() -> None:
    values = [1.0] * 100 + [math.nan] * 100 + [2.0] * 100
    xs, ys = downsample(list(range(300)), values, 30)
    assert None in ys
    assert xs[ys.index(None)] >= 100
    assert {y for y in ys if y is not None} == {1.0, 2.0}


def test_too_small_a_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        downsample([0, 1, 2], [1.0, 2.0, 3.0], 1)


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=3000),
    st.integers(min_value=2, max_value=500),
)
def test_size_is_bounded_and_finite_extremes_survive(values: list[float], budget: int) -> None:
    xs, ys = downsample(list(range(len(values))), values, budget)
    assert len(xs) == len(ys) <= budget
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        assert max(y for y in ys if y is not None) == max(finite)
        assert min(y for y in ys if y is not None) == min(finite)
