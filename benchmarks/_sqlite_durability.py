"""Read back the durability settings each benchmark contender's SQLite connections use.

``journal_mode`` is kept in the database file once it is WAL; ``synchronous`` is a setting
of each connection. So the settings are read through the contender's own connection: its
``sqlite3`` connection, or a connection of the SQLAlchemy engine it logged through (whose
connect hooks apply its settings), never from a fresh connection of our own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def read_settings(dbapi_conn: Any) -> str:
    """``journal_mode``, ``synchronous`` and (in WAL mode) ``wal_autocheckpoint`` of one
    open DB-API SQLite connection."""
    cur = dbapi_conn.cursor()
    try:
        journal = cur.execute("PRAGMA journal_mode").fetchone()[0]
        sync = cur.execute("PRAGMA synchronous").fetchone()[0]
        pages = cur.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    finally:
        cur.close()
    wal = f", wal_autocheckpoint={pages} pages" if journal == "wal" else ""
    return f"journal_mode={journal}, synchronous={_SYNCHRONOUS[sync]}{wal}"


class SqliteEngines:
    """Remembers, for each SQLite file, the SQLAlchemy engine that last connected to it.

    Listens on every engine of the process (tunetrack's, mlflow's), so each contender's
    settings come from the engine that did its writes.
    """

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self._engines: dict[str, Any] = {}  # url.database -> engine
        event.listen(Engine, "engine_connect", self._seen)

    def _seen(self, conn: Any) -> None:
        engine = conn.engine
        if engine.dialect.name == "sqlite" and engine.url.database:
            self._engines[engine.url.database] = engine

    def settings_of(self, db: Path) -> str:
        """The settings of a connection from the engine that last wrote to ``db``."""
        target = os.path.realpath(db)
        for database, engine in self._engines.items():
            if os.path.realpath(database) == target:
                raw = engine.raw_connection()
                try:
                    return read_settings(raw)
                finally:
                    raw.close()
        return "unknown: no SQLAlchemy engine connected to this file"
