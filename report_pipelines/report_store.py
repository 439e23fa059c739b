"""The report store: SQLAlchemy 2 tables ``scheduled_reports`` and ``slack_workspaces``.

Every write validates first and runs in one transaction, so a refused report leaves the store
exactly as it was. Slack bot tokens are stored Fernet-encrypted (REPORT_PIPELINES_SECRET_KEY).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Engine

from report_pipelines.models import Report, ReportSpec, ReportValidationError

metadata = sa.MetaData()

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
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Dagster run history is tagged with the report id: a deleted report's id is never handed to
    # a new report (SQLite would otherwise reuse the highest id after a delete).
    sqlite_autoincrement=True,
)

slack_workspaces = sa.Table(
    "slack_workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team_id", sa.String(32), nullable=False, unique=True),
    sa.Column("team_name", sa.String(200), nullable=False),
    sa.Column("bot_token_encrypted", sa.Text, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Set when Slack rejects the token (invalid_auth, token_revoked ...); cleared on re-adding it.
    sa.Column("last_error", sa.String(64)),
    sa.Column("last_error_at", sa.DateTime(timezone=True)),
)

# The delivery ledger: one row per (report, window, destination). A row is claimed ("sending")
# before the Slack call and completed ("posted") after it, so an op retry, a re-execution, a run
# retry or a second launch of the same window finds it and does not post again.
deliveries = sa.Table(
    "deliveries",
    metadata,
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
    # Thread replies (SQL, overflow, chart, CSV) went out; a retry finishes them if not.
    sa.Column("extras_done", sa.Boolean),
    sa.UniqueConstraint("report_id", "partition_key", "destination", name="uq_delivery_window"),
)

# Fields that shape a report's Dagster definitions (job, partitions, schedule, tags). A change to
# any of them needs a code-location reload; other fields are read by id at run time.
JOB_SHAPING_FIELDS = (
    "id", "slug", "name", "description", "frequency", "schedule_time", "timezone", "day_of_week",
    "day_of_month", "cron", "start_date", "enabled", "user_id", "created_at",
)  # fmt: skip


class ReportNotFound(LookupError):
    pass


class ReportNameTaken(ReportValidationError):
    """Another report already has this name or slug (Dagster job names come from the slug)."""

    def __init__(self, message: str, clash_id: int):
        super().__init__(message)
        self.clash_id = clash_id


class ReportStoreUnavailable(RuntimeError):
    """The report store cannot be opened or read; the message names it (password hidden)."""


class SecretKeyError(RuntimeError):
    """REPORT_PIPELINES_SECRET_KEY is missing or cannot decrypt a stored token."""


def default_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")


def store_url() -> str:
    """REPORT_STORE_URL, else a SQLite file in DAGSTER_HOME (read at call time, never at import)."""
    url = os.environ.get("REPORT_STORE_URL")
    if url:
        return url
    return f"sqlite:///{default_home() / 'report_store.sqlite'}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; we only ever write UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _row_values(spec: ReportSpec) -> dict:
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
            "created_at": _as_utc(row["created_at"]),
            "updated_at": _as_utc(row["updated_at"]),
        }
    )


@dataclass(frozen=True)
class Workspace:
    team_id: str
    team_name: str
    is_active: bool
    created_at: dt.datetime
    last_error: str | None = None
    last_error_at: dt.datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.last_error is None


def _fernet() -> Fernet:
    key = os.environ.get("REPORT_PIPELINES_SECRET_KEY")
    if not key:
        raise SecretKeyError(
            "REPORT_PIPELINES_SECRET_KEY is not set; create one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            " and export it wherever report-pipelines and Dagster run"
        )
    try:
        return Fernet(key.encode())
    except ValueError as err:
        raise SecretKeyError(
            "REPORT_PIPELINES_SECRET_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from err


class ReportStore:
    """Reads and writes reports and Slack workspaces.

    Example::

        store = ReportStore()            # REPORT_STORE_URL or sqlite in DAGSTER_HOME
        store.create_tables()
        report = store.add(load_report_text(Path("daily.yaml").read_text()))
    """

    _engines: dict[str, Engine] = {}
    _schema_checked: set[str] = set()

    def __init__(self, url: str | None = None):
        self.url = url or store_url()
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = self._engines.get(self.url)
        if engine is None:
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            self._engines[self.url] = engine
        self.engine = engine
        if self.url not in self._schema_checked:
            # Stores written by an earlier release lack newer columns; add them once per process.
            if self.tables_exist():
                self._add_missing_columns()
            self._schema_checked.add(self.url)

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added in later releases are added to older stores (all are nullable)."""
        inspector = sa.inspect(self.engine)
        for table in (scheduled_reports, slack_workspaces):
            present = {column["name"] for column in inspector.get_columns(table.name)}
            missing = [column for column in table.columns if column.name not in present]
            if not missing:
                continue
            with self._begin() as conn:
                for column in missing:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def tables_exist(self) -> bool:
        try:
            return sa.inspect(self.engine).has_table("scheduled_reports")
        except sa.exc.OperationalError as err:
            raise ReportStoreUnavailable(
                f"cannot open the report store {self.safe_url}: "
                f"{str(err.orig).strip().splitlines()[0]}; check REPORT_STORE_URL"
            ) from err

    def list(self, enabled_only: bool = False, user_id: str | None = None) -> list[Report]:
        """Reports by id; only enabled ones, or only ``user_id``'s, when asked."""
        if not self.tables_exist():
            return []
        query = sa.select(scheduled_reports).order_by(scheduled_reports.c.id)
        if enabled_only:
            query = query.where(scheduled_reports.c.enabled.is_(True))
        if user_id is not None:
            query = query.where(scheduled_reports.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [report_from_row(row) for row in conn.execute(query).mappings()]

    def job_shaping_rows(self) -> list[dict]:
        """The fields that shape Dagster definitions, as plain JSON-able values (one query)."""
        if not self.tables_exist():
            return []
        columns = [scheduled_reports.c[name] for name in JOB_SHAPING_FIELDS]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).order_by(scheduled_reports.c.id)).mappings()
            return [_jsonable(dict(row)) for row in rows]

    def get(self, id_or_slug: int | str) -> Report:
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
        return report_from_row(row)

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
        now = _utcnow()
        with self._begin() as conn:
            self._check_unique(conn, spec, exclude_id=None)
            result = conn.execute(
                scheduled_reports.insert().values(**_row_values(spec), created_at=now, updated_at=now)
            )
            report_id = result.inserted_primary_key[0]
        return self.get(int(report_id))

    def update(self, slug: str, spec: ReportSpec) -> Report:
        current = self.get(slug)
        with self._begin() as conn:
            self._check_unique(conn, spec, exclude_id=current.id)
            conn.execute(
                scheduled_reports.update()
                .where(scheduled_reports.c.id == current.id)
                .values(**_row_values(spec), updated_at=_utcnow())
            )
        return self.get(current.id)

    def set_enabled(self, slug: str, enabled: bool) -> Report:
        current = self.get(slug)
        with self._begin() as conn:
            conn.execute(
                scheduled_reports.update()
                .where(scheduled_reports.c.id == current.id)
                .values(enabled=enabled, updated_at=_utcnow())
            )
        return self.get(current.id)

    def delete(self, slug: str) -> Report:
        current = self.get(slug)
        with self._begin() as conn:
            conn.execute(scheduled_reports.delete().where(scheduled_reports.c.id == current.id))
        return current

    def add_workspace(self, team_id: str, team_name: str, token: str) -> Workspace:
        if not team_id.strip() or not team_name.strip():
            raise ReportValidationError("team_id and team_name must not be empty")
        if not token.startswith("xoxb-"):
            raise ReportValidationError(
                "the Slack bot token must start with xoxb- (OAuth & Permissions -> Bot User OAuth Token)"
            )
        encrypted = _fernet().encrypt(token.encode()).decode()
        self.create_tables()
        now = _utcnow()
        with self._begin() as conn:
            existing = conn.execute(
                sa.select(slack_workspaces.c.id).where(slack_workspaces.c.team_id == team_id)
            ).first()
            values = {
                "team_name": team_name,
                "bot_token_encrypted": encrypted,
                "is_active": True,
                "updated_at": now,
                "last_error": None,
                "last_error_at": None,
            }
            if existing:
                conn.execute(
                    slack_workspaces.update().where(slack_workspaces.c.id == existing.id).values(**values)
                )
            else:
                conn.execute(slack_workspaces.insert().values(team_id=team_id, created_at=now, **values))
        return next(w for w in self.workspaces() if w.team_id == team_id)

    def workspaces(self, active_only: bool = False) -> list[Workspace]:
        if not sa.inspect(self.engine).has_table("slack_workspaces"):
            return []
        query = sa.select(slack_workspaces).order_by(slack_workspaces.c.id)
        if active_only:
            query = query.where(slack_workspaces.c.is_active.is_(True))
        with self.engine.connect() as conn:
            return [
                Workspace(
                    team_id=row["team_id"],
                    team_name=row["team_name"],
                    is_active=bool(row["is_active"]),
                    created_at=_as_utc(row["created_at"]),
                    last_error=row["last_error"],
                    last_error_at=_as_utc(row["last_error_at"]) if row["last_error_at"] else None,
                )
                for row in conn.execute(query).mappings()
            ]

    def workspace_token(self, team_id: str) -> str:
        with self.engine.connect() as conn:
            encrypted = conn.execute(
                sa.select(slack_workspaces.c.bot_token_encrypted).where(
                    slack_workspaces.c.team_id == team_id
                )
            ).scalar_one_or_none()
        if encrypted is None:
            raise ReportNotFound(f"no Slack workspace {team_id}; add it with `report-pipelines workspaces add`")
        try:
            return _fernet().decrypt(encrypted.encode()).decode()
        except InvalidToken as err:
            raise SecretKeyError(
                f"the stored token of workspace {team_id} cannot be decrypted with "
                "REPORT_PIPELINES_SECRET_KEY; set the key it was stored with, or add the workspace again"
            ) from err

    def rotate_secret_key(self, new_key: str) -> int:
        """Re-encrypt every stored token with ``new_key``, all or nothing; returns how many."""
        try:
            new = Fernet(new_key.encode())
        except ValueError as err:
            raise SecretKeyError("the new key is not a valid Fernet key") from err
        old = _fernet()
        with self._begin() as conn:
            rows = conn.execute(sa.select(slack_workspaces.c.id, slack_workspaces.c.team_id,
                                          slack_workspaces.c.bot_token_encrypted)).all()
            for row in rows:
                try:
                    token = old.decrypt(row.bot_token_encrypted.encode())
                except InvalidToken as err:
                    raise SecretKeyError(
                        f"workspace {row.team_id}'s token does not decrypt with the current "
                        "REPORT_PIPELINES_SECRET_KEY; nothing was re-encrypted"
                    ) from err
                conn.execute(
                    slack_workspaces.update().where(slack_workspaces.c.id == row.id)
                    .values(bot_token_encrypted=new.encrypt(token).decode(), updated_at=_utcnow())
                )
        return len(rows)

    def mark_workspace_unhealthy(self, team_id: str, error: str) -> None:
        with self._begin() as conn:
            conn.execute(
                slack_workspaces.update()
                .where(slack_workspaces.c.team_id == team_id)
                .values(last_error=error, last_error_at=_utcnow())
            )

    def set_workspace_active(self, team_id: str, active: bool) -> None:
        with self._begin() as conn:
            updated = conn.execute(
                slack_workspaces.update()
                .where(slack_workspaces.c.team_id == team_id)
                .values(is_active=active, updated_at=_utcnow())
            ).rowcount
        if not updated:
            raise ReportNotFound(f"no Slack workspace {team_id}")


@dataclass(frozen=True)
class LedgerEntry:
    report_id: int
    partition_key: str
    destination: str
    status: str  # "sending" | "posted"
    channel: str | None
    ts: str | None
    run_id: str
    updated_at: dt.datetime
    extras_done: bool = False


class DeliveryLedger:
    """Claims and records deliveries so each (report, window, destination) is posted once."""

    _ready: set[str] = set()

    def __init__(self, store: ReportStore):
        self.engine = store.engine
        # Once per store and process: a ledger is opened for every delivery.
        if store.url not in self._ready:
            metadata.create_all(self.engine, tables=[deliveries])
            store._add_missing_columns()
            self._ready.add(store.url)

    def _where(self, report_id: int, partition_key: str, destination: str):
        return sa.and_(
            deliveries.c.report_id == report_id,
            deliveries.c.partition_key == partition_key,
            deliveries.c.destination == destination,
        )

    def get(self, report_id: int, partition_key: str, destination: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(deliveries).where(self._where(report_id, partition_key, destination))
            ).mappings().first()
        if row is None:
            return None
        return LedgerEntry(
            report_id=row["report_id"], partition_key=row["partition_key"],
            destination=row["destination"], status=row["status"], channel=row["channel"],
            ts=row["ts"], run_id=row["run_id"], updated_at=_as_utc(row["updated_at"]),
            extras_done=bool(row["extras_done"]),
        )

    def claim(self, report_id: int, partition_key: str, destination: str, run_id: str) -> bool:
        """Insert a "sending" row; False when the window already has a row (a unique index
        decides, so two runs racing for the same window cannot both win)."""
        now = _utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    deliveries.insert().values(
                        report_id=report_id, partition_key=partition_key, destination=destination,
                        status="sending", run_id=run_id, created_at=now, updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def complete(
        self, report_id: int, partition_key: str, destination: str, run_id: str,
        channel: str | None, ts: str | None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(self._where(report_id, partition_key, destination))
                .values(status="posted", channel=channel, ts=ts, run_id=run_id, updated_at=_utcnow())
            )

    def mark_extras_done(self, report_id: int, partition_key: str, destination: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(self._where(report_id, partition_key, destination))
                .values(extras_done=True, updated_at=_utcnow())
            )

    def release(self, report_id: int, partition_key: str, destination: str, run_id: str) -> None:
        """Drop this run's claim after a failure that certainly posted nothing."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.delete().where(
                    sa.and_(
                        self._where(report_id, partition_key, destination),
                        deliveries.c.run_id == run_id,
                        deliveries.c.status == "sending",
                    )
                )
            )

    def take_over(self, report_id: int, partition_key: str, destination: str, run_id: str) -> None:
        """A forced re-run owns the row from now on (its earlier ts is kept until it posts)."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(self._where(report_id, partition_key, destination))
                .values(run_id=run_id, updated_at=_utcnow())
            )


def _jsonable(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = _as_utc(value).isoformat()
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out
