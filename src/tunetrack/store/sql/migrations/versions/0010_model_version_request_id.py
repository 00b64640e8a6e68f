"""model_versions.request_id: the id of the call that registered a version, unique per model.

A registration whose answer was lost (a COMMIT's on the way back from PostgreSQL, an HTTP
response from the server) is retried under the same id and finds its version instead of
registering the next one. Versions registered before this revision keep NULL.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends, as 0003: a batch table copy could cascade-delete the
# versions' tags and aliases on SQLite.
def upgrade() -> None:
    op.add_column("model_versions", sa.Column("request_id", sa.String(64), nullable=True))
    op.create_index(
        "ux_model_versions_request", "model_versions", ["name", "request_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_model_versions_request", table_name="model_versions")
    op.drop_column("model_versions", "request_id")
