"""The SQLAlchemy warehouse binds window parameters for real and caps rows visibly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from report_pipelines.models import ReportWindow
from report_pipelines.sql import find_window_parameters
from report_pipelines.warehouses.base import WarehouseError
from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse, to_bound_sql

UTC = dt.timezone.utc
WINDOW = ReportWindow(
    partition_key="2026-03-02-09:00",
    start=dt.datetime(2026, 3, 2, 9, tzinfo=UTC),
    end=dt.datetime(2026, 3, 3, 9, tzinfo=UTC),
    timezone="UTC",
)


def test_markers_inside_literals_and_comments_are_not_parameters():
    sql = (
        "SELECT 'bob@window_start.io' AS email, \"@window_end\" AS col -- @window_end_date\n"
        "FROM t /* @window_start */ WHERE d >= @window_start_date AND x = 'it''s @window_end'"
    )
    assert find_window_parameters(sql) == ["window_start_date"]
    compiled = str(to_bound_sql(sql))
    assert "'bob@window_start.io'" in compiled
    assert compiled.count(":window_start_date") == 1


def test_sqlite_binds_parameters_and_keeps_colons(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (day DATE, who TEXT, note TEXT)"))
        conn.execute(
            sa.text("INSERT INTO events VALUES ('2026-03-01', 'a@x.io', 'x'), ('2026-03-02', 'b@y.io', 'at 12:30'),"
                    " ('2026-03-03', 'c@z.io', 'y')")
        )
    warehouse = SQLAlchemyWarehouse(url=url)
    result = warehouse.run_query(
        "SELECT who, note, '12:30' AS t, 'me@window_start.io' AS lit FROM events "
        "WHERE day >= @window_start_date AND day < @window_end_date",
        WINDOW,
    )
    assert result.frame.to_dict("records") == [
        {"who": "b@y.io", "note": "at 12:30", "t": "12:30", "lit": "me@window_start.io"}
    ]
    assert result.parameters_used == ["window_start_date", "window_end_date"]
    assert not result.truncated


def test_duckdb_timestamps_casts_and_row_cap(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2026-03-02 00:00:00+00' + i * INTERVAL 1 HOUR AS ts,"
                     " CAST(i AS DECIMAL(10,2)) AS v FROM range(48) r(i)")
    warehouse = SQLAlchemyWarehouse(url=f"duckdb:///{path}", row_cap=10)
    sql = ("SELECT ts, v, @window_start_date::date AS d FROM t "
           "WHERE ts >= @window_start AND ts < @window_end ORDER BY ts")
    result = warehouse.run_query(sql, WINDOW)
    assert result.truncated and result.row_count == 10 and result.row_cap == 10
    assert result.frame["v"].iloc[0] == Decimal("9.00")
    assert str(result.frame["d"].iloc[0])[:10] == "2026-03-02"
    full = SQLAlchemyWarehouse(url=f"duckdb:///{path}", row_cap=24).run_query(sql, WINDOW)
    assert full.row_count == 24 and not full.truncated


def test_injection_through_window_is_impossible_and_errors_are_clear(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    warehouse = SQLAlchemyWarehouse(url=url)
    with pytest.raises(WarehouseError, match="refused the query: no such table: nope"):
        warehouse.run_query("SELECT * FROM nope WHERE d > @window_start", WINDOW)
    with pytest.raises(WarehouseError, match="report SQL was refused: only SELECT queries may run"):
        warehouse.run_query("CREATE TABLE x (a INT)", WINDOW)


def test_missing_demo_file_says_how_to_create_it(home):
    (home / "demo_warehouse.duckdb").unlink()
    with pytest.raises(WarehouseError, match="report-pipelines demo"):
        SQLAlchemyWarehouse().run_query("SELECT 1", WINDOW)


def test_postgresql_warehouse_binds_typed_parameters():
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    try:
        sa.create_engine(url).connect().close()
    except sa.exc.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {err.orig}")
    warehouse = SQLAlchemyWarehouse(url=url)
    result = warehouse.run_query(
        "SELECT @window_start AS s, @window_end_date AS e, pg_typeof(@window_start)::text AS t,"
        " 'x@window_end' AS lit, '1'::int AS one",
        WINDOW,
    )
    row = result.frame.iloc[0]
    assert row["s"] == WINDOW.start and row["e"] == dt.date(2026, 3, 3)
    assert row["t"].startswith("timestamp") and row["lit"] == "x@window_end" and row["one"] == 1
    assert "postgres@" not in warehouse.label and "127.0.0.1" not in warehouse.label
