"""A live progress line for a sweep: its id, trials done, finished, pruned, failed and
running, the best value so far; a bar, the elapsed time and an ETA when there is room."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any

_BAR_MIN, _BAR_MAX = 10, 30


def _clock(seconds: float | None) -> str:
    return "-:--:--" if seconds is None else str(timedelta(seconds=int(seconds)))


class SweepProgress:
    """A rich live line on stderr, or nothing when disabled (not a terminal, or asked not
    to). The counts and the best value come first: at 80 columns they are never cut."""

    def __init__(self, total: int | None, *, enabled: bool | None = None, title: str = "") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.title = title
        self._live: Any = None
        self._started = time.monotonic()
        self._state: tuple[int, str, str] = (0, "", "-")  # done, counts, best: set at once

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._started = time.monotonic()
            self._live = Live(self, console=Console(stderr=True), refresh_per_second=4)
            self._live.__enter__()
        return self

    def update(
        self, *, done: int, finished: int, running: int, pruned: int, failed: int, best: str
    ) -> None:
        """Show the current counts and the best value so far."""
        counts = f"{finished} finished, {pruned} pruned, {failed} failed, {running} running"
        self._state = (done, counts, best)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            if not self._live.console.is_interactive:
                self._live.console.print()  # end the last line (a terminal's cursor moved)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        """The line, fitted to the width: the bar, then the clock go first when narrow."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        done, counts, best = self._state
        elapsed = time.monotonic() - self._started
        eta = None
        if self.total and done:
            eta = elapsed / done * max(self.total - done, 0)
        trials = f"{done}/{self.total}" if self.total else str(done)
        text = f"{trials} ({counts}) best {best}"
        clock = f"{_clock(elapsed)} ETA {_clock(eta)}"
        width = options.max_width - len(self.title) - 1
        if len(text) + 1 + len(clock) <= width:
            text = f"{text} {clock}"
        room = width - len(text) - 2
        grid = Table.grid(padding=(0, 1))
        cells: list[Any] = [Text(self.title, style="bold")]
        if room >= _BAR_MIN:
            bar_width = min(room, _BAR_MAX)
            cells.append(ProgressBar(total=self.total or None, completed=done, width=bar_width))
        cells.append(Text(text, no_wrap=True, overflow="ellipsis"))
        grid.add_row(*cells)
        yield grid
