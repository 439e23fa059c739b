"""Any SQLAlchemy URL as a warehouse (DuckDB, PostgreSQL, SQLite, ...); the demo's default."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import make_url

from report_pipelines.models import ReportWindow
from report_pipelines.names import default_home
from report_pipelines.sql import PARAMETER_PATTERN, find_window_parameters, split_sql
from report_pipelines.warehouses.base import QueryResult, WarehouseError, WarehouseResource, read_only_sql


def demo_warehouse_path() -> str:
    return str(default_home() / "demo_warehouse.duckdb")


def demo_warehouse_url() -> str:
    return f"duckdb:///{demo_warehouse_path()}"


def to_bound_sql(sql: str) -> sa.TextClause:
    """Turn ``@window_start``-style markers into SQLAlchemy bound parameters.

    Every other colon is escaped, so ``'12:30'`` or ``x::date`` never becomes a parameter, and
    markers are wrapped in parentheses so ``@window_start_date::date`` still casts.
    """
    parts = []
    for kind, chunk in split_sql(sql):
        escaped = chunk.replace(":", "\\:")
        if kind == "code":
            escaped = PARAMETER_PATTERN.sub(lambda m: f"(:{m.group(1)})", escaped)
        parts.append(escaped)
    return sa.text("".join(parts))


# DuckDB settings of every warehouse connection, locked so the query cannot change them: no
# file outside the database (read_text, read_csv, glob, ATTACH, COPY, EXPORT), no URL, no
# extension installed or loaded.
DUCKDB_SANDBOX = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}
# SQLite authorizer actions a query may perform: read tables, call functions, recurse in a CTE.
# Everything else (writes, ATTACH, PRAGMA, schema changes, transactions) is denied by SQLite.
_SQLITE_ALLOWED = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
)
# SQLite functions that reach outside the database where an extension or shell defines them.
_SQLITE_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})


def _sqlite_authorizer(action: int, arg1, arg2, database, trigger) -> int:
    if action not in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _sandbox_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")
    dbapi_connection.set_authorizer(_sqlite_authorizer)


def sandbox_error(message: str) -> str:
    """The warehouse's refusal, with what to do about it when it is the sandbox's."""
    lowered = message.lower()
    if any(
        marker in lowered
        for marker in (
            "disabled by configuration", "disabled through configuration", "configuration has been locked",
            "read-only", "read only", "not authorized", "permission denied", "must be superuser",
        )
    ):  # fmt: skip
        return (
            f"{message} (report SQL runs read-only and may read only the warehouse's tables; "
            "see the README's Security section)"
        )
    return message


class SQLAlchemyWarehouse(WarehouseResource):
    """A warehouse reached through a SQLAlchemy URL.

    Example::

        warehouse = SQLAlchemyWarehouse(url="postgresql+psycopg2://reports@db/analytics")
        result = warehouse.run_query("SELECT * FROM sales WHERE day >= @window_start_date", window)

    Every query passes :func:`check_read_only` and then runs on a sandboxed connection that
    holds on its own, whatever the SQL: DuckDB files are opened read-only with external access,
    extensions and configuration changes off (:data:`DUCKDB_SANDBOX`); PostgreSQL sessions are
    read-only (``default_transaction_read_only``) with a statement timeout, and should log in as
    a read-only role (README); SQLite connections deny everything but reading through SQLite's
    authorizer. A query running past ``query_timeout_seconds`` is interrupted.
    """

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the demo DuckDB file in DAGSTER_HOME.",
    )
    query_timeout_seconds: int = Field(
        default=300, description="Longest a report query may run before it is cancelled."
    )

    def _resolved_url(self) -> str:
        url = self.url
        if isinstance(url, dg.EnvVar):
            # Outside a Dagster run (the CLI's preview) the field still holds the EnvVar itself.
            url = url.get_value()
        return url or demo_warehouse_url()

    def _engine(self) -> sa.Engine:
        url = self._resolved_url()
        connect_args: dict = {}
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "duckdb":
            path = parsed.database or ""
            if path and path != ":memory:" and not os.path.exists(path):
                hint = (
                    "run `report-pipelines demo --no-serve` to create the demo warehouse"
                    if not self.url
                    else "check WAREHOUSE_URL"
                )
                raise WarehouseError(f"DuckDB warehouse file {path} does not exist; {hint}")
            connect_args["read_only"] = path not in ("", ":memory:")
            connect_args["config"] = dict(DUCKDB_SANDBOX)
        elif backend == "postgresql":
            connect_args["options"] = (
                f"-c default_transaction_read_only=on -c statement_timeout={self.query_timeout_seconds * 1000}"
            )
        engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)
        if backend == "sqlite":
            sa.event.listen(engine, "connect", _sandbox_sqlite)
        elif backend in ("mysql", "mariadb"):
            sa.event.listen(engine, "connect", self._sandbox_mysql)
        return engine

    def _sandbox_mysql(self, dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        cursor.execute(f"SET SESSION max_execution_time = {self.query_timeout_seconds * 1000}")
        cursor.close()

    @property
    def label(self) -> str:
        url = make_url(self._resolved_url())
        # Never show credentials: the driver and database name are enough to recognise it.
        return f"{url.drivername}:{url.database or ''}"

    def run_query(
        self, sql: str, window: ReportWindow, *, labels: dict[str, str] | None = None
    ) -> QueryResult:
        return self._run_sandboxed(read_only_sql(sql), window)

    def _run_sandboxed(self, sql: str, window: ReportWindow) -> QueryResult:
        """Run ``sql`` on the sandboxed connection only, without :func:`check_read_only`: the
        engine's own refusals are all that stands between it and the server."""
        used = find_window_parameters(sql)
        params = {name: value for name, value in window.query_parameters().items() if name in used}
        statement = to_bound_sql(sql)
        engine = self._engine()
        started = time.monotonic()
        try:
            with engine.connect() as conn, self._deadline(conn):
                result = conn.execute(statement, params)
                if not result.returns_rows:
                    raise WarehouseError("the report query returned no result set; it must be a SELECT")
                columns = list(result.keys())
                rows = result.fetchmany(self.row_cap + 1)
                # Nothing a report runs is ever committed.
                conn.rollback()
        except sa.exc.DBAPIError as err:
            message = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise WarehouseError(f"the warehouse refused the query: {sandbox_error(message)}") from err
        except sa.exc.StatementError as err:
            raise WarehouseError(f"the query could not be run: {err.orig or err}") from err
        finally:
            engine.dispose()
        truncated = len(rows) > self.row_cap
        rows = rows[: self.row_cap]
        frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)
        return QueryResult(
            frame=frame,
            truncated=truncated,
            row_cap=self.row_cap,
            warehouse=self.label,
            parameters_used=used,
            metadata={"query_seconds": round(time.monotonic() - started, 3)},
        )

    @contextlib.contextmanager
    def _deadline(self, conn: sa.Connection):
        """Interrupt a DuckDB or SQLite query that runs past ``query_timeout_seconds`` (PostgreSQL
        and MySQL enforce their own statement timeouts)."""
        raw = conn.connection.dbapi_connection
        backend = conn.engine.dialect.name
        if backend not in ("duckdb", "sqlite") or raw is None:
            yield
            return
        timer = threading.Timer(self.query_timeout_seconds, raw.interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def check(self) -> str:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
                superuser = engine.dialect.name == "postgresql" and conn.execute(
                    sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                ).scalar()
        except sa.exc.DBAPIError as err:
            raise WarehouseError(f"{self.label} did not answer SELECT 1: {err.orig}") from err
        finally:
            engine.dispose()
        if superuser:
            # A superuser's session reads server files (pg_read_file) whatever the transaction
            # mode; only a read-only role keeps report SQL to the tables.
            return (
                f"{self.label} answered SELECT 1, but it logs in as a superuser: give WAREHOUSE_URL "
                "a read-only role (README, Security)"
            )
        return f"{self.label} answered SELECT 1"
