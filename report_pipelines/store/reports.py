"""The ``scheduled_reports`` table: one row per report.

Every write validates first and runs in one transaction, so a refused report leaves the store
exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pydantic
import sqlalchemy as sa

from report_pipelines.formatting import clip
from report_pipelines.names import Shard
from report_pipelines.models import Report, ReportSpec, ReportValidationError
from report_pipelines.report_files import error_summary
from report_pipelines.store.database import Database, NotFound, as_utc, metadata, utcnow
from report_pipelines.store.history import window_metrics

scheduled_reports = sa.Table(
    "scheduled_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(120), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("frequency", sa.String(16)),
    sa.Column("schedule_time", sa.String(5), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("day_of_week", sa.String(16)),
    sa.Column("day_of_month", sa.String(8)),
    sa.Column("cron", sa.String(120)),
    sa.Column("start_date", sa.Date),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("user_id", sa.String(120), nullable=False),
    sa.Column("notification_type", sa.String(16), nullable=False),
    sa.Column("slack_channel", sa.String(200)),
    sa.Column("slack_user_id", sa.String(200)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("analysis_mode", sa.String(16), nullable=False),
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("attachments", sa.JSON),
    sa.Column("send_if", sa.JSON),
    sa.Column("compare", sa.JSON),
    sa.Column("anomaly", sa.JSON),
    sa.Column("targets", sa.JSON),
    sa.Column("destinations", sa.JSON),
    # Set from Slack's Snooze button: scheduled windows ending before it are skipped.
    sa.Column("snoozed_until", sa.DateTime(timezone=True)),
    sa.Column("snoozed_by", sa.String(200)),
    # "file:PATH" when `report-pipelines apply` created the report: the file is its source of truth.
    sa.Column("source", sa.String(500)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Dagster run history is tagged with the report id: a deleted report's id is never handed to
    # a new report (SQLite would otherwise reuse the highest id after a delete).
    sqlite_autoincrement=True,
)

# Fields that shape a report's Dagster definitions (job, partitions, schedule, tags). A change to
# any of them needs a code-location reload; other fields are read by id at run time.
JOB_SHAPING_FIELDS = (
    "id", "slug", "name", "description", "frequency", "schedule_time", "timezone", "day_of_week",
    "day_of_month", "cron", "start_date", "enabled", "user_id", "created_at",
)  # fmt: skip


SHAPE_DESCRIPTION_CHARS = 200


class ReportNotFound(NotFound):
    pass


@dataclass(frozen=True)
class BrokenReport:
    """A stored row that is not a valid report (written by an older release, or by hand in SQL).

    It is never run and never takes other reports down: listings mark it, the code location
    skips it, and ``reports update SLUG FILE`` or ``reports delete SLUG`` repairs it.
    """

    id: int
    slug: str
    name: str
    user_id: str
    error: str

    def as_dict(self) -> dict:
        return {"id": self.id, "slug": self.slug, "name": self.name, "user_id": self.user_id, "build_error": self.error}


class ReportBroken(ValueError):
    """The stored report cannot be read as a report; the message says what and how to repair it."""

    def __init__(self, broken: BrokenReport):
        super().__init__(
            f"report {broken.slug} (#{broken.id}) is broken and is not scheduled: {broken.error}; "
            f"repair it with `report-pipelines reports update {broken.slug} FILE` or delete it"
        )
        self.broken = broken


def parse_row(row) -> Report | BrokenReport:
    """The row as a Report, or as a BrokenReport saying why it is not one."""
    try:
        return report_from_row(row)
    except (pydantic.ValidationError, ValueError, TypeError, KeyError) as err:
        return BrokenReport(int(row["id"]), str(row["slug"]), str(row["name"]), str(row["user_id"]), error_summary(err))


class ReportNameTaken(ReportValidationError):
    """Another report already has this name or slug (Dagster job names come from the slug)."""

    def __init__(self, message: str, clash_id: int):
        super().__init__(message)
        self.clash_id = clash_id


def _row_values(spec: ReportSpec) -> dict:
    """The row to write, once the spec passes the checks made only when writing."""
    problem = spec.schedule.history_problem()
    if problem:
        raise ReportValidationError(f"schedule.start_date: {problem}")
    schedule = spec.schedule
    slack = spec.slack_config
    return {
        "slug": spec.slug,
        "name": spec.name,
        "description": spec.description,
        "query": spec.query,
        "frequency": schedule.frequency,
        "schedule_time": schedule.time,
        "timezone": schedule.timezone,
        "day_of_week": schedule.day_of_week,
        "day_of_month": None if schedule.day_of_month is None else str(schedule.day_of_month),
        "cron": schedule.cron,
        "start_date": schedule.start_date,
        "enabled": schedule.enabled,
        "user_id": spec.user_id,
        "notification_type": slack.notification_type,
        "slack_channel": slack.slack_channel,
        "slack_user_id": slack.slack_user_id,
        "team_id": slack.team_id,
        "analysis_mode": spec.analysis.mode,
        "audience": spec.analysis.audience,
        "attachments": spec.attachments.model_dump(),
        "send_if": spec.send_if.model_dump(exclude_none=True) if spec.send_if else None,
        "compare": spec.compare.model_dump() if spec.compare.any else None,
        "anomaly": spec.anomaly.model_dump() if spec.anomaly else None,
        "targets": [target.model_dump() for target in spec.targets] or None,
        "destinations": [destination.model_dump(exclude_none=True) for destination in spec.destinations] or None,
    }


def schedule_from_row(row) -> dict:
    """The ``schedule`` of a report file, from a stored row (or its JSON-able job-shaping copy)."""
    day_of_month = row["day_of_month"]
    schedule = {
        "frequency": row["frequency"],
        "time": row["schedule_time"],
        "timezone": row["timezone"],
        "enabled": bool(row["enabled"]),
        "day_of_week": row["day_of_week"],
        "day_of_month": int(day_of_month) if day_of_month and day_of_month.isdigit() else day_of_month,
        "cron": row["cron"],
        "start_date": row["start_date"],
    }
    return {key: value for key, value in schedule.items() if value is not None}


def report_from_row(row: sa.RowMapping) -> Report:
    slack = {
        "notification_type": row["notification_type"],
        "slack_channel": row["slack_channel"],
        "slack_user_id": row["slack_user_id"],
        "team_id": row["team_id"],
    }
    return Report.model_validate(
        {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"] or "",
            "query": row["query"],
            "schedule": schedule_from_row(row),
            "user_id": row["user_id"],
            "slack_config": slack,
            "analysis": {"mode": row["analysis_mode"], "audience": row["audience"]},
            "attachments": row["attachments"] or {},
            "send_if": row["send_if"],
            "compare": row["compare"] or {},
            "anomaly": row["anomaly"],
            "targets": row["targets"] or [],
            "destinations": row["destinations"] or [],
            "snoozed_until": as_utc(row["snoozed_until"]) if row["snoozed_until"] else None,
            "snoozed_by": row["snoozed_by"],
            "source": row["source"],
            "created_at": as_utc(row["created_at"]),
            "updated_at": as_utc(row["updated_at"]),
        }
    )


class ReportStore:
    """Reads and writes reports.

    Example::

        store = ReportStore()            # REPORT_STORE_URL or sqlite in DAGSTER_HOME
        store.create_tables()
        report = store.add(load_report_text(Path("daily.yaml").read_text()))
    """

    def __init__(self, url: str | None = None):
        self.db = Database.open(url)
        self.url = self.db.url
        self.engine = self.db.engine

    def create_tables(self) -> None:
        """Create or upgrade every table of the store (safe to repeat)."""
        self.db.migrate()

    @property
    def safe_url(self) -> str:
        return self.db.safe_url

    def tables_exist(self) -> bool:
        return self.db.ready()

    def list(self, enabled_only: bool = False, user_id: str | None = None) -> list[Report]:
        """Reports by id; only enabled ones, or only ``user_id``'s, when asked."""
        return [r for r in self._parsed(enabled_only, user_id) if isinstance(r, Report)]

    def list_broken(self, user_id: str | None = None) -> list[BrokenReport]:
        """Stored rows that are not valid reports (see BrokenReport), by id."""
        return [r for r in self._parsed(False, user_id) if isinstance(r, BrokenReport)]

    def _parsed(self, enabled_only: bool, user_id: str | None) -> list[Report | BrokenReport]:
        if not self.tables_exist():
            return []
        query = sa.select(scheduled_reports).order_by(scheduled_reports.c.id)
        if enabled_only:
            query = query.where(scheduled_reports.c.enabled.is_(True))
        if user_id is not None:
            query = query.where(scheduled_reports.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [parse_row(row) for row in conn.execute(query).mappings()]

    def job_shaping_rows(self, shard: Shard | None = None) -> list[dict]:
        """The fields that shape Dagster definitions, as plain JSON-able values (one query); only
        ``shard``'s slice when given.

        The description is cut to SHAPE_DESCRIPTION_CHARS: it only labels the job in the UI, and
        the rows are the state every code server and run worker loads.
        """
        if not self.tables_exist():
            return []
        columns = [scheduled_reports.c[name] for name in JOB_SHAPING_FIELDS]
        with self.engine.connect() as conn:
            query = sa.select(*columns).order_by(scheduled_reports.c.id)
            if shard is not None:
                query = query.where(scheduled_reports.c.id % shard.count == shard.index)
            shaped = [_jsonable(dict(row)) for row in conn.execute(query).mappings()]
        for row in shaped:
            row["description"] = clip(row["description"] or "", SHAPE_DESCRIPTION_CHARS)
        return shaped

    def get(self, id_or_slug: int | str) -> Report:
        """The report; ReportBroken if its row is not a valid report."""
        report = self.get_any(id_or_slug)
        if isinstance(report, BrokenReport):
            raise ReportBroken(report)
        return report

    def get_any(self, id_or_slug: int | str) -> Report | BrokenReport:
        """The report, or the broken row by that id or slug (to repair or delete it)."""
        column = (
            scheduled_reports.c.id
            if isinstance(id_or_slug, int)
            else scheduled_reports.c.slug
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(scheduled_reports).where(column == id_or_slug)
            ).mappings().first() if self.tables_exist() else None
        if row is None:
            raise ReportNotFound(f"no report {id_or_slug!r}; `report-pipelines reports list` shows them")
        return parse_row(row)

    def _check_unique(self, conn: sa.Connection, spec: ReportSpec, exclude_id: int | None) -> None:
        query = sa.select(scheduled_reports.c.id, scheduled_reports.c.name).where(
            sa.or_(scheduled_reports.c.slug == spec.slug, scheduled_reports.c.name == spec.name)
        )
        if exclude_id is not None:
            query = query.where(scheduled_reports.c.id != exclude_id)
        clash = conn.execute(query).first()
        if clash is not None:
            raise ReportNameTaken(
                f"name: {spec.name!r} (slug {spec.slug}) is already used by report "
                f"#{clash.id} {clash.name!r}; choose another name",
                clash_id=clash.id,
            )

    def add(self, spec: ReportSpec) -> Report:
        self.create_tables()
        now = utcnow()
        with self.db.begin() as conn:
            report_id = self._insert(conn, spec, now)
        return self.get(int(report_id))

    def update(self, slug: str, spec: ReportSpec) -> Report:
        current = self.get_any(slug)  # a broken row is repaired by replacing it
        with self.db.begin() as conn:
            self._replace(conn, current.id, spec, utcnow())
        return self.get(current.id)

    def set_enabled(self, slug: str, enabled: bool) -> Report:
        """Turn the schedule on or off; turning it on also ends a snooze."""
        current = self.get(slug)
        values = {"enabled": enabled, "updated_at": utcnow()}
        if enabled:
            values.update(snoozed_until=None, snoozed_by=None)
        with self.db.begin() as conn:
            conn.execute(scheduled_reports.update().where(scheduled_reports.c.id == current.id).values(**values))
        return self.get(current.id)

    def apply(self, creates: list[tuple[ReportSpec, str]], updates: list[tuple[int, ReportSpec, str]],
              deletes: list[int]) -> None:
        """Create, replace and delete reports in one transaction: all of it, or none of it.

        ``creates`` and ``updates`` carry each report's source (``file:PATH``)."""
        now = utcnow()
        with self.db.begin() as conn:
            for report_id in deletes:
                self._remove(conn, report_id)
            for report_id, spec, source in updates:
                self._replace(conn, report_id, spec, now, source=source)
            for spec, source in creates:
                self._insert(conn, spec, now, source=source)

    def _insert(self, conn: sa.Connection, spec: ReportSpec, now: dt.datetime, **extra) -> int:
        self._check_unique(conn, spec, exclude_id=None)
        result = conn.execute(
            scheduled_reports.insert().values(**_row_values(spec), **extra, created_at=now, updated_at=now)
        )
        return result.inserted_primary_key[0]

    def _replace(self, conn: sa.Connection, report_id: int, spec: ReportSpec, now: dt.datetime, **extra) -> None:
        self._check_unique(conn, spec, exclude_id=report_id)
        old_query = conn.execute(sa.select(scheduled_reports.c.query).where(scheduled_reports.c.id == report_id)).scalar()
        conn.execute(
            scheduled_reports.update()
            .where(scheduled_reports.c.id == report_id)
            .values(**_row_values(spec), **extra, updated_at=now)
        )
        if old_query != spec.query:
            # Figures kept for comparisons and anomaly checks came from the old query.
            conn.execute(window_metrics.delete().where(window_metrics.c.report_id == report_id))

    @staticmethod
    def _remove(conn: sa.Connection, report_id: int) -> None:
        conn.execute(scheduled_reports.delete().where(scheduled_reports.c.id == report_id))
        conn.execute(window_metrics.delete().where(window_metrics.c.report_id == report_id))

    def set_source(self, slug: str, source: str | None) -> Report:
        current = self.get(slug)
        with self.db.begin() as conn:
            conn.execute(scheduled_reports.update().where(scheduled_reports.c.id == current.id)
                         .values(source=source, updated_at=utcnow()))
        return self.get(current.id)

    def snooze(self, slug: str, until: dt.datetime | None, by: str | None) -> Report:
        """Skip scheduled windows ending before ``until`` (None ends a snooze)."""
        current = self.get(slug)
        with self.db.begin() as conn:
            conn.execute(
                scheduled_reports.update()
                .where(scheduled_reports.c.id == current.id)
                .values(snoozed_until=until, snoozed_by=by if until else None, updated_at=utcnow())
            )
        return self.get(current.id)

    def delete(self, slug: str) -> Report | BrokenReport:
        current = self.get_any(slug)
        with self.db.begin() as conn:
            self._remove(conn, current.id)
        return current



def _jsonable(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = as_utc(value).isoformat()
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out
