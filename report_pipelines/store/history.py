"""The ``window_metrics`` table: each report window's key metrics and result fingerprint.

Runs record their window here, and earlier windows queried for a comparison or an anomaly
check are recorded too, so the history an anomaly check needs is filled once and then read.
``delivered`` marks the windows whose message went out: ``send_if.changed`` compares a new
result with the last delivered one. A report's rows go when its query changes or it is deleted
(``store/reports.py``), since they describe what the old query returned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from report_pipelines.store.database import Database, as_utc, metadata, utcnow

window_metrics = sa.Table(
    "window_metrics",
    metadata,
    sa.Column("report_id", sa.Integer, primary_key=True),
    sa.Column("partition_key", sa.String(32), primary_key=True),
    sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("figures", sa.Text, nullable=False),
    sa.Column("result_hash", sa.String(64), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False, default=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_window_metrics_start", "report_id", "window_start"),
)


@dataclass(frozen=True)
class WindowRecord:
    partition_key: str
    window_start: dt.datetime
    figures: str
    result_hash: str
    delivered: bool


class WindowHistory:
    """Reads and writes ``window_metrics``.

    Example::

        history = WindowHistory()
        history.record(report.id, "2026-11-23-09:00", start, figures.to_json(), fingerprint)
        history.get(report.id, ["2026-11-16-09:00"])
    """

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)
        self.db.migrate()

    def get(self, report_id: int, keys: list[str]) -> dict[str, WindowRecord]:
        if not keys:
            return {}
        query = sa.select(window_metrics).where(
            window_metrics.c.report_id == report_id, window_metrics.c.partition_key.in_(keys)
        )
        with self.db.engine.connect() as conn:
            return {row["partition_key"]: _record(row) for row in conn.execute(query).mappings()}

    def record(self, report_id: int, key: str, window_start: dt.datetime, figures: str, result_hash: str) -> None:
        """Insert or replace the window's figures; whether it was delivered is kept."""
        values = {"window_start": window_start, "figures": figures, "result_hash": result_hash, "recorded_at": utcnow()}
        where = (window_metrics.c.report_id == report_id) & (window_metrics.c.partition_key == key)
        with self.db.begin() as conn:
            if conn.execute(window_metrics.update().where(where).values(**values)).rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(window_metrics.insert().values(
                        report_id=report_id, partition_key=key, delivered=False, **values
                    ))  # fmt: skip
            except sa.exc.IntegrityError:
                # Another run of the same window inserted first; its figures are the same query's.
                conn.execute(window_metrics.update().where(where).values(**values))

    def mark_delivered(self, report_id: int, key: str) -> None:
        where = (window_metrics.c.report_id == report_id) & (window_metrics.c.partition_key == key)
        with self.db.begin() as conn:
            conn.execute(window_metrics.update().where(where).values(delivered=True))

    def last_delivered(self, report_id: int, before: dt.datetime) -> WindowRecord | None:
        """The latest delivered window starting before ``before``."""
        query = (
            sa.select(window_metrics)
            .where(window_metrics.c.report_id == report_id, window_metrics.c.delivered.is_(True),
                   window_metrics.c.window_start < before)
            .order_by(window_metrics.c.window_start.desc())
            .limit(1)
        )  # fmt: skip
        with self.db.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _record(row) if row else None


def _record(row) -> WindowRecord:
    return WindowRecord(
        partition_key=row["partition_key"], window_start=as_utc(row["window_start"]), figures=row["figures"],
        result_hash=row["result_hash"], delivered=bool(row["delivered"]),
    )  # fmt: skip
