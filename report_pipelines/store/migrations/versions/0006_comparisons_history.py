"""Period-over-period, anomaly and target settings on reports; each window's metrics kept.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns("scheduled_reports")}
    for name in ("compare", "anomaly", "targets"):
        if name not in present:
            op.add_column("scheduled_reports", sa.Column(name, sa.JSON))
    if "window_metrics" not in set(inspector.get_table_names()):
        op.create_table(
            "window_metrics",
            sa.Column("report_id", sa.Integer, primary_key=True),
            sa.Column("partition_key", sa.String(32), primary_key=True),
            sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
            sa.Column("figures", sa.Text, nullable=False),
            sa.Column("result_hash", sa.String(64), nullable=False),
            sa.Column("delivered", sa.Boolean, nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_window_metrics_start", "window_metrics", ["report_id", "window_start"])
