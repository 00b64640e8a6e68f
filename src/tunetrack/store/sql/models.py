"""SQLAlchemy table definitions of the tracking schema (the alembic migrations create them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.sql.selectable import ScalarSelect

metadata = MetaData()

# SQLite only treats INTEGER PRIMARY KEY as the fast rowid alias.
_BigId = BigInteger().with_variant(Integer(), "sqlite")
_RunId = String(32)
_Key = String(250)
_Double = Float(precision=53)

# The store's own settings, one row per key: ``artifact_root``, recorded when it is created.
store_settings = Table(
    "store_settings",
    metadata,
    Column("key", _Key, primary_key=True),
    Column("value", Text, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", _BigId, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", String(1000), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),  # NULL while active; revision 0007
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        _BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", _Key, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", _RunId, primary_key=True),
    Column(
        "experiment_id",
        _BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("artifact_uri", String(1000), nullable=False),
    Column("parent_run_id", _RunId, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),  # NULL while active; revision 0007
    ForeignKeyConstraint(["parent_run_id"], ["runs.run_id"], ondelete="SET NULL"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent_start", "parent_run_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", _RunId, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", _Key, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_params_key", "key"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", _RunId, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", _Key, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_tags_key", "key"),
)

# One row per (run, key), its series: series_id names it in ``metrics``, and the row holds the
# point with the highest step (then timestamp). Search and sort read this table;
# experiment_id is copied here so (experiment, key, value) is indexed (with run_id: a
# filter's or a sort's runs come from the index alone). Migration 0012 gave series ids.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("series_id", _BigId, primary_key=True, autoincrement=True),
    Column("run_id", _RunId, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", _Key, nullable=False),
    Column("experiment_id", _BigId, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", _Double, nullable=True),
    UniqueConstraint("run_id", "key", name="ux_latest_metrics_run_key"),
    Index("ix_latest_metrics_exp_key_value_run", "experiment_id", "key", "value", "run_id"),
)

# Every logged point, under its series (run and key): four numbers a row, so a point costs
# the database half the bytes and index work it did with the run id and key on every row.
# NaN is stored as NULL (SQLite cannot store NaN); ±inf as is. id orders points of equal
# step and timestamp as they were logged; on PostgreSQL it has no index (0011): no query
# looks a point up by it. Reads find a series through ix_metrics_history (the UI's charts
# from that index alone). On PostgreSQL the series_id foreign key is kept by statement
# triggers instead, checked once per insert, not per point (migrations 0009, 0012).
metrics = Table(
    "metrics",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column(
        "series_id",
        _BigId,
        ForeignKey("latest_metrics.series_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", _Double, nullable=True),
    Index("ix_metrics_history", "series_id", "step", "timestamp", "value"),
)


def series_of(run_id: Any, key: Any) -> ScalarSelect[Any]:
    """The series id of metric ``key`` of run ``run_id`` (values or columns), as a subquery:
    NULL, so no point, for a series never logged."""
    latest = latest_metrics.c
    query = select(latest.series_id).where(latest.run_id == run_id, latest.key == key)
    return query.scalar_subquery()


# Metric batches written with a (writer_id, seq) id: a batch sent again (a client's retry
# after a lost response) finds its id here and is skipped. One row per batch.
metric_batches = Table(
    "metric_batches",
    metadata,
    Column("writer_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("writer_id", "seq"),
)

# -- model registry ----------------------------------------------------------------------
_Name = String(256)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", _Name, primary_key=True),
    Column("description", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # the highest version number ever given out: deleted numbers are never reused
    Column("last_version", Integer, nullable=False, server_default="0"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", _Name, ForeignKey("registered_models.name", ondelete="CASCADE"), nullable=False),
    Column("key", _Key, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", _Name, ForeignKey("registered_models.name", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", String(1000), nullable=False),
    Column("run_id", _RunId, nullable=True),
    Column("status", String(20), nullable=False),
    Column("current_stage", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # sha256 of the version's model.yaml when it was registered; NULL before revision 0003
    Column("manifest_sha256", String(64), nullable=True),
    # the id of the call that registered the version: its retry after a lost answer finds
    # the version instead of registering another; NULL before revision 0010
    Column("request_id", String(64), nullable=True),
    PrimaryKeyConstraint("name", "version"),
    Index("ix_model_versions_run", "run_id"),
    Index("ux_model_versions_request", "name", "request_id", unique=True),
)

_version_fk = ForeignKeyConstraint(
    ["name", "version"],
    ["model_versions.name", "model_versions.version"],
    ondelete="CASCADE",
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", _Name, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", _Key, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "key"),
    _version_fk,
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", _Name, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias"),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# -- users of a server with --auth -------------------------------------------------------
# A password is stored only as its scrypt hash (parameters and salt included); a token only
# as its sha256. Grants give one user READ, EDIT or MANAGE on one experiment.
users = Table(
    "users",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("password_hash", String(512), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_name", String(256), ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("label", String(256), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Index("ix_api_tokens_user", "user_name"),
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column("user_name", String(256), ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column(
        "experiment_id",
        _BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("permission", String(16), nullable=False),
    PrimaryKeyConstraint("user_name", "experiment_id"),
)
