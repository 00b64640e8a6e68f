"""Unit tests run with the fluent API's process-wide state isolated."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def tracking_uri(isolated_tracking: str) -> str:
    """The tracking URI of this test (a fresh SQLite file in ``tmp_path``)."""
    return isolated_tracking


@dataclass(frozen=True)
class UmaskModes:
    """The permission bits files and directories must get under the test's umask."""

    umask: int
    file: int
    directory: int

    def assert_tree(self, top: Path) -> None:
        """Every file and directory under ``top`` has exactly the expected mode."""
        found: dict[str, str] = {}
        for parent, dirs, files in os.walk(top):
            for name in dirs + files:
                path = Path(parent, name)
                found[str(path.relative_to(top))] = oct(stat.S_IMODE(path.lstat().st_mode))
        assert found, f"nothing was written under {top}"
        expected = {
            rel: oct(self.directory if (top / rel).is_dir() else self.file) for rel in found
        }
        assert found == expected, f"modes under umask {self.umask:#o}"


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def assert_umask_modes(request: pytest.FixtureRequest) -> Iterator[Callable[[Path], None]]:
    """Run the test under umask 022 and under 077 (restored afterwards); yield a check
    that every file under a directory is 0666 and every directory 0777 less the umask."""
    previous = os.umask(request.param)
    try:
        yield UmaskModes(request.param, 0o666 & ~request.param, 0o777 & ~request.param).assert_tree
    finally:
        os.umask(previous)
