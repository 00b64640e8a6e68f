"""PostgreSQL: ``metrics.id`` loses its primary-key index.

No query looks a point up by id: ``id`` only orders points of equal step and timestamp in
the order they were logged, and a history read finds its rows through
``ix_metrics_history`` and sorts them. The unique index on it was kept up on every insert
for nothing: of the 2.5 ms PostgreSQL spends on a 500-point batch, 0.3 ms, and 66 of the 423
bytes of WAL each point writes. ``id`` keeps its sequence. SQLite is unchanged: there
``id`` is the rowid, which costs nothing.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PK = "metrics_pkey"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.drop_constraint(_PK, "metrics", type_="primary")


def downgrade() -> None:
    if _postgresql():
        op.create_primary_key(_PK, "metrics", ["id"])
