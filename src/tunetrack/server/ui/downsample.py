"""Server-side downsampling of metric series for charts: min and max of each bucket.

A chart needs about a thousand points; a metric may have millions. Splitting the series
into ``max_points // 2`` buckets of consecutive points and keeping each bucket's smallest
and largest value (in their original order) keeps every spike and dip, so the chart's
envelope is the full series' envelope. Non-finite values are not plottable: NaN becomes a
gap (``None``), ±inf is kept out of min/max and shown as a gap too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

DEFAULT_POINTS = 1000


def _plottable(value: float) -> float | None:
    return value if math.isfinite(value) else None


def downsample(
    steps: Sequence[int], values: Sequence[float], max_points: int = DEFAULT_POINTS
) -> tuple[list[int], list[float | None]]:
    """At most ``max_points`` (x, y) points of the series: each bucket's min and max.

    ``steps`` and ``values`` are parallel and ordered by step. A series that already fits
    comes back whole (non-finite values as ``None``).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    if len(steps) != len(values):
        raise ValueError("steps and values must have the same length")
    if len(values) <= max_points:
        return list(steps), [_plottable(v) for v in values]
    x = np.asarray(steps)
    y = np.asarray(values, dtype=float)
    finite = np.isfinite(y)
    edges = np.linspace(0, len(y), max_points // 2 + 1).astype(int)
    out_x: list[int] = []
    out_y: list[float | None] = []
    for lo, hi in itertools.pairwise(edges):
        ok = np.flatnonzero(finite[lo:hi])
        if not len(ok):
            out_x.append(int(x[lo]))
            out_y.append(None)
            continue
        segment = y[lo:hi][ok]
        picks = sorted({lo + ok[segment.argmin()], lo + ok[segment.argmax()]})
        out_x.extend(int(x[i]) for i in picks)
        out_y.extend(float(y[i]) for i in picks)
    return out_x, out_y
