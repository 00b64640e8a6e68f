"""The sweep's progress line: what it shows, and that it fits a narrow terminal."""

from __future__ import annotations

import pytest

from tunetrack.sweep.progress import SweepProgress


def test_the_progress_line_keeps_trials_done_counts_and_best_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # rich's width when stderr is not a terminal
    with SweepProgress(12, enabled=True, title="sweep 1a2b3c4d") as progress:
        progress.update(done=4, finished=2, running=2, pruned=1, failed=1, best="0.951234")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert len(line) <= 80
    for shown in ("sweep 1a2b3c4d", "4/12", "2 finished", "1 pruned", "1 failed", "2 running"):
        assert shown in line, line
    assert "best 0.951234" in line
