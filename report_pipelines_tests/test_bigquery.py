"""The BigQuery warehouse, driven through the real google-cloud-bigquery client.

Most tests talk to a local BigQuery emulator (see ``fakes/bigquery_emulator.py``); the cost cap,
label rules and error texts that the emulator cannot produce are tested as pure functions, and
one ``live`` test runs against real BigQuery when credentials are given.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.auth.transport.requests import AuthorizedSession
from google.cloud import bigquery

from report_pipelines.models import ReportWindow
from report_pipelines.warehouses import warehouse_from_env
from report_pipelines.warehouses.base import WarehouseError
from report_pipelines.warehouses.bigquery import (
    BigQueryWarehouse,
    build_job_config,
    parse_bigquery_url,
    sanitize_labels,
    window_query_parameters,
)
from report_pipelines.warehouses.bigquery_errors import (
    DEFAULT_MAXIMUM_BYTES_BILLED,
    GIB,
    bigquery_error,
    check_bytes_cap,
)
from report_pipelines.warehouses.sqlalchemy import SQLAlchemyWarehouse
from report_pipelines_tests.fakes.bigquery_emulator import (
    EMULATOR_PROJECT,
    EmulatorUnavailable,
    ensure_emulator_venv,
    free_port,
    running_emulator,
)

UTC = dt.timezone.utc
DATASET = "sales"
WINDOW = ReportWindow(
    partition_key="2026-03-02-09:00",
    start=dt.datetime(2026, 3, 2, 9, tzinfo=UTC),
    end=dt.datetime(2026, 3, 4, 9, tzinfo=UTC),
    timezone="UTC",
)
DAYS = [dt.date(2026, 3, day) for day in range(1, 6)]
REGIONS = ("EU", "US")
ORDER_COUNT = len(DAYS) * len(REGIONS)
LIVE_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "BIGQUERY_LIVE_PROJECT")


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """A BigQuery emulator for the whole session; skipped when its virtualenv cannot be made."""
    try:
        executable = ensure_emulator_venv()
    except EmulatorUnavailable as err:
        pytest.skip(f"BigQuery emulator unavailable: {err}")
    with pytest.MonkeyPatch.context() as env, running_emulator(executable=executable) as url:
        # google-cloud-bigquery goes through requests, which honours HTTP(S)_PROXY.
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("no_proxy", "127.0.0.1,localhost")
        yield url


@pytest.fixture(scope="session")
def orders_table(emulator_url) -> str:
    """``sales.orders``: one row per day (1-5 March 2026) and region, placed at 10:00 UTC."""
    client = bigquery.Client(
        project=EMULATOR_PROJECT,
        client_options=ClientOptions(api_endpoint=emulator_url),
        credentials=AnonymousCredentials(),
    )
    client.create_dataset(DATASET, exists_ok=True)
    table = client.create_table(
        bigquery.Table(
            f"{EMULATOR_PROJECT}.{DATASET}.orders",
            schema=[
                bigquery.SchemaField("day", "DATE"),
                bigquery.SchemaField("placed_at", "TIMESTAMP"),
                bigquery.SchemaField("region", "STRING"),
                bigquery.SchemaField("amount", "NUMERIC"),
            ],
        ),
        exists_ok=True,
    )
    # Streaming inserts, not a load job: the emulator refuses the content type load jobs use.
    errors = client.insert_rows_json(
        table,
        [
            {
                "day": day.isoformat(),
                "placed_at": f"{day.isoformat()}T10:00:00Z",
                "region": region,
                "amount": f"{day.day}.{index}5",
            }
            for day in DAYS
            for index, region in enumerate(REGIONS)
        ],
    )
    assert errors == []
    client.close()
    return "orders"


@pytest.fixture
def warehouse(emulator_url, orders_table) -> BigQueryWarehouse:
    return BigQueryWarehouse(project=EMULATOR_PROJECT, dataset=DATASET, api_endpoint=emulator_url)


def test_window_parameters_come_back_with_their_types(warehouse):
    zone = ZoneInfo("America/New_York")
    window = ReportWindow(
        partition_key="2026-03-02-22:00",
        start=dt.datetime(2026, 3, 2, 22, tzinfo=zone),
        end=dt.datetime(2026, 3, 3, 22, tzinfo=zone),
        timezone="America/New_York",
    )
    result = warehouse.run_query(
        "SELECT @window_start AS ws, @window_end AS we, "
        "@window_start_date AS wsd, @window_end_date AS wed",
        window,
    )
    row = result.frame.iloc[0]
    # The same instants, as aware timestamps (BigQuery returns them in UTC).
    assert row["ws"] == window.start and row["ws"].tzinfo is not None
    assert row["we"] == window.end
    # DATE parameters are the window's local dates, not the UTC ones (3 and 4 March).
    assert row["wsd"] == dt.date(2026, 3, 2) and type(row["wsd"]) is dt.date
    assert row["wed"] == dt.date(2026, 3, 3)
    assert result.parameters_used == [
        "window_start", "window_end", "window_start_date", "window_end_date"
    ]


def test_date_and_timestamp_filters_select_the_window(warehouse):
    by_date = warehouse.run_query(
        "SELECT day, region, amount FROM orders "
        "WHERE day >= @window_start_date AND day < @window_end_date ORDER BY day, region",
        WINDOW,
    )
    assert by_date.frame["day"].tolist() == [DAYS[1], DAYS[1], DAYS[2], DAYS[2]]
    assert by_date.frame["amount"].tolist() == [
        Decimal("2.05"), Decimal("2.15"), Decimal("3.05"), Decimal("3.15")
    ]
    assert all(type(value) is Decimal for value in by_date.frame["amount"])
    assert by_date.parameters_used == ["window_start_date", "window_end_date"]

    by_time = warehouse.run_query(
        "SELECT placed_at FROM orders "
        "WHERE placed_at >= @window_start AND placed_at < @window_end ORDER BY placed_at",
        WINDOW,
    )
    assert by_time.row_count == 4
    assert by_time.frame["placed_at"].iloc[0] == dt.datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert by_time.frame["placed_at"].iloc[0].tzinfo is not None


def test_markers_inside_string_literals_are_left_alone(warehouse):
    # The literal names a parameter the query does not otherwise use: the emulator (unlike
    # BigQuery) would also rewrite a marker in a literal whose name is bound.
    result = warehouse.run_query(
        "SELECT 'x@window_start' AS lit, @window_end_date AS wed -- @window_start_date", WINDOW
    )
    assert result.frame["lit"].tolist() == ["x@window_start"]
    assert result.parameters_used == ["window_end_date"]
    assert warehouse.run_query("SELECT 'x@window_start' AS lit", WINDOW).parameters_used == []


@pytest.mark.parametrize(
    ("row_cap", "rows", "truncated"),
    [
        (3, 3, True),
        (ORDER_COUNT - 1, ORDER_COUNT - 1, True),
        (ORDER_COUNT, ORDER_COUNT, False),
        (1000, ORDER_COUNT, False),
    ],
)
def test_row_cap_truncates_and_flags(warehouse, row_cap, rows, truncated):
    capped = warehouse.model_copy(update={"row_cap": row_cap})
    result = capped.run_query("SELECT day, region FROM orders ORDER BY day, region", WINDOW)
    assert (result.row_count, result.truncated, result.row_cap) == (rows, truncated, row_cap)
    assert result.frame.iloc[0].tolist() == [DAYS[0], "EU"]


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str, dict | None]]:
    """Every HTTP request the BigQuery client sends, as (method, url, JSON body)."""
    requests_sent: list[tuple[str, str, dict | None]] = []
    original = AuthorizedSession.request

    def recording(self, method, url, *args, **kwargs):
        body = kwargs.get("data")
        requests_sent.append((method, url, json.loads(body) if body else None))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(AuthorizedSession, "request", recording)
    return requests_sent


def test_row_cap_is_asked_of_the_server(warehouse, sent):
    """Every result page is requested with maxResults = cap + 1: nothing past it is downloaded."""
    warehouse.model_copy(update={"row_cap": 2}).run_query("SELECT day FROM orders", WINDOW)
    result_reads = [url for _, url, _ in sent if "/queries/" in url or "/data" in url]
    assert result_reads and all("maxResults=3" in url for url in result_reads)


def test_jobs_carry_labels_cap_and_dataset_and_the_dry_run_skips_the_cache(warehouse, sent):
    warehouse.run_query(
        "SELECT day FROM orders WHERE day >= @window_start_date",
        WINDOW,
        labels={"report": "daily_sales", "Dagster Run": "6F1C-9A"},
    )
    dry_run, job = [body["configuration"] for method, _, body in sent if method == "POST"]
    assert dry_run["dryRun"] is True and dry_run["query"]["useQueryCache"] is False
    for config in (dry_run, job):
        assert config["labels"] == {"report": "daily_sales", "dagster_run": "6f1c-9a"}
        assert config["query"]["maximumBytesBilled"] == str(10 * GIB)
        assert config["query"]["defaultDataset"] == {
            "projectId": "test-project", "datasetId": "sales"
        }
        assert config["query"]["useLegacySql"] is False
        assert config["query"]["queryParameters"] == [
            {
                "name": "window_start_date",
                "parameterType": {"type": "DATE"},
                "parameterValue": {"value": "2026-03-02"},
            }
        ]
    assert "dryRun" not in job


def test_empty_result_keeps_its_columns(warehouse):
    result = warehouse.run_query("SELECT day, amount FROM orders WHERE FALSE", WINDOW)
    assert (result.row_count, result.truncated) == (0, False)
    assert list(result.frame.columns) == ["day", "amount"]


def test_result_metadata_records_the_dry_run_estimate(warehouse):
    result = warehouse.run_query("SELECT COUNT(*) AS n FROM orders", WINDOW)
    # The emulator estimates 0 bytes; against BigQuery this is the dry run's figure.
    assert result.metadata["estimated_bytes"] == 0
    assert result.metadata["job_id"]
    assert result.warehouse == "bigquery:test-project"


def test_syntax_error_names_the_position(warehouse):
    with pytest.raises(WarehouseError) as caught:
        warehouse.run_query("SELEC day FROM orders", WINDOW)
    assert "Syntax error" in str(caught.value)
    assert re.search(r"at \[\d+:\d+\]", str(caught.value))


def test_missing_table_says_not_found(warehouse):
    with pytest.raises(WarehouseError) as caught:
        warehouse.run_query("SELECT * FROM no_such_table", WINDOW)
    message = str(caught.value)
    assert "not found" in message
    assert "no_such_table" in message
    assert "dataset sales" in message


def test_statements_other_than_select_are_refused_before_running(warehouse):
    with pytest.raises(WarehouseError, match="DELETE statement"):
        warehouse.run_query("DELETE FROM orders WHERE TRUE", WINDOW)
    assert warehouse.run_query("SELECT day FROM orders", WINDOW).row_count == ORDER_COUNT


def test_check_dry_runs_select_1(warehouse):
    assert warehouse.check() == "bigquery:test-project accepted a dry run of SELECT 1"


def test_unreachable_endpoint_fails_within_the_timeout():
    closed = f"http://127.0.0.1:{free_port()}"
    warehouse = BigQueryWarehouse(
        project="test-project", api_endpoint=closed, job_timeout_seconds=2
    )
    started = time.monotonic()
    with pytest.raises(WarehouseError, match="did not answer within 2 s"):
        warehouse.check()
    assert time.monotonic() - started < 15


def test_label_names_no_credentials():
    assert BigQueryWarehouse(project="acme-analytics").label == "bigquery:acme-analytics"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (None, {}),
        ({"report": "daily_sales", "run": "6f1c-9a"}, {"report": "daily_sales", "run": "6f1c-9a"}),
        ({"Report": "Daily Sales!"}, {"report": "daily_sales_"}),
        ({"team.name": "Ops & BI"}, {"team_name": "ops___bi"}),
        ({"2fa": "x", "_private": "y"}, {"l_2fa": "x", "l__private": "y"}),
        ({"": "dropped", "!!": "kept"}, {"l___": "kept"}),
        ({"k" * 64: "v" * 64}, {"k" * 63: "v" * 63}),
        ({"k" * 63: "v" * 63}, {"k" * 63: "v" * 63}),
        ({"n": 42}, {"n": "42"}),
    ],
)
def test_labels_follow_bigquery_rules(labels, expected):
    assert sanitize_labels(labels) == expected


def test_labels_are_capped_at_64():
    labels = {f"label_{index:02d}": "x" for index in range(70)}
    assert list(sanitize_labels(labels)) == [f"label_{index:02d}" for index in range(64)]


def test_job_config_carries_parameters_dataset_labels_and_cap():
    _, parameters = window_query_parameters(
        "SELECT * FROM t WHERE ts >= @window_start AND d < @window_end_date", WINDOW
    )
    config = build_job_config(
        parameters,
        project="acme-analytics",
        dataset="sales",
        labels={"Report": "Daily Sales", "dagster_run": "abc-123"},
        maximum_bytes_billed=5 * GIB,
        job_timeout_seconds=300,
    )
    assert config.labels == {"report": "daily_sales", "dagster_run": "abc-123"}
    assert config.default_dataset == bigquery.DatasetReference("acme-analytics", "sales")
    assert config.maximum_bytes_billed == 5 * GIB
    assert config.use_legacy_sql is False
    assert int(config.job_timeout_ms) == 300_000
    assert not config.dry_run
    assert [(p.name, p.type_, p.value) for p in config.query_parameters] == [
        ("window_start", "TIMESTAMP", WINDOW.start),
        ("window_end_date", "DATE", dt.date(2026, 3, 4)),
    ]


def test_dry_run_config_bypasses_the_cache_and_a_zero_cap_sends_none():
    config = build_job_config(
        [], project="acme-analytics", dataset="shared.finance", labels=None,
        maximum_bytes_billed=0, job_timeout_seconds=60, dry_run=True,
    )
    assert config.dry_run is True and config.use_query_cache is False
    assert config.maximum_bytes_billed is None
    assert config.default_dataset == bigquery.DatasetReference("shared", "finance")
    assert config.labels == {}


def test_naive_window_bounds_are_refused():
    naive = ReportWindow(
        partition_key="2026-03-02-09:00",
        start=dt.datetime(2026, 3, 2, 9),
        end=dt.datetime(2026, 3, 3, 9),
        timezone="UTC",
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        window_query_parameters("SELECT @window_start", naive)
    assert window_query_parameters("SELECT @window_start_date", naive)[0] == ["window_start_date"]


@pytest.mark.parametrize(
    ("estimated", "cap"),
    [(0, 10 * GIB), (10 * GIB, 10 * GIB), (10 * GIB + 1, 0), (10**15, -1)],
)
def test_bytes_cap_allows_estimates_up_to_the_cap(estimated, cap):
    check_bytes_cap(estimated, cap)


@pytest.mark.parametrize(("estimated", "cap"), [(10 * GIB + 1, 10 * GIB), (2, 1)])
def test_bytes_cap_refuses_one_byte_over(estimated, cap):
    with pytest.raises(WarehouseError, match="raise maximum_bytes_billed"):
        check_bytes_cap(estimated, cap)


def test_bytes_cap_message_names_both_figures():
    with pytest.raises(WarehouseError) as caught:
        check_bytes_cap(int(12.5 * GIB), DEFAULT_MAXIMUM_BYTES_BILLED)
    assert str(caught.value) == (
        "the query would scan an estimated 12.50 GiB (13,421,772,800 bytes) > cap "
        "10.00 GiB (10,737,418,240 bytes); narrow the query (filter on the window parameters, "
        "select fewer columns) or raise maximum_bytes_billed"
    )


def api_error(kind: type[api_exceptions.GoogleAPICallError], reason: str, message: str):
    """An API error shaped like google-cloud-bigquery raises it: the reason sits in ``errors``."""
    return kind(message, errors=[{"reason": reason, "message": message}])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            api_error(
                api_exceptions.Forbidden,
                "accessDenied",
                "Access Denied: Project acme-analytics: User does not have bigquery.jobs.create "
                "permission",
            ),
            "grant roles/bigquery.jobUser and roles/bigquery.dataViewer to the service account "
            "on project acme-analytics",
        ),
        (
            api_error(api_exceptions.Forbidden, "quotaExceeded", "Quota exceeded"),
            "quota or rate limit reached in project acme-analytics (Quota exceeded)",
        ),
        (
            api_error(
                api_exceptions.BadRequest,
                "bytesBilledLimitExceeded",
                "Query exceeded limit for bytes billed: 1000.",
            ),
            "(Query exceeded limit for bytes billed: 1000.); narrow the query or raise "
            "maximum_bytes_billed",
        ),
        (
            api_error(
                api_exceptions.BadRequest, "invalidQuery", "Unrecognized name: revenue at [3:8]"
            ),
            "BigQuery rejected the report query: Unrecognized name: revenue at [3:8]",
        ),
        (
            api_error(
                api_exceptions.NotFound, "notFound", "Not found: Dataset acme-analytics:sales"
            ),
            "table or dataset not found (Not found: Dataset acme-analytics:sales); check the name "
            "and dataset (no default dataset is set",
        ),
        (
            api_error(api_exceptions.BadRequest, "timeout", "Job timed out"),
            "query exceeded 300 s",
        ),
        (concurrent.futures.TimeoutError(), "query exceeded 300 s; narrow the query"),
        (
            DefaultCredentialsError("Your default credentials were not found."),
            "set GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (
            api_exceptions.Unauthorized("Invalid Credentials"),
            "check GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (api_exceptions.InternalServerError("boom"), "BigQuery error 500: boom"),
    ],
)
def test_errors_say_what_to_fix(error, expected):
    message = str(bigquery_error(error, project="acme-analytics"))
    assert expected in message


def test_emulator_colour_codes_are_stripped_from_messages():
    error = api_error(
        api_exceptions.BadRequest,
        "invalidQuery",
        "Syntax error: missing. Line 1, Col: 10.\n  SELECT 1 \x1b[4m+\x1b[0m",
    )
    assert str(bigquery_error(error, project="p")) == (
        "BigQuery rejected the report query: Syntax error: missing. Line 1, Col: 10.; "
        "fix the SQL at the position shown ([line:column])"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("bigquery://acme-analytics", {"project": "acme-analytics"}),
        ("bigquery://acme-analytics/", {"project": "acme-analytics"}),
        ("bigquery://acme-analytics/sales", {"project": "acme-analytics", "dataset": "sales"}),
        ("BigQuery://acme-analytics/EU_26", {"project": "acme-analytics", "dataset": "EU_26"}),
        ("bigquery://example.com:acme-analytics/sales",
         {"project": "example.com:acme-analytics", "dataset": "sales"}),
        (
            "bigquery://acme-analytics/sales"
            "?location=EU&maximum_bytes_billed=1000000&job_timeout_seconds=60",
            {"project": "acme-analytics", "dataset": "sales", "location": "EU",
             "maximum_bytes_billed": 1_000_000, "job_timeout_seconds": 60},
        ),
        ("bigquery://acme-analytics?maximum_bytes_billed=0",
         {"project": "acme-analytics", "maximum_bytes_billed": 0}),
    ],
)
def test_parse_bigquery_url(url, expected):
    assert parse_bigquery_url(url) == expected
    BigQueryWarehouse(**parse_bigquery_url(url))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://db/analytics", "not a bigquery:// URL"),
        ("bigquery://", "names no project"),
        ("bigquery:///sales", "names no project"),
        ("bigquery://Acme-Analytics", "not a Google Cloud project ID"),
        ("bigquery://acme", "not a Google Cloud project ID"),
        ("bigquery://acme-analytics/sales/orders", "at most one path segment"),
        ("bigquery://acme-analytics/sales-eu", "not a dataset ID"),
        ("bigquery://svc:hunter2@acme-analytics/sales", "carries no credentials"),
        ("bigquery://acme-analytics#x", "no #fragment"),
        ("bigquery://acme-analytics?region=EU", "unknown bigquery:// URL option 'region'"),
        ("bigquery://acme-analytics?location=EU&location=US", "given twice"),
        ("bigquery://acme-analytics?location=", "has no value"),
        ("bigquery://acme-analytics?maximum_bytes_billed=10GB", "must be a whole number"),
        ("bigquery://acme-analytics?maximum_bytes_billed=-1", "must be a whole number"),
        ("bigquery://acme-analytics?job_timeout_seconds=0", "at least 1"),
    ],
)
def test_parse_bigquery_url_refuses(url, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        parse_bigquery_url(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "kind", "fields"),
    [
        ({}, SQLAlchemyWarehouse, {"url": None}),
        ({"WAREHOUSE_URL": "  "}, SQLAlchemyWarehouse, {"url": None}),
        (
            {"WAREHOUSE_URL": "bigquery://acme-analytics/sales?location=EU"},
            BigQueryWarehouse,
            {"project": "acme-analytics", "dataset": "sales", "location": "EU",
             "api_endpoint": None},
        ),
        (
            {"WAREHOUSE_URL": "bigquery://test-project",
             "BIGQUERY_API_ENDPOINT": "http://127.0.0.1:9050"},
            BigQueryWarehouse,
            {"project": "test-project", "dataset": None, "api_endpoint": "http://127.0.0.1:9050"},
        ),
    ],
)
def test_warehouse_from_env(monkeypatch, env, kind, fields):
    for name in ("WAREHOUSE_URL", "BIGQUERY_API_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    warehouse = warehouse_from_env()
    assert type(warehouse) is kind
    assert {name: getattr(warehouse, name) for name in fields} == fields


def test_warehouse_from_env_keeps_other_urls_out_of_config(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://reports:s3cret@db/analytics")
    warehouse = warehouse_from_env()
    assert isinstance(warehouse, SQLAlchemyWarehouse)
    # Only the variable's name is in config; the run worker reads the value.
    assert isinstance(warehouse.url, dg.EnvVar) and warehouse.url == "WAREHOUSE_URL"
    assert "s3cret" not in repr(warehouse)


def test_warehouse_from_env_refuses_a_bad_bigquery_url(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "bigquery://acme-analytics/sales/orders")
    with pytest.raises(ValueError, match="at most one path segment"):
        warehouse_from_env()


@pytest.mark.live
@pytest.mark.skipif(
    not all(os.environ.get(name) for name in LIVE_VARIABLES),
    reason="set GOOGLE_APPLICATION_CREDENTIALS and BIGQUERY_LIVE_PROJECT to run against BigQuery",
)
def test_live_bigquery_binds_parameters_and_answers_check():
    warehouse = BigQueryWarehouse(
        project=os.environ["BIGQUERY_LIVE_PROJECT"], maximum_bytes_billed=GIB
    )
    assert "accepted a dry run" in warehouse.check()
    result = warehouse.run_query(
        "SELECT @window_start AS ws, @window_end_date AS wed, 'x@window_end' AS lit",
        WINDOW,
        labels={"report": "live_test"},
    )
    row = result.frame.iloc[0]
    assert row["ws"] == WINDOW.start and row["wed"] == dt.date(2026, 3, 4)
    assert row["lit"] == "x@window_end"
    assert result.metadata["estimated_bytes"] == 0
    with pytest.raises(WarehouseError, match=r"\[1:\d+\]"):
        warehouse.run_query("SELEC 1", WINDOW)


def test_report_job_on_bigquery_end_to_end(home, instance, emulator_url, orders_table, monkeypatch):
    """WAREHOUSE_URL=bigquery://... drives a whole report run through the emulator."""
    import json
    from decimal import Decimal

    from report_pipelines.definitions import build_repository
    from report_pipelines.report_files import load_report_text
    from report_pipelines.store import ReportStore
    from report_pipelines.formatting import format_number

    monkeypatch.setenv("WAREHOUSE_URL", f"bigquery://{EMULATOR_PROJECT}/{DATASET}")
    monkeypatch.setenv("BIGQUERY_API_ENDPOINT", emulator_url)
    store = ReportStore()
    store.add(load_report_text(
        "name: BQ Orders\nuser_id: alice\nslack_config: {notification_type: channel, slack_channel: \"#sales\"}\n"
        "query: SELECT region, SUM(amount) AS amount FROM orders "
        "WHERE day >= @window_start_date AND day < @window_end_date GROUP BY region\n"
        'schedule: {frequency: daily, time: "00:00", timezone: UTC, start_date: "2026-03-01"}\n'
    ))
    job = build_repository(store.job_shaping_rows()).get_job("report_bq_orders")
    result = job.execute_in_process(instance=instance, partition_key="2026-03-02-00:00")
    assert result.success
    expected = sum(Decimal(f"2.{index}5") for index, _ in enumerate(REGIONS))
    preview = json.loads((home / "previews" / "bq_orders" / "2026-03-02-00-00.json").read_text())
    assert f"Total: {format_number(expected)}" in json.dumps(preview["blocks"], ensure_ascii=False)
    output = next(e for e in result.all_events
                  if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "query_warehouse")
    assert output.event_specific_data.metadata["warehouse"].value == f"bigquery:{EMULATOR_PROJECT}"
