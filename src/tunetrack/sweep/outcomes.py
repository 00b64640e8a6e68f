"""What a sweep's trials came to: counts per status, and failures grouped by reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tunetrack.entities import LifecycleStage, Run, RunStatus
from tunetrack.sweep import tags as T
from tunetrack.sweep.worker import ERROR_TAG, RUN_DELETED

# what differs from trial to trial in one kind of error: run ids, memory addresses, numbers
_VARYING = re.compile(r"\b[0-9a-f]{32}\b|\b0x[0-9a-fA-F]+\b|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FailureGroup:
    """Failed trials with one reason: how many, and the first of them as an example."""

    reason: str
    count: int
    example_number: int
    example_run_id: str


def trial_counts(trials: Iterable[Run]) -> dict[str, int]:
    """Trials per status (``finished``, ``pruned``, ``failed``, ``killed``, ...), every
    terminal status listed; deleted trial runs count by their status too."""
    counts = {s.value.lower(): 0 for s in RunStatus if s.is_terminal}
    for run in trials:
        key = run.info.status.value.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def failure_reason(run: Run) -> str | None:
    """Why a FAILED trial failed, in one line (None for a trial that did not fail)."""
    if run.info.status != RunStatus.FAILED:
        return None
    tags = run.data.tags
    if ERROR_TAG in tags:
        lines = tags[ERROR_TAG].strip().splitlines()
        return lines[0] if lines else "failed"
    if T.TRIAL_ABANDONED in tags:
        return f"abandoned: {tags[T.TRIAL_ABANDONED]}"
    if run.info.lifecycle_stage == LifecycleStage.DELETED:
        return RUN_DELETED
    return "no reason recorded"


def group_failures(trials: Iterable[Run]) -> list[FailureGroup]:
    """The failed trials grouped by reason, the most frequent first. Reasons that differ
    only in numbers, run ids, memory addresses or spacing are one group, shown by its
    first trial's reason."""
    groups: dict[str, list[tuple[int, Run, str]]] = {}
    for run in trials:
        reason = failure_reason(run)
        if reason is not None:
            key = _SPACES.sub(" ", _VARYING.sub("#", reason)).strip()
            groups.setdefault(key, []).append((int(run.data.tags[T.TRIAL_NUMBER]), run, reason))
    out = []
    for members in groups.values():
        number, run, reason = min(members, key=lambda m: m[0])
        out.append(FailureGroup(reason, len(members), number, run.info.run_id))
    return sorted(out, key=lambda g: (-g.count, g.example_number))
