"""Slack interactivity: snoozed reports, and the Slack requests already acted on.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns("scheduled_reports")}
    if "snoozed_until" not in present:
        op.add_column("scheduled_reports", sa.Column("snoozed_until", sa.DateTime(timezone=True)))
    if "snoozed_by" not in present:
        op.add_column("scheduled_reports", sa.Column("snoozed_by", sa.String(200)))
    if "slack_requests" not in set(inspector.get_table_names()):
        op.create_table(
            "slack_requests",
            sa.Column("request_key", sa.String(200), primary_key=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        )
