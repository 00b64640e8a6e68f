"""The alembic migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tunetrack.errors import StoreError
from tunetrack.store.sql import engine as sql_engine
from tunetrack.store.sql.models import metadata
from tunetrack.store.sql.store import SqlStore


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(sql_engine._MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_schema_head_constant_matches_migrations() -> None:
    assert _head() == sql_engine.SCHEMA_HEAD


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_migrated_schema_matches_models(backend, tmp_path, request) -> None:
    uri = (
        f"sqlite:///{tmp_path}/schema.db"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_uri")
    )
    SqlStore(uri, default_artifact_root=str(tmp_path)).close()
    engine = create_engine(uri)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert diff == []
    assert version == [sql_engine.SCHEMA_HEAD]


def test_old_schema_needs_db_upgrade(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path}/old.db"
    SqlStore(uri).close()
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(StoreError, match="tunetrack db upgrade"):
        SqlStore(uri)
