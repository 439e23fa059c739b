"""Report attachments and send_if, workspace health, thread extras in the ledger.

Stores written before the store used Alembic may have some of these columns already (they were
added by hand then): only the missing ones are added.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    "scheduled_reports": [sa.Column("attachments", sa.JSON), sa.Column("send_if", sa.JSON)],
    "slack_workspaces": [
        # Set when Slack rejects the token (invalid_auth, token_revoked ...).
        sa.Column("last_error", sa.String(64)),
        sa.Column("last_error_at", sa.DateTime(timezone=True)),
    ],
    # Thread replies (SQL, overflow, chart, CSV) went out; a retry finishes them if not.
    "deliveries": [sa.Column("extras_done", sa.Boolean)],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in NEW_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)
