"""The tables of the first release: reports, Slack workspaces, the delivery ledger.

Stores written before the store used Alembic already hold some of them: only what is missing is
created, so such a store is adopted as it is.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "scheduled_reports" not in present:
        op.create_table(
            "scheduled_reports",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("slug", sa.String(120), nullable=False, unique=True),
            sa.Column("name", sa.String(120), nullable=False, unique=True),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("query", sa.Text, nullable=False),
            sa.Column("frequency", sa.String(16)),
            sa.Column("schedule_time", sa.String(5), nullable=False),
            sa.Column("timezone", sa.String(64), nullable=False),
            sa.Column("day_of_week", sa.String(16)),
            sa.Column("day_of_month", sa.String(8)),
            sa.Column("cron", sa.String(120)),
            sa.Column("start_date", sa.Date),
            sa.Column("enabled", sa.Boolean, nullable=False),
            sa.Column("user_id", sa.String(120), nullable=False),
            sa.Column("notification_type", sa.String(16), nullable=False),
            sa.Column("slack_channel", sa.String(200)),
            sa.Column("slack_user_id", sa.String(200)),
            sa.Column("team_id", sa.String(32)),
            sa.Column("analysis_mode", sa.String(16), nullable=False),
            sa.Column("audience", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            # Run history is tagged with the report id: SQLite must never hand out an id again.
            sqlite_autoincrement=True,
        )
    if "slack_workspaces" not in present:
        op.create_table(
            "slack_workspaces",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("team_id", sa.String(32), nullable=False, unique=True),
            sa.Column("team_name", sa.String(200), nullable=False),
            sa.Column("bot_token_encrypted", sa.Text, nullable=False),
            sa.Column("is_active", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "deliveries" not in present:
        op.create_table(
            "deliveries",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("report_id", sa.Integer, nullable=False),
            sa.Column("partition_key", sa.String(32), nullable=False),
            sa.Column("destination", sa.String(300), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("channel", sa.String(32)),
            sa.Column("ts", sa.String(32)),
            sa.Column("run_id", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("report_id", "partition_key", "destination", name="uq_delivery_window"),
        )
