"""The report store's database: where it is, one engine per URL, and its schema migrations.

The store is any SQLAlchemy URL (``REPORT_STORE_URL``), by default a SQLite file in
DAGSTER_HOME. Its schema is managed by Alembic (``store/migrations``), in a version table of its
own (``report_pipelines_alembic_version``) because the store may share a PostgreSQL database with
Dagster, whose storage keeps its own ``alembic_version``.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from report_pipelines.names import default_home

metadata = sa.MetaData()

VERSION_TABLE = "report_pipelines_alembic_version"
# The newest migration in store/migrations/versions (test_store.py checks they agree). A store
# at this revision needs no Alembic at all, which keeps opening the store cheap in every run.
HEAD_REVISION = "0008"


class NotFound(LookupError):
    """No report or workspace by that name; the message says how to list them."""


class ReportStoreUnavailable(RuntimeError):
    """The report store cannot be opened or read; the message names it (password hidden)."""


def store_url() -> str:
    """REPORT_STORE_URL, else a SQLite file in DAGSTER_HOME (read at call time, never at import)."""
    url = os.environ.get("REPORT_STORE_URL")
    if url:
        return url
    return f"sqlite:///{default_home() / 'report_store.sqlite'}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; we only ever write UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def first_error_line(err: sa.exc.DBAPIError) -> str:
    return str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__


class Database:
    """One engine per store URL and process, with the schema brought up to date once.

    Example::

        db = Database.open()             # REPORT_STORE_URL or the SQLite file in DAGSTER_HOME
        db.migrate()                     # create or upgrade the tables (safe to repeat)
    """

    _open: dict[str, Database] = {}
    _lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(url, pool_pre_ping=True)
        self._current = False

    @classmethod
    def open(cls, url: str | None = None) -> Database:
        url = url or store_url()
        with cls._lock:
            database = cls._open.get(url)
            if database is None:
                database = cls._open[url] = cls(url)
        return database

    @classmethod
    def close(cls, url: str) -> None:
        """Dispose of the store's connections (before its database is dropped, say)."""
        with cls._lock:
            database = cls._open.pop(url, None)
        if database is not None:
            database.engine.dispose()

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def has_table(self, name: str) -> bool:
        try:
            return sa.inspect(self.engine).has_table(name)
        except sa.exc.OperationalError as err:
            raise ReportStoreUnavailable(
                f"cannot open the report store {self.safe_url}: {first_error_line(err)}; "
                "check REPORT_STORE_URL"
            ) from err

    def revision(self) -> str | None:
        """The store's schema revision; None for a store Alembic has not seen (new or older)."""
        if not self.has_table(VERSION_TABLE):
            return None
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()

    def ready(self) -> bool:
        """The tables exist and are current; an older store is upgraded on the way."""
        if not self.has_table("scheduled_reports"):
            return False
        self.migrate()
        return True

    def migrate(self) -> None:
        """Create the tables, or upgrade a store written by an earlier release (idempotent)."""
        if self._current or self.revision() == HEAD_REVISION:
            self._current = True
            return
        from report_pipelines.store.migrations import upgrade

        try:
            upgrade(self.engine, VERSION_TABLE)
        except sa.exc.DBAPIError:
            # Another process (a webserver and a daemon starting together) may have migrated
            # the same store at the same moment; only a store that is still behind is an error.
            if self.revision() != HEAD_REVISION:
                raise
        self._current = True
