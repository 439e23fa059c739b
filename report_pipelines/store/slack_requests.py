"""The ``slack_requests`` table: each Slack interaction or event acted on, by its id.

Slack retries an event it thinks went unanswered (``X-Slack-Retry-Num``) and a person can press
a button twice; the first request to claim its key acts, every later one only acknowledges.
Rows older than a day are pruned as new ones arrive: Slack stops retrying within an hour.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from report_pipelines.store.database import Database, metadata, utcnow

KEEP_FOR = dt.timedelta(days=1)

slack_requests = sa.Table(
    "slack_requests",
    metadata,
    sa.Column("request_key", sa.String(200), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


class SlackRequestLog:
    """``first_time(key)`` is True once per key, across processes sharing the store."""

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)
        self.db.migrate()

    def first_time(self, key: str) -> bool:
        now = utcnow()
        try:
            with self.db.begin() as conn:
                conn.execute(slack_requests.insert().values(request_key=key[:200], received_at=now))
        except sa.exc.IntegrityError:
            return False
        with self.db.begin() as conn:
            conn.execute(slack_requests.delete().where(slack_requests.c.received_at < now - KEEP_FOR))
        return True
