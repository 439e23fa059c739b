"""Where a report came from (``file:PATH`` for reports created by ``report-pipelines apply``), and
its destinations beyond Slack (webhook, Teams, email).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("scheduled_reports")}
    if "source" not in present:
        op.add_column("scheduled_reports", sa.Column("source", sa.String(500)))
    if "destinations" not in present:
        op.add_column("scheduled_reports", sa.Column("destinations", sa.JSON))
