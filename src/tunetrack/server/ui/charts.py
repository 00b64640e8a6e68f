"""Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), built server-side.

The pages embed them as JSON data blocks that ``static/ui.js`` hands to ``Plotly.newPlot``;
no Python plotly import is needed. Values that are not finite numbers become ``None``
(a gap), since JSON cannot carry NaN or infinities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Figure = dict[str, Any]
_MARGIN = {"l": 50, "r": 20, "t": 30, "b": 40}


def number(value: object) -> float | None:
    """``value`` as a finite float (params are strings: "0.1" counts), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _layout(title: str = "", **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": 14}}, "margin": _MARGIN, **extra}


def line_chart(key: str, steps: Sequence[int], values: Sequence[float | None]) -> Figure:
    """One step metric over its steps."""
    trace = {"type": "scatter", "mode": "lines", "name": key, "x": list(steps), "y": list(values)}
    return {"data": [trace], "layout": _layout(key, xaxis={"title": {"text": "step"}})}


def overlay(key: str, series: Sequence[tuple[str, Sequence[int], Sequence[Any]]]) -> Figure:
    """Several runs' histories of one metric, one line each (``(name, steps, values)``)."""
    data = [
        {"type": "scatter", "mode": "lines", "name": name, "x": list(x), "y": list(y)}
        for name, x, y in series
    ]
    return {"data": data, "layout": _layout(key, xaxis={"title": {"text": "step"}})}


def _dimension(label: str, values: Sequence[object]) -> dict[str, Any]:
    """A parallel-coordinates axis: numeric when every value is, else categories."""
    numbers = [number(v) for v in values]
    if all(n is not None for n in numbers) and numbers:
        return {"label": label, "values": numbers}
    categories = sorted({str(v) for v in values})
    index = {c: i for i, c in enumerate(categories)}
    return {
        "label": label,
        "values": [index[str(v)] for v in values],
        "tickvals": list(range(len(categories))),
        "ticktext": categories,
    }


def parallel_coordinates(columns: dict[str, Sequence[object]], color_by: str | None) -> Figure:
    """One line per run across ``columns`` (label -> a value per run), coloured by a metric."""
    dims = [_dimension(label, values) for label, values in columns.items()]
    line: dict[str, Any] = {}
    if color_by in columns:
        line = {
            "color": [number(v) for v in columns[color_by]],
            "colorscale": "Viridis",
            "showscale": True,
        }
    trace = {"type": "parcoords", "dimensions": dims, "line": line}
    return {"data": [trace], "layout": _layout("", margin={"l": 60, "r": 60, "t": 50, "b": 30})}


def scatter(
    x_label: str, xs: Sequence[object], y_label: str, ys: Sequence[object], names: Sequence[str]
) -> Figure:
    """One marker per run at (x, y); categorical values stay as categories."""
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": [number(v) if number(v) is not None else v for v in xs],
        "y": [number(v) if number(v) is not None else v for v in ys],
        "text": list(names),
        "hovertemplate": "%{text}<br>%{x}, %{y}<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(
            "", xaxis={"title": {"text": x_label}}, yaxis={"title": {"text": y_label}}
        ),
    }


def optimisation_history(
    numbers: Sequence[int], values: Sequence[float | None], maximize: bool, metric: str
) -> Figure:
    """Each finished trial's objective value and the best value so far."""
    best: list[float | None] = []
    current: float | None = None
    for value in values:
        if value is not None and (
            current is None or (value > current if maximize else value < current)
        ):
            current = value
        best.append(current)
    x = list(numbers)
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": metric, "x": x, "y": list(values)},
        {"type": "scatter", "mode": "lines", "name": "best so far", "x": x, "y": best},
    ]
    data[1]["line"] = {"shape": "hv"}
    return {
        "data": data,
        "layout": _layout(
            "Optimisation history",
            xaxis={"title": {"text": "trial"}},
            yaxis={"title": {"text": metric}},
        ),
    }


def importance_bars(importances: dict[str, float]) -> Figure:
    """Horizontal bars, most important parameter on top."""
    ordered = sorted(importances.items(), key=lambda kv: kv[1])
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": [v for _, v in ordered],
        "y": [k for k, _ in ordered],
    }
    layout = _layout("Parameter importance (fANOVA)", yaxis={"automargin": True})
    return {"data": [trace], "layout": layout}


def slice_plot(param: str, xs: Sequence[object], ys: Sequence[float | None], metric: str) -> Figure:
    """The objective against one parameter's values over the finished trials."""
    figure = scatter(param, xs, metric, ys, [str(i) for i in range(len(xs))])
    figure["layout"]["title"] = {"text": param, "font": {"size": 14}}
    return figure


def contour(
    x_label: str,
    xs: Sequence[object],
    y_label: str,
    ys: Sequence[object],
    z_label: str,
    zs: Sequence[object],
) -> Figure:
    """A metric (z) over two numeric params, interpolated between the runs, runs marked."""
    points = [(number(x), number(y), number(z)) for x, y, z in zip(xs, ys, zs, strict=True)]
    kept = [(x, y, z) for x, y, z in points if x is not None and y is not None and z is not None]
    x, y, z = (list(c) for c in zip(*kept, strict=True)) if kept else ([], [], [])
    data = [
        {
            "type": "contour",
            "x": x,
            "y": y,
            "z": z,
            "connectgaps": True,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": z_label}},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": x,
            "y": y,
            "text": [f"{z_label} = {v:.6g}" for v in z],
            "marker": {"color": "black", "size": 5},
            "showlegend": False,
        },
    ]
    layout = _layout("", xaxis={"title": {"text": x_label}}, yaxis={"title": {"text": y_label}})
    return {"data": data, "layout": layout}


def box_plots(metric: str, by: str, groups: Sequence[tuple[str, Sequence[object]]]) -> Figure:
    """One box of ``metric`` per value of the param ``by`` (``(value, metric values)``)."""
    data = [
        {
            "type": "box",
            "name": name,
            "y": [number(v) for v in values],
            "boxpoints": "all",
            "jitter": 0.3,
        }
        for name, values in groups
    ]
    layout = _layout(
        "", xaxis={"title": {"text": by}}, yaxis={"title": {"text": metric}}, showlegend=False
    )
    return {"data": data, "layout": layout}


def intermediate_values(
    metric: str, series: Sequence[tuple[str, Sequence[int], Sequence[object], bool]]
) -> Figure:
    """Each trial's reported values by step (``(name, steps, values, pruned)``); a pruned
    trial is drawn dashed in red and ends in a cross where it was stopped."""
    data = []
    for name, steps, values, pruned in series:
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "lines+markers" if pruned else "lines",
            "name": f"{name} (pruned)" if pruned else name,
            "x": list(steps),
            "y": [number(v) for v in values],
        }
        if pruned:
            last = len(steps) - 1
            trace["line"] = {"dash": "dot", "color": "#c0392b"}
            trace["marker"] = {
                "symbol": ["x" if i == last else "circle" for i in range(len(steps))],
                "size": [10 if i == last else 0 for i in range(len(steps))],
                "color": "#c0392b",
            }
        data.append(trace)
    layout = _layout(
        "Intermediate values",
        xaxis={"title": {"text": "step"}},
        yaxis={"title": {"text": metric}},
        showlegend=len(series) <= 20,
    )
    return {"data": data, "layout": layout}


def pareto_front(
    labels: tuple[str, str],
    points: Sequence[tuple[str, float, float]],
    front: Sequence[bool],
) -> Figure:
    """Trials on two objectives (``(name, a, b)``), the non-dominated ones highlighted."""

    def trace(on_front: bool) -> dict[str, Any]:
        chosen = [p for p, f in zip(points, front, strict=True) if f is on_front]
        return {
            "type": "scatter",
            "mode": "markers",
            "name": "Pareto front" if on_front else "dominated",
            "x": [a for _, a, _ in chosen],
            "y": [b for _, _, b in chosen],
            "text": [n for n, _, _ in chosen],
            "marker": {"color": "#c0392b" if on_front else "#95a5a6", "size": 9 if on_front else 6},
            "hovertemplate": "%{text}<br>%{x}, %{y}<extra></extra>",
        }

    layout = _layout(
        "Pareto front",
        xaxis={"title": {"text": labels[0]}},
        yaxis={"title": {"text": labels[1]}},
    )
    return {"data": [trace(False), trace(True)], "layout": layout}
