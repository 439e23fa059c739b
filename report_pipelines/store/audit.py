"""The audit log: who did what and when.

Every change to a report (created, changed with the fields that changed, deleted, enabled,
disabled, run, reassigned), every change to a Slack workspace (added, replaced, deactivated) and
every delivery (report, window, destination, channel ID, ts, run id) is one row. Rows are only
ever added, and pruned after ``AUDIT_RETENTION_DAYS`` (default 365) by the retention job.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass, field

import sqlalchemy as sa

from report_pipelines.store.database import Database, as_utc, metadata, utcnow

AUDIT_RETENTION_ENV = "AUDIT_RETENTION_DAYS"
DEFAULT_AUDIT_RETENTION_DAYS = 365
ACTIONS = (
    "report.created", "report.changed", "report.deleted", "report.enabled", "report.disabled",
    "report.run", "report.reassigned", "report.snoozed", "workspace.added", "workspace.replaced",
    "workspace.deactivated", "delivery",
)  # fmt: skip

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(160), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("report_id", sa.Integer),
    sa.Column("report_slug", sa.String(200)),
    # The report's owner when the entry was written: a user's audit is their reports' entries.
    sa.Column("owner", sa.String(120)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index("ix_audit_log_report", "report_id", "at"),
    sa.Index("ix_audit_log_at", "at"),
)


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    actor: str
    action: str
    report_id: int | None = None
    report_slug: str | None = None
    owner: str | None = None
    team_id: str | None = None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(timespec="seconds"), "actor": self.actor, "action": self.action,
            "report_id": self.report_id, "report": self.report_slug, "owner": self.owner,
            "team_id": self.team_id, "details": self.details,
        }  # fmt: skip


def cli_actor() -> str:
    """Who runs the CLI: ``cli:<login>`` (the CLI administers the deployment)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit_retention_days() -> int:
    raw = os.environ.get(AUDIT_RETENTION_ENV, str(DEFAULT_AUDIT_RETENTION_DAYS)).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{AUDIT_RETENTION_ENV}={raw!r} must be a whole number of days, 1 or more")
    return int(raw)


class AuditLog:
    """Appends entries and reads them back, newest first.

    Example::

        AuditLog().record("alice", "report.created", report=report)
    """

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)
        self.db.migrate()

    def record(self, actor: str, action: str, *, report=None, team_id: str | None = None, **details) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        values = {
            "at": utcnow(), "actor": (actor or "unknown")[:160], "action": action,
            "report_id": getattr(report, "id", None), "report_slug": getattr(report, "slug", None),
            "owner": getattr(report, "user_id", None), "team_id": team_id,
            "details": json.dumps(details, default=str, sort_keys=True),
        }  # fmt: skip
        with self.db.begin() as conn:
            conn.execute(audit_log.insert().values(**values))

    def entries(self, *, report_id: int | None = None, owner: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Newest first; ``owner`` keeps the entries of that user's reports (and their own
        actions), ``report_id`` one report's."""
        query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if report_id is not None:
            query = query.where(audit_log.c.report_id == report_id)
        if owner is not None:
            query = query.where(sa.or_(audit_log.c.owner == owner, audit_log.c.actor == owner))
        with self.db.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            AuditEntry(
                at=as_utc(row["at"]), actor=row["actor"], action=row["action"], report_id=row["report_id"],
                report_slug=row["report_slug"], owner=row["owner"], team_id=row["team_id"],
                details=json.loads(row["details"] or "{}"),
            )  # fmt: skip
            for row in rows
        ]

    def prune(self, cutoff: dt.datetime) -> int:
        with self.db.begin() as conn:
            return conn.execute(audit_log.delete().where(audit_log.c.at < cutoff)).rowcount or 0
