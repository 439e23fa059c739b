"""Each thread extra of a delivery recorded on its own, so a retry posts only the missing ones.

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
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("deliveries")}
    if "extras_posted" not in present:
        # A JSON list of the extras' names ("text 1", "chart weekly.png", "csv weekly.csv").
        op.add_column("deliveries", sa.Column("extras_posted", sa.Text))
