"""The compare page: 2 to 1,000 runs side by side.

Runs come by id (checkboxes on the runs table) or as the first 1,000 runs matching a filter
in one experiment. The table shows only the params and metrics whose values differ (all on
request); the charts are parallel coordinates, a scatter of two chosen columns, a contour of
a metric over two numeric params, box plots of a metric grouped by a param (one box per
value, :data:`MAX_BOXES` at most) and one metric's histories overlaid (the first
:data:`MAX_HISTORIES` runs, each downsampled).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from tunetrack.entities import Run, ViewType
from tunetrack.errors import InvalidInput
from tunetrack.server.ui import charts, reads
from tunetrack.server.ui.downsample import downsample
from tunetrack.store.base import Store
from tunetrack.store.sql.store import SqlStore

MAX_RUNS = 1000
MAX_HISTORIES = 100
HISTORY_POINTS = 500
MAX_AXES = 12
MAX_BOXES = 50
_CHUNK = 500


@dataclass
class CompareView:
    """The runs and what the compare page draws of them."""

    runs: list[Run]
    columns: list[str]
    options: list[str]
    x: str
    y: str
    color: str
    history: str
    contour: tuple[str, str] = ("", "")
    box_by: str = ""
    figures: dict[str, charts.Figure] = field(default_factory=dict)

    @property
    def metric_options(self) -> list[str]:
        """The metric columns (what a history can be drawn of)."""
        return [o for o in self.options if o.startswith("metrics.")]

    @property
    def param_options(self) -> list[str]:
        """The param columns (what contours and boxes are drawn over)."""
        return [o for o in self.options if o.startswith("params.")]


def value_of(run: Run, column: str) -> object:
    """A run's value of ``params.k`` / ``metrics.k`` (None when it has none)."""
    entity, _, key = column.partition(".")
    return getattr(run.data, entity).get(key)


def _load(store: Store, ids: Sequence[str], experiment: str, filter_string: str) -> list[Run]:
    if ids:
        if len(ids) > MAX_RUNS:
            raise InvalidInput(f"compare takes at most {MAX_RUNS} runs, got {len(ids)}")
        experiments = [
            e.experiment_id for e in store.search_experiments(ViewType.ALL, max_results=MAX_RUNS)
        ]
        found: dict[str, Run] = {}
        for start in range(0, len(ids), _CHUNK):
            quoted = ", ".join(f"'{i}'" for i in ids[start : start + _CHUNK])
            page = store.search_runs(
                experiments, f"attributes.run_id IN ({quoted})", ViewType.ALL, MAX_RUNS
            )
            found.update((run.info.run_id, run) for run in page)
        return [found[i] for i in dict.fromkeys(ids) if i in found]
    if not experiment:
        raise InvalidInput("choose runs to compare (runs=ID&runs=ID or experiment=ID)")
    return list(store.search_runs([experiment], filter_string or None, max_results=MAX_RUNS))


def _numeric(runs: list[Run], column: str) -> bool:
    """Whether every run that has ``column`` holds a number there."""
    values = [v for v in (value_of(r, column) for r in runs) if v is not None]
    return bool(values) and all(charts.number(v) is not None for v in values)


def _sort_key(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order before any text."""
    value = charts.number(text)
    return (0, value, "") if value is not None else (1, 0.0, text)


def _differing(runs: list[Run], columns: list[str]) -> list[str]:
    return [c for c in columns if len({json.dumps(value_of(r, c), default=str) for r in runs}) > 1]


def compare_view(
    store: SqlStore,
    ids: Sequence[str],
    experiment: str,
    filter_string: str,
    x: str,
    y: str,
    color: str,
    history: str,
    show_all: bool,
    contour: tuple[str, str] = ("", ""),
    box_by: str = "",
) -> CompareView:
    """Load the runs and build the page (see the module docstring)."""
    runs = _load(store, ids, experiment, filter_string)
    params = sorted({f"params.{k}" for r in runs for k in r.data.params})
    metrics = sorted(
        {f"metrics.{k}" for r in runs for k in r.data.metrics if not k.startswith("system/")}
    )
    options = params + metrics
    differing = _differing(runs, options)
    columns = options if show_all else differing
    varying_metrics = [c for c in differing if c.startswith("metrics.")] or metrics
    color = color if color in options else (varying_metrics[0] if varying_metrics else "")
    varying_params = [c for c in differing if c.startswith("params.")] or params
    x = x if x in options else (varying_params[0] if varying_params else color)
    y = y if y in options else color
    history = history if history in metrics else color
    numeric = [c for c in varying_params if _numeric(runs, c)]
    cx = contour[0] if contour[0] in params else (numeric[0] if numeric else "")
    cy = contour[1] if contour[1] in params else next((c for c in numeric if c != cx), "")
    box_by = box_by if box_by in params else (varying_params[0] if varying_params else "")
    view = CompareView(runs, columns, options, x, y, color, history, (cx, cy), box_by)
    if len(runs) < 2 or not options:
        return view
    names = [r.info.run_name for r in runs]
    axes = [c for c in varying_params if c != color][: MAX_AXES - 1] + ([color] if color else [])
    view.figures["parallel"] = charts.parallel_coordinates(
        {c: [value_of(r, c) for r in runs] for c in axes}, color or None
    )
    view.figures["scatter"] = charts.scatter(
        x, [value_of(r, x) for r in runs], y, [value_of(r, y) for r in runs], names
    )
    metric = color if color.startswith("metrics.") else (varying_metrics or [""])[0]
    if metric and cx and cy and cx != cy:
        view.figures["contour"] = charts.contour(
            cx, [value_of(r, cx) for r in runs], cy, [value_of(r, cy) for r in runs],
            metric, [value_of(r, metric) for r in runs],
        )  # fmt: skip
    if metric and box_by:
        groups: dict[str, list[object]] = {}
        for run in runs:
            groups.setdefault(str(value_of(run, box_by)), []).append(value_of(run, metric))
        ordered = sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))[:MAX_BOXES]
        view.figures["box"] = charts.box_plots(metric, box_by, ordered)
    if history:
        key = history.partition(".")[2]
        shown = runs[:MAX_HISTORIES]
        found = reads.histories(store, [r.info.run_id for r in shown], key)
        series = []
        for run in shown:
            steps, values = found.get(run.info.run_id, ([], []))
            xs, ys = downsample(steps, values, HISTORY_POINTS)
            series.append((run.info.run_name, xs, ys))
        view.figures["history"] = charts.overlay(key, series)
    return view
