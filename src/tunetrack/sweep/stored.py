"""A sweep as its parent run stores it: its settings as params, its trial runs, its sweep
file (with overrides), and the context tags its runs carry. Read by the runner when
resuming, by the summary, the results, retraining and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunetrack.entities import Param, Run, ViewType
from tunetrack.sweep import tags as T
from tunetrack.sweep.config import SweepConfig, parse_sweep_config
from tunetrack.tracking.client import Client

__all__ = ["load_stored_config", "sweep_context_tags", "trial_runs"]


def trial_runs(client: Client, parent: Run, *, include_deleted: bool = False) -> list[Run]:
    """Every trial run of a sweep, ordered by trial number; ``include_deleted`` adds those
    another process deleted (they keep their number and outcome)."""
    runs = client.search_runs(
        [parent.info.experiment_id],
        f"attributes.parent_run_id = '{parent.info.run_id}' and tags.`{T.RUN_TYPE}` = 'trial'",
        run_view_type=ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY,
        max_results=50_000,
    )
    return sorted(runs, key=lambda r: int(r.data.tags[T.TRIAL_NUMBER]))


def load_stored_config(
    client: Client,
    parent: Run,
    overrides: Sequence[str] = (),
    *,
    objective: Callable[..., Any] | None = None,
) -> SweepConfig:
    """The sweep's YAML as stored on its parent run, with its and the new overrides;
    ``objective`` replaces the stored one."""
    from tunetrack.store.uri import open_artifacts

    text = open_artifacts(parent.info.artifact_uri).read_bytes("sweep.yaml").decode()
    source = parent.data.tags.get(T.SWEEP_SOURCE) or "sweep.yaml"
    previous = json.loads(parent.data.tags.get(T.SWEEP_OVERRIDES, "[]"))
    return parse_sweep_config(
        text,
        source=source,
        base_dir=Path(source).parent if source else None,
        overrides=[*previous, *overrides],
        objective=objective,
    )


def sweep_context_tags(config: SweepConfig, parent: Run | None = None) -> dict[str, str]:
    """The ``tunetrack.*`` context tags (git, user, host, versions) of a sweep's runs, from
    its sweep file (the one stored on ``parent`` when resuming), else its objective's file,
    else this process's script. One ``git status``: compute it once per sweep."""
    from tunetrack.tracking.context import run_context_tags, source_context_tags

    stored = parent.data.tags.get(T.SWEEP_SOURCE) if parent is not None else None
    source = config.source_path or stored or config.objective.path
    return source_context_tags(source) if source else run_context_tags()


def config_params(config: SweepConfig) -> list[Param]:
    """The sweep run's params: its settings, and each parameter's space as JSON."""
    values = {
        "objective": str(config.objective),
        "method": config.method,
        "metric": ",".join(f"{g.name}:{g.direction}" for g in config.metrics),
        "budget.trials": config.budget.trials,
        "budget.timeout": config.budget.timeout,
        "budget.trial_timeout": config.budget.trial_timeout,
        "budget.target": config.budget.target,
        "parallel.n_jobs": config.parallel.n_jobs,
        "parallel.backend": config.parallel.backend,
        "early_terminate": config.early_terminate.type if config.early_terminate else None,
        "seed": config.seed,
    }
    params = [Param(k, str(v)) for k, v in values.items() if v is not None]
    params += [Param(f"space.{k}", json.dumps(v)) for k, v in config.parameters_raw.items()]
    return params
