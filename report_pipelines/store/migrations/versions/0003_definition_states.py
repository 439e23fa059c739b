"""The code location's loaded states, stored once each, so a run carries only their id.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "definition_states" not in set(sa.inspect(op.get_bind()).get_table_names()):
        op.create_table(
            "definition_states",
            sa.Column("state_id", sa.String(64), primary_key=True),
            sa.Column("report_count", sa.Integer, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        )
