"""A live progress line for a sweep: done, running, pruned, failed, best so far, ETA."""

from __future__ import annotations

import sys
from typing import Any


class SweepProgress:
    """A rich progress bar, or nothing when disabled (not a terminal, or asked not to)."""

    def __init__(self, total: int | None, *, enabled: bool | None = None, title: str = "") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.title = title
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.title, total=self.total, detail="")
        return self

    def update(self, *, done: int, running: int, pruned: int, failed: int, best: str) -> None:
        """Show the current counts and the best value so far."""
        if self._progress is not None:
            detail = f"running {running} · pruned {pruned} · failed {failed} · best {best}"
            self._progress.update(self._task, completed=done, detail=detail)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
