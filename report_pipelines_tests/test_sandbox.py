"""The warehouse sandbox: report SQL reads the warehouse's tables and nothing else.

Each escape attempt runs the way a report's query runs (``run_query``: the allow-list check,
then the sandboxed connection) and must be refused with a clear error, with nothing read (a
marker from a server file never appears anywhere) and nothing changed (tables, sequences and the
folder the warehouse sits in are as before). A second set bypasses the check and sends the SQL
straight to the sandboxed connection: the engine refuses on its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from report_pipelines.cli import main
from report_pipelines.definitions import build_repository
from report_pipelines.models import ReportValidationError, ReportWindow
from report_pipelines.report_files import load_report_text
from report_pipelines.service import reports as report_service
from report_pipelines.sql import check_read_only
from report_pipelines.store import ReportStore
from report_pipelines.warehouses.base import WarehouseError
from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
MARKER = "SANDBOX-MARKER-7f3a9c"
WINDOW = ReportWindow(
    partition_key="2026-11-25-00:00",
    start=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
    end=dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc),
    timezone="UTC",
)


@pytest.fixture(scope="module")
def server_files(tmp_path_factory) -> dict[str, Path]:
    """A folder with a secret file beside the warehouses, as a server's data folder would be."""
    folder = tmp_path_factory.mktemp("server")
    secret = folder / "secret.env"
    secret.write_text(f"REPORT_PIPELINES_SECRET_KEY={MARKER}\n")
    (folder / "secret.csv").write_text(f"key\n{MARKER}\n")
    duck = folder / "warehouse.duckdb"
    with duckdb.connect(str(duck)) as conn:
        conn.execute("CREATE TABLE sales AS SELECT 1 AS id, 10.0 AS amount UNION ALL SELECT 2, 20.0")
    lite = folder / "warehouse.sqlite"
    engine = sa.create_engine(f"sqlite:///{lite}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE sales (id INTEGER, amount REAL)")
        conn.exec_driver_sql("INSERT INTO sales VALUES (1, 10.0), (2, 20.0)")
    engine.dispose()
    return {"folder": folder, "secret": secret, "duckdb": duck, "sqlite": lite}


@pytest.fixture(scope="module")
def postgres_warehouse():
    """A database with a sales table and a sequence, and the documented read-only role."""
    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except sa.exc.OperationalError as err:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {err.orig}")
    name = f"sandbox_{uuid.uuid4().hex[:8]}"
    role = f"reports_reader_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    owner = sa.create_engine(f"{POSTGRES}/{name}", isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE sales (id INTEGER, amount NUMERIC)")
        conn.exec_driver_sql("INSERT INTO sales VALUES (1, 10), (2, 20)")
        conn.exec_driver_sql("CREATE SEQUENCE invoice_numbers")
        # The README's read-only role: it logs in, reads the tables, and nothing more.
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield {"owner": owner, "url": f"postgresql+psycopg2://{role}@127.0.0.1:5432/{name}"}
    finally:
        owner.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def warehouse_for(backend: str, server_files, postgres_warehouse=None, **options) -> SQLAlchemyWarehouse:
    if backend == "postgresql":
        return SQLAlchemyWarehouse(url=postgres_warehouse["url"], **options)
    return SQLAlchemyWarehouse(url=f"{backend}:///{server_files[backend]}", **options)


def state_of(backend: str, server_files, postgres_warehouse=None) -> tuple:
    """Everything an escape could change: the rows, the files in the folder, the sequence."""
    files = sorted((path.name, path.stat().st_size) for path in server_files["folder"].iterdir()
                   if path.suffix not in (".wal", ".tmp"))
    if backend == "postgresql":
        with postgres_warehouse["owner"].connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, amount FROM sales ORDER BY id").all()
            sequence = conn.exec_driver_sql("SELECT last_value, is_called FROM invoice_numbers").one()
            large_objects = conn.exec_driver_sql("SELECT count(*) FROM pg_largeobject_metadata").scalar()
        return tuple(rows), tuple(sequence), large_objects, tuple(files)
    if backend == "duckdb":
        with duckdb.connect(str(server_files["duckdb"]), read_only=True) as conn:
            rows = conn.execute("SELECT id, amount FROM sales ORDER BY id").fetchall()
            tables = conn.execute("SELECT count(*) FROM duckdb_tables()").fetchone()
        return tuple(rows), tables, tuple(files)
    engine = sa.create_engine(f"sqlite:///{server_files['sqlite']}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, amount FROM sales ORDER BY id").all()
        tables = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    engine.dispose()
    return tuple(rows), tables, tuple(files)


SECRET = "{secret}"
CSV = "{csv}"
ATTEMPTS = [
    # File readers.
    ("duckdb", f"SELECT * FROM read_text('{SECRET}')", "table function read_text() is not allowed"),
    ("duckdb", f"SELECT * FROM read_csv_auto('{CSV}')", "table function read_csv_auto() is not allowed"),
    ("duckdb", f"SELECT * FROM read_csv('{CSV}')", "table function read_csv() is not allowed"),
    ("duckdb", f"SELECT * FROM read_blob('{SECRET}')", "table function read_blob() is not allowed"),
    ("duckdb", f"SELECT * FROM read_json_objects_auto('{SECRET}')", "table function read_json_objects_auto() is not allowed"),
    ("duckdb", "SELECT * FROM parquet_metadata('/etc/hostname')", "table function parquet_metadata() is not allowed"),
    ("duckdb", "SELECT * FROM glob('/etc/*')", "table function glob() is not allowed"),
    ("duckdb", f"SELECT * FROM '{CSV}'", "found FROM '"),
    ("duckdb", "SELECT * FROM \"/proc/self/environ\"", "is a file"),
    ("duckdb", "SELECT * FROM sqlite_scan('/etc/hostname', 'x')", "table function sqlite_scan() is not allowed"),
    ("duckdb", "SELECT * FROM st_read('/etc/hostname')", "table function st_read() is not allowed"),
    ("duckdb", "SELECT * FROM duckdb_settings()", "table function duckdb_settings() is not allowed"),
    ("duckdb", "SELECT * FROM postgres_execute('x', 'DROP TABLE sales')", "table function postgres_execute() is not allowed"),
    ("duckdb", "SELECT getenv('REPORT_PIPELINES_SECRET_KEY')", "getenv() reaches outside"),
    ("duckdb", "SELECT current_setting('enable_external_access')", "current_setting() reaches outside"),
    # ATTACH, COPY, INSTALL / LOAD, PRAGMA, SET.
    ("duckdb", "ATTACH '{folder}/other.duckdb' AS other", "starts with ATTACH"),
    ("duckdb", "COPY sales TO '{folder}/out.csv'", "starts with COPY"),
    ("duckdb", "INSTALL httpfs", "INSTALL"),
    ("duckdb", "LOAD httpfs", "LOAD"),
    ("duckdb", "SET enable_external_access = true", "starts with SET"),
    ("duckdb", "PRAGMA enable_profiling", "starts with PRAGMA"),
    ("duckdb", "EXPORT DATABASE '{folder}/dump'", "EXPORT"),
    ("duckdb", "CALL pragma_version()", "CALL"),
    # Several statements, and comments hiding one.
    ("duckdb", "SELECT 1; DROP TABLE sales", "found DROP"),
    ("duckdb", "SELECT 1 /* ; */; CREATE TABLE stolen AS SELECT 1", "found CREATE"),
    ("duckdb", "SELECT 1 -- harmless\n; DELETE FROM sales", "found DELETE"),
    ("duckdb", "SELECT 1 # BigQuery comment\n; DROP TABLE sales", "found DROP"),
    ("duckdb", "WITH x AS (SELECT 1) INSERT INTO sales SELECT 3, 30", "found INSERT"),
    # PostgreSQL: side effects, server files, settings, writes.
    ("postgresql", "SELECT pg_sleep(30)", "pg_sleep() is not on the list"),
    ("postgresql", "SELECT set_config('default_transaction_read_only', 'off', false)", "set_config() is not on the list"),
    ("postgresql", "SELECT nextval('invoice_numbers')", "nextval() is not on the list"),
    ("postgresql", "SELECT setval('invoice_numbers', 99)", "setval() is not on the list"),
    ("postgresql", "SELECT pg_terminate_backend(pg_backend_pid())", "pg_terminate_backend() is not on the list"),
    ("postgresql", "SELECT lo_unlink(1)", "lo_unlink() is not on the list"),
    ("postgresql", f"SELECT lo_import('{SECRET}')", "lo_import() reaches outside"),
    ("postgresql", f"SELECT pg_read_file('{SECRET}')", "pg_read_file() reaches outside"),
    ("postgresql", "SELECT * FROM pg_ls_dir('.')", "table function pg_ls_dir() is not allowed"),
    ("postgresql", "SELECT * FROM sales; UPDATE sales SET amount = 0", "found UPDATE"),
    ("postgresql", "COPY sales TO PROGRAM 'id'", "starts with COPY"),
    ("postgresql", "SELECT * FROM sales FOR UPDATE", "found UPDATE"),
    ("postgresql", "SET default_transaction_read_only = off", "starts with SET"),
    # SQLite: ATTACH makes files, PRAGMA changes the database, load_extension runs code.
    ("sqlite", "ATTACH DATABASE '{folder}/made.sqlite' AS made", "starts with ATTACH"),
    ("sqlite", "PRAGMA writable_schema = ON", "starts with PRAGMA"),
    ("sqlite", "SELECT load_extension('/tmp/evil.so')", "load_extension() is not on the list"),
    ("sqlite", "SELECT readfile('{secret}')", "readfile() is not on the list"),
    ("sqlite", "SELECT 1; DELETE FROM sales", "found DELETE"),
    ("sqlite", "VACUUM INTO '{folder}/copy.sqlite'", "VACUUM"),
]


def fill(sql: str, server_files) -> str:
    return sql.format(secret=server_files["secret"], csv=server_files["folder"] / "secret.csv",
                      folder=server_files["folder"])


@pytest.mark.parametrize(("backend", "sql", "message"), ATTEMPTS, ids=[f"{b}-{i}" for i, (b, _, _) in enumerate(ATTEMPTS)])
def test_escape_attempts_are_refused_with_nothing_read_or_changed(
    backend, sql, message, server_files, request
):
    postgres = request.getfixturevalue("postgres_warehouse") if backend == "postgresql" else None
    warehouse = warehouse_for(backend, server_files, postgres)
    before = state_of(backend, server_files, postgres)
    with pytest.raises(WarehouseError) as refused:
        warehouse.run_query(fill(sql, server_files), WINDOW)
    text = str(refused.value)
    assert "the report SQL was refused" in text and message in text, text
    assert MARKER not in text
    assert state_of(backend, server_files, postgres) == before
    # The same warehouse still answers a plain report query.
    assert warehouse.run_query("SELECT id, amount FROM sales ORDER BY id", WINDOW).row_count == 2


ENGINE_REFUSALS = [
    # With the SQL check bypassed, DuckDB's locked configuration refuses every file and extension.
    ("duckdb", "SELECT * FROM read_text('{secret}')", "file system operations are disabled"),
    ("duckdb", "SELECT * FROM read_csv_auto('{csv}')", "file system operations are disabled"),
    ("duckdb", "SELECT * FROM read_blob('{secret}')", "file system operations are disabled"),
    ("duckdb", "SELECT * FROM glob('{folder}/*')", "file system operations are disabled"),
    ("duckdb", "ATTACH '{folder}/other.duckdb' AS other", "file system operations are disabled"),
    ("duckdb", "COPY sales TO '{folder}/out.csv'", "file system operations are disabled"),
    ("duckdb", "LOAD httpfs", "disabled through configuration"),
    ("duckdb", "SET enable_external_access = true", "configuration has been locked"),
    ("duckdb", "CREATE TABLE stolen AS SELECT 1", "read-only mode"),
    # SQLite's authorizer denies everything but reading.
    ("sqlite", "ATTACH DATABASE '{folder}/made.sqlite' AS made", "not authorized"),
    ("sqlite", "PRAGMA writable_schema = ON", "not authorized"),
    ("sqlite", "INSERT INTO sales VALUES (3, 30)", "not authorized"),
    ("sqlite", "CREATE TABLE stolen (a)", "not authorized"),
    # PostgreSQL: a read-only transaction, a statement timeout and a role without server rights.
    ("postgresql", "SELECT nextval('invoice_numbers')", "permission denied"),
    ("postgresql", "SELECT set_config('transaction_read_only', 'off', true)", "read-write mode must be set before any query"),
    ("postgresql", "SELECT pg_read_file('{secret}')", "permission denied for function pg_read_file"),
    ("postgresql", "SELECT lo_import('{secret}')", "permission denied for function lo_import"),
    ("postgresql", "SELECT 1 AS x; INSERT INTO sales VALUES (3, 30)", "read-only transaction"),
    ("postgresql", "SELECT pg_sleep(5)", "statement timeout"),
]


@pytest.mark.parametrize(("backend", "sql", "message"), ENGINE_REFUSALS,
                         ids=[f"{b}-{i}" for i, (b, _, _) in enumerate(ENGINE_REFUSALS)])
def test_the_engine_refuses_on_its_own(backend, sql, message, server_files, request):
    postgres = request.getfixturevalue("postgres_warehouse") if backend == "postgresql" else None
    warehouse = warehouse_for(backend, server_files, postgres, query_timeout_seconds=1)
    before = state_of(backend, server_files, postgres)
    with pytest.raises(WarehouseError) as refused:
        warehouse._run_sandboxed(fill(sql, server_files), WINDOW)
    assert message in str(refused.value) and MARKER not in str(refused.value)
    assert state_of(backend, server_files, postgres) == before


def test_duckdb_and_sqlite_queries_past_the_timeout_are_interrupted(server_files):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    for backend in ("duckdb", "sqlite"):
        with pytest.raises(WarehouseError, match="(?i)interrupt"):
            warehouse_for(backend, server_files, query_timeout_seconds=1).run_query(endless, WINDOW)


def test_postgres_check_warns_about_a_superuser(postgres_warehouse):
    database = postgres_warehouse["url"].rsplit("/", 1)[1]
    assert "superuser" in SQLAlchemyWarehouse(url=f"{POSTGRES}/{database}").check()
    assert "superuser" not in SQLAlchemyWarehouse(url=postgres_warehouse["url"]).check()


def test_ordinary_report_sql_still_passes():
    for sql in (
        "SELECT region, SUM(amount) AS revenue FROM sales WHERE day >= @window_start_date GROUP BY 1",
        "WITH d AS (SELECT date_trunc('week', day) AS w, amount FROM sales) SELECT w, avg(amount) FROM d GROUP BY w",
        "SELECT n FROM generate_series(1, 3) AS t(n)",
        "SELECT strftime(day, '%Y-%m'), percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM sales GROUP BY 1",
        "SELECT coalesce(region, 'n/a'), row_number() OVER (ORDER BY amount DESC) FROM sales",
    ):
        assert check_read_only(sql) == sql


HOSTILE_REPORT = """
name: Environment Dump
query: SELECT * FROM read_text('/proc/self/environ')
schedule: {frequency: daily, time: "09:00", timezone: UTC, start_date: "2026-11-01"}
user_id: mallory
"""


def test_hostile_sql_is_refused_when_saved_and_the_store_is_unchanged(home, tmp_path):
    store = ReportStore()
    store.create_tables()
    with pytest.raises(ReportValidationError, match=r"query: .*read_text\(\) is not allowed"):
        report_service.create_report(load_report_text(HOSTILE_REPORT), owner="mallory")
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE_REPORT)
    result = CliRunner().invoke(main, ["reports", "add", str(path)])
    assert result.exit_code != 0 and "read_text() is not allowed" in result.output
    assert store.list() == []


def test_a_stored_report_reading_a_server_file_fails_its_run_clearly(home, instance):
    # A row stored before the check existed (or written to the table directly) still cannot read.
    store = ReportStore()
    store.create_tables()
    secret = home / "server.env"
    secret.write_text(f"KEY={MARKER}\n")
    store.add(load_report_text(HOSTILE_REPORT.replace("/proc/self/environ", str(secret))))
    job = build_repository(store.job_shaping_rows()).get_job("report_environment_dump")
    result = job.execute_in_process(instance=instance, partition_key="2026-11-25-09:00", raise_on_error=False)
    assert not result.success
    failures = [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failures[0].event_specific_data.error.message
    assert "read_text() is not allowed" in message
    logs = "".join(entry.message or "" for entry in instance.all_logs(result.run_id))
    assert MARKER not in logs
