"""model_versions.manifest_sha256: the sha256 of a version's model.yaml, recorded at registration.

Versions registered before this revision keep NULL (loaded with the file-level check only).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends (SQLite >= 3.35 drops a column in place): a batch
# table copy could cascade-delete the versions' tags and aliases on SQLite.
def upgrade() -> None:
    op.add_column("model_versions", sa.Column("manifest_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "manifest_sha256")
