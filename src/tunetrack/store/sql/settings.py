"""The store's settings, kept in its own database: the default root of its artifacts."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select

from tunetrack.store.sql import models as m

ARTIFACT_ROOT = "artifact_root"
ENV_ARTIFACT_ROOT = "TUNETRACK_ARTIFACT_ROOT"
_settings = m.store_settings


def artifact_root_for(db_uri: str) -> str:
    """The root a new store records unless told otherwise: beside a SQLite file, else
    ./tunetrack-artifacts of the working directory."""
    match = re.match(r"sqlite:///(?!:memory:)(.+)", db_uri)
    base = Path(match.group(1)).parent if match else Path.cwd()
    return str((base / "tunetrack-artifacts").resolve())


def normalize_root(root: str) -> str:
    """A URI (``s3://…``, ``file:///…``, a server's ``tunetrack-artifacts:``) without its
    trailing '/', a local path made absolute (against the working directory of the process
    that names it)."""
    root = str(root).strip()
    if len(urllib.parse.urlsplit(root).scheme) > 1:  # one letter is a Windows drive
        return root.rstrip("/")
    return str(Path(root).expanduser().resolve())


def read_setting(conn: Connection, key: str) -> str | None:
    """The value of a setting, or None when it was never recorded."""
    return conn.execute(select(_settings.c.value).where(_settings.c.key == key)).scalar()


def write_setting(conn: Connection, key: str, value: str) -> None:
    """Record a setting, replacing its value (the caller holds the schema lock)."""
    conn.execute(delete(_settings).where(_settings.c.key == key))
    conn.execute(insert(_settings).values(key=key, value=value))
