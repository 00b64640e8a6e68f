"""store_settings: the store's own settings; artifact_root is the one it records.

An existing store records the root it has been using: the parent of its Default
experiment's artifact location (the store created that as ``<root>/0``). A new store
records its root after the migrations, when it creates the Default experiment.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    settings = op.create_table(
        "store_settings",
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    location = (
        op.get_bind()
        .execute(sa.text("SELECT artifact_location FROM experiments WHERE experiment_id = 0"))
        .scalar()
    )
    root = (location or "").rstrip("/").rpartition("/")[0]
    if root:
        op.bulk_insert(settings, [{"key": "artifact_root", "value": root}])


def downgrade() -> None:
    op.drop_table("store_settings")
