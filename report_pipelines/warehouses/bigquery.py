"""Google BigQuery as a warehouse, through google-cloud-bigquery.

Every query is dry-run first: the dry run validates the SQL and the statement type and gives the
byte estimate that the ``maximum_bytes_billed`` cap is checked against before anything is billed.
The same cap is also sent with the real job, where BigQuery enforces it on the bytes it bills.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
from dagster_gcp import BigQueryResource
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY
from pydantic import Field

from report_pipelines.models import ReportWindow
from report_pipelines.sql import find_window_parameters
from report_pipelines.warehouses.base import QueryResult, WarehouseError, WarehouseResource, read_only_sql
from report_pipelines.warehouses.bigquery_errors import (
    DEFAULT_JOB_TIMEOUT_SECONDS,
    DEFAULT_MAXIMUM_BYTES_BILLED,
    bigquery_error,
    check_bytes_cap,
    check_statement_type,
)

PARAMETER_TYPES = {
    "window_start": "TIMESTAMP",
    "window_end": "TIMESTAMP",
    "window_start_date": "DATE",
    "window_end_date": "DATE",
}
# BigQuery label rules: at most 64 labels; keys and values up to 63 characters of lowercase
# letters, digits, underscores and dashes; keys start with a letter.
MAX_LABELS = 64
MAX_LABEL_LENGTH = 63
_LABEL_INVALID = re.compile(r"[^a-z0-9_-]")
# Project IDs: 6-30 characters, lowercase letters, digits and dashes, starting with a letter;
# older projects may carry a domain prefix (example.com:project).
_PROJECT_ID = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")
URL_OPTIONS = ("location", "maximum_bytes_billed", "job_timeout_seconds")


class BigQueryWarehouse(WarehouseResource):
    """Runs report SQL on BigQuery with real query parameters, a byte cap and a row cap.

    Credentials are Google's Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``
    or the service account of the machine), so no key ever enters Dagster config. With
    ``api_endpoint`` set, requests go unauthenticated to that endpoint: that is for an emulator.

    Example::

        import datetime as dt

        import dagster as dg
        from report_pipelines.models import ReportWindow
        from report_pipelines.warehouses.bigquery import BigQueryWarehouse

        warehouse = BigQueryWarehouse(project="acme-analytics", dataset="sales", location="EU")
        defs = dg.Definitions(resources={"warehouse": warehouse})

        window = ReportWindow(
            partition_key="2026-03-02-09:00",
            start=dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc),
            end=dt.datetime(2026, 3, 3, 9, tzinfo=dt.timezone.utc),
            timezone="UTC",
        )
        result = warehouse.run_query(
            "SELECT region, SUM(amount) AS revenue FROM orders"
            " WHERE day >= @window_start_date AND day < @window_end_date GROUP BY region",
            window,
            labels={"report": "daily_sales"},
        )
        print(result.frame, result.metadata["estimated_bytes"])

        with warehouse.get_client() as client:  # the plain google-cloud-bigquery client
            print([table.table_id for table in client.list_tables("sales")])

    ``dagster_gcp.BigQueryResource`` is not the base: its ``gcp_credentials`` option puts a key in
    config and points the process-wide ``GOOGLE_APPLICATION_CREDENTIALS`` at a temporary file,
    which is unsafe when several runs share a process, and it cannot target an emulator.
    """

    project: str = Field(
        description="Google Cloud project that runs the query jobs and is billed for them."
    )
    dataset: str | None = Field(
        default=None,
        description="Default dataset for unqualified table names (DATASET or PROJECT.DATASET).",
    )
    location: str | None = Field(
        default=None, description="Location of the jobs, e.g. EU or us-central1; unset: BigQuery's."
    )
    api_endpoint: str | None = Field(
        default=None,
        description=(
            "BigQuery API endpoint override, e.g. an emulator at http://127.0.0.1:9050. "
            "When set, requests are sent without credentials."
        ),
    )
    maximum_bytes_billed: int = Field(
        default=DEFAULT_MAXIMUM_BYTES_BILLED,
        description=(
            "Most bytes one report query may bill (default 10 GiB); a larger dry-run estimate "
            "stops the query before it runs. 0 disables the cap."
        ),
    )
    job_timeout_seconds: int = Field(
        default=DEFAULT_JOB_TIMEOUT_SECONDS,
        description="Longest a query may run; BigQuery is also asked to stop the job then.",
    )

    @property
    def label(self) -> str:
        return f"bigquery:{self.project}"

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        """A ``google.cloud.bigquery.Client`` for this project, closed on exit.

        Against Google, dagster-gcp's ``BigQueryResource`` builds the client with Google's default
        credentials (no key in config); an ``api_endpoint`` (the emulator) gets anonymous ones.
        """
        with ExitStack() as stack:
            try:
                if self.api_endpoint:
                    client = bigquery.Client(
                        project=self.project,
                        location=self.location,
                        credentials=AnonymousCredentials(),
                        client_options=ClientOptions(api_endpoint=self.api_endpoint),
                    )
                else:
                    resource = BigQueryResource(project=self.project, location=self.location)
                    client = stack.enter_context(resource.get_client())
            except GoogleAuthError as err:
                raise self._error(err) from err
            stack.callback(client.close)
            yield client

    def job_config(
        self,
        parameters: list[bigquery.ScalarQueryParameter],
        labels: Mapping[str, str] | None = None,
        *,
        dry_run: bool = False,
    ) -> bigquery.QueryJobConfig:
        return build_job_config(
            parameters,
            project=self.project,
            dataset=self.dataset,
            labels=labels,
            maximum_bytes_billed=self.maximum_bytes_billed,
            job_timeout_seconds=self.job_timeout_seconds,
            dry_run=dry_run,
        )

    def run_query(
        self, sql: str, window: ReportWindow, *, labels: dict[str, str] | None = None
    ) -> QueryResult:
        used, parameters = window_query_parameters(sql, window)
        retry, job_retry = self._retries()
        # ``timeout`` on client.query bounds each HTTP request (jobs.insert normally answers in a
        # second); the wait for the job itself is bounded by result(timeout=...) below.
        started = time.monotonic()
        job: bigquery.QueryJob | None = None
        with self.get_client() as client:
            try:
                dry_run = client.query(
                    sql,
                    job_config=self.job_config(parameters, labels, dry_run=True),
                    retry=retry,
                    job_retry=None,
                    timeout=self.job_timeout_seconds,
                )
                estimated = dry_run.total_bytes_processed or 0
                # The dry run runs nothing and names syntax errors with their position; then the
                # statement type, and the same allow-list every warehouse applies.
                check_statement_type(dry_run.statement_type)
                read_only_sql(sql)
                check_bytes_cap(estimated, self.maximum_bytes_billed)
                job = client.query(
                    sql,
                    job_config=self.job_config(parameters, labels),
                    retry=retry,
                    job_retry=None,
                    timeout=self.job_timeout_seconds,
                )
                # max_results stops the download server-side: at most one row past the cap is
                # fetched, just enough to know the result was cut.
                rows_iterator = job.result(
                    timeout=self.job_timeout_seconds,
                    max_results=self.row_cap + 1,
                    retry=retry,
                    job_retry=job_retry,
                )
                columns = [field.name for field in rows_iterator.schema]
                rows = [tuple(row.values()) for row in rows_iterator]
            except concurrent.futures.TimeoutError as err:
                if job is not None:
                    # The client stopped waiting, the job did not: cancel it so it stops billing.
                    with contextlib.suppress(api_exceptions.GoogleAPIError):
                        client.cancel_job(job.job_id, location=job.location, retry=None)
                raise self._error(err) from err
            except (api_exceptions.GoogleAPIError, GoogleAuthError) as err:
                raise self._error(err) from err
        truncated = len(rows) > self.row_cap
        rows = rows[: self.row_cap]
        # Rows are built the way the SQLAlchemy warehouse builds them, so NUMERIC stays Decimal
        # and DATE stays date instead of the Arrow/db-dtypes types to_dataframe() would produce.
        frame = pd.DataFrame.from_records(rows, columns=columns)
        metadata = {
            "query_seconds": round(time.monotonic() - started, 3),
            "estimated_bytes": estimated,
            "bytes_processed": job.total_bytes_processed,
            "bytes_billed": job.total_bytes_billed,
            "cache_hit": job.cache_hit,
            "job_id": job.job_id,
        }
        return QueryResult(
            frame=frame,
            truncated=truncated,
            row_cap=self.row_cap,
            warehouse=self.label,
            parameters_used=used,
            metadata={key: value for key, value in metadata.items() if value is not None},
        )

    def check(self) -> str:
        with self.get_client() as client:
            try:
                client.query(
                    "SELECT 1",
                    job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False),
                    retry=self._retries()[0],
                    job_retry=None,
                    timeout=self.job_timeout_seconds,
                )
            except (api_exceptions.GoogleAPIError, GoogleAuthError) as err:
                raise self._error(err) from err
        return f"{self.label} accepted a dry run of SELECT 1"

    def _retries(self) -> tuple[Retry, Retry]:
        """Retries of API calls and of failed jobs, both bounded by ``job_timeout_seconds``.

        The client's defaults retry for 10 minutes (jobs.insert even wraps its API retry in a
        second 10-minute retry), so an unreachable endpoint would hang a run that long. Callers
        pass ``job_retry=None`` to ``client.query`` to drop that wrapper and give the bounded job
        retry to ``result()``, which still restarts jobs that failed for a transient reason.
        """
        return (
            DEFAULT_RETRY.with_timeout(self.job_timeout_seconds),
            DEFAULT_JOB_RETRY.with_timeout(self.job_timeout_seconds),
        )

    def _error(self, err: BaseException) -> WarehouseError:
        return bigquery_error(
            err,
            project=self.project,
            dataset=self.dataset,
            timeout_seconds=self.job_timeout_seconds,
            maximum_bytes_billed=self.maximum_bytes_billed,
        )


def window_query_parameters(
    sql: str, window: ReportWindow
) -> tuple[list[str], list[bigquery.ScalarQueryParameter]]:
    """The window parameters ``sql`` uses, typed for BigQuery.

    BigQuery speaks ``@name`` natively, so the SQL is sent as written; only parameters it uses
    are sent, because BigQuery does not need the rest and they would show in the job's details.
    """
    used = find_window_parameters(sql)
    values = window.query_parameters()
    parameters = []
    for name in used:
        value = values[name]
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            # BigQuery would read a naive datetime as UTC and silently shift the window.
            raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
        parameters.append(bigquery.ScalarQueryParameter(name, PARAMETER_TYPES[name], value))
    return used, parameters


def build_job_config(
    parameters: list[bigquery.ScalarQueryParameter],
    *,
    project: str,
    dataset: str | None,
    labels: Mapping[str, str] | None,
    maximum_bytes_billed: int,
    job_timeout_seconds: int,
    dry_run: bool = False,
) -> bigquery.QueryJobConfig:
    """The job configuration of a report query (or of its dry run)."""
    config = bigquery.QueryJobConfig(
        query_parameters=parameters,
        use_legacy_sql=False,
        labels=sanitize_labels(labels),
        job_timeout_ms=job_timeout_seconds * 1000,
    )
    if dataset:
        config.default_dataset = bigquery.DatasetReference.from_string(
            dataset, default_project=project
        )
    if maximum_bytes_billed > 0:
        config.maximum_bytes_billed = maximum_bytes_billed
    if dry_run:
        config.dry_run = True
        # A cached result reports 0 bytes, which would hide the real cost from the cap check.
        config.use_query_cache = False
    return config


def sanitize_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Labels made acceptable to BigQuery, which refuses the whole job over one bad label.

    Lowercased, other characters replaced by ``_``, cut to 63 characters; a key that does not
    start with a letter gets an ``l_`` prefix, an empty key is dropped, and only the first 64
    labels are kept.
    """
    clean: dict[str, str] = {}
    for key, value in (labels or {}).items():
        label_key = _label_text(str(key))
        if not label_key:
            continue
        if not "a" <= label_key[0] <= "z":
            label_key = _label_text(f"l_{label_key}")
        clean[label_key] = _label_text("" if value is None else str(value))
        if len(clean) == MAX_LABELS:
            break
    return clean


def _label_text(text: str) -> str:
    return _LABEL_INVALID.sub("_", text.lower())[:MAX_LABEL_LENGTH]


def parse_bigquery_url(url: str) -> dict[str, Any]:
    """``bigquery://PROJECT[/DATASET][?location=EU&maximum_bytes_billed=N&job_timeout_seconds=N]``
    -> keyword arguments of :class:`BigQueryWarehouse` (only the parts the URL gives).

    Raises ValueError naming what is wrong. Messages quote only the part at fault, never the whole
    URL: a mistyped one may hold a password that should not reach a log.
    """
    parts = urlsplit(url.strip())
    expected = "expected bigquery://PROJECT[/DATASET]"
    if parts.scheme != "bigquery":
        raise ValueError(f"not a bigquery:// URL; {expected}")
    if "@" in parts.netloc:
        raise ValueError(
            "a bigquery:// URL carries no credentials; remove user:password@ and set "
            "GOOGLE_APPLICATION_CREDENTIALS instead"
        )
    if parts.fragment:
        raise ValueError(f"a bigquery:// URL has no #fragment; {expected}")
    project = parts.netloc
    if not project:
        raise ValueError(f"the bigquery:// URL names no project; {expected}")
    if not _PROJECT_ID.match(project):
        raise ValueError(
            f"{project!r} is not a Google Cloud project ID (6-30 lowercase letters, digits and "
            "dashes, starting with a letter)"
        )
    parsed: dict[str, Any] = {"project": project}
    path = parts.path.strip("/")
    if path:
        if "/" in path:
            raise ValueError(
                "a bigquery:// URL has at most one path segment, the dataset: "
                "bigquery://PROJECT/DATASET"
            )
        if not _DATASET_ID.match(path):
            raise ValueError(f"{path!r} is not a dataset ID (letters, digits and underscores)")
        parsed["dataset"] = path
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in URL_OPTIONS:
            raise ValueError(
                f"unknown bigquery:// URL option {key!r}; known: {', '.join(URL_OPTIONS)}"
            )
        if key in parsed:
            raise ValueError(f"bigquery:// URL option {key!r} is given twice")
        if not value:
            raise ValueError(f"bigquery:// URL option {key!r} has no value")
        if key == "location":
            parsed[key] = value
            continue
        if not _WHOLE_NUMBER.match(value):
            raise ValueError(
                f"bigquery:// URL option {key!r} must be a whole number, got {value!r}"
            )
        if key == "job_timeout_seconds" and int(value) == 0:
            raise ValueError("bigquery:// URL option 'job_timeout_seconds' must be at least 1")
        parsed[key] = int(value)
    return parsed
