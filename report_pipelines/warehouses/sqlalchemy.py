"""Any SQLAlchemy URL as a warehouse (DuckDB, PostgreSQL, SQLite, ...); the demo's default."""

from __future__ import annotations

import os
import time

import pandas as pd
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import make_url

from report_pipelines.models import ReportWindow
from report_pipelines.names import default_home
from report_pipelines.sql import PARAMETER_PATTERN, find_window_parameters, split_sql
from report_pipelines.warehouses.base import QueryResult, WarehouseError, WarehouseResource


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


class SQLAlchemyWarehouse(WarehouseResource):
    """A warehouse reached through a SQLAlchemy URL.

    Example::

        warehouse = SQLAlchemyWarehouse(url="postgresql+psycopg2://reports@db/analytics")
        result = warehouse.run_query("SELECT * FROM sales WHERE day >= @window_start_date", window)

    DuckDB files are opened read-only: reports only read, and a read-only DuckDB file can be
    shared by concurrent runs.
    """

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the demo DuckDB file in DAGSTER_HOME.",
    )
    query_timeout_seconds: int = Field(
        default=300, description="PostgreSQL statement_timeout for report queries."
    )

    def _engine(self) -> sa.Engine:
        url = self.url or demo_warehouse_url()
        connect_args: dict = {}
        if url.startswith("duckdb:///"):
            path = url.removeprefix("duckdb:///").split("?")[0]
            if path and path != ":memory:" and not os.path.exists(path):
                hint = (
                    "run `report-pipelines demo --no-serve` to create the demo warehouse"
                    if not self.url
                    else "check WAREHOUSE_URL"
                )
                raise WarehouseError(f"DuckDB warehouse file {path} does not exist; {hint}")
            connect_args["read_only"] = path not in ("", ":memory:")
        elif url.startswith("postgresql"):
            connect_args["options"] = f"-c statement_timeout={self.query_timeout_seconds * 1000}"
        return sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)

    @property
    def label(self) -> str:
        url = make_url(self.url or demo_warehouse_url())
        # Never show credentials: the driver and database name are enough to recognise it.
        return f"{url.drivername}:{url.database or ''}"

    def run_query(
        self, sql: str, window: ReportWindow, *, labels: dict[str, str] | None = None
    ) -> QueryResult:
        used = find_window_parameters(sql)
        params = {name: value for name, value in window.query_parameters().items() if name in used}
        statement = to_bound_sql(sql)
        engine = self._engine()
        started = time.monotonic()
        try:
            with engine.connect() as conn:
                result = conn.execute(statement, params)
                if not result.returns_rows:
                    raise WarehouseError("the report query returned no result set; it must be a SELECT")
                columns = list(result.keys())
                rows = result.fetchmany(self.row_cap + 1)
        except sa.exc.DBAPIError as err:
            message = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise WarehouseError(f"the warehouse refused the query: {message}") from err
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

    def check(self) -> str:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        except sa.exc.DBAPIError as err:
            raise WarehouseError(f"{self.label} did not answer SELECT 1: {err.orig}") from err
        finally:
            engine.dispose()
        return f"{self.label} answered SELECT 1"
