"""The audit log: who did what to which report or workspace, and each delivery.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "audit_log" not in set(sa.inspect(op.get_bind()).get_table_names()):
        op.create_table(
            "audit_log",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(160), nullable=False),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("report_id", sa.Integer),
            sa.Column("report_slug", sa.String(200)),
            sa.Column("owner", sa.String(120)),
            sa.Column("team_id", sa.String(32)),
            sa.Column("details", sa.Text, nullable=False),
        )
        op.create_index("ix_audit_log_report", "audit_log", ["report_id", "at"])
        op.create_index("ix_audit_log_at", "audit_log", ["at"])
