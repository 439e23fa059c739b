"""BigQuery's refusals in words that say what to fix, and the checks made before a query runs
(the dry run's byte estimate against the cap, and its statement type)."""

from __future__ import annotations

import concurrent.futures
import re

from google.api_core import exceptions as api_exceptions
from google.auth.exceptions import GoogleAuthError

from report_pipelines.warehouses.base import WarehouseError

GIB = 1024**3
DEFAULT_MAXIMUM_BYTES_BILLED = 10 * GIB
DEFAULT_JOB_TIMEOUT_SECONDS = 300
QUOTA_REASONS = frozenset({"rateLimitExceeded", "quotaExceeded"})
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def format_bytes(count: int) -> str:
    """``10737418240`` -> ``10.00 GiB (10,737,418,240 bytes)``: exact, so boundaries read right."""
    return f"{count / GIB:.2f} GiB ({count:,} bytes)"


def check_bytes_cap(estimated_bytes: int, maximum_bytes_billed: int) -> None:
    """Refuse a query whose dry-run estimate is over the cap; a cap of 0 (or less) disables it.

    An estimate equal to the cap passes: BigQuery's own limit is also "not more than".
    """
    if maximum_bytes_billed > 0 and estimated_bytes > maximum_bytes_billed:
        raise WarehouseError(
            f"the query would scan an estimated {format_bytes(estimated_bytes)} > cap "
            f"{format_bytes(maximum_bytes_billed)}; narrow the query (filter on the window "
            "parameters, select fewer columns) or raise maximum_bytes_billed"
        )


def check_statement_type(statement_type: str | None) -> None:
    """Reports only read: refuse DML, DDL and scripts before they run (the dry run names them)."""
    if statement_type and statement_type != "SELECT":
        raise WarehouseError(
            f"the report query is a {statement_type} statement; report queries must be a single "
            "SELECT"
        )


def bigquery_error(
    err: BaseException,
    *,
    project: str,
    dataset: str | None = None,
    timeout_seconds: int = DEFAULT_JOB_TIMEOUT_SECONDS,
    maximum_bytes_billed: int = DEFAULT_MAXIMUM_BYTES_BILLED,
) -> WarehouseError:
    """Turn a google-cloud-bigquery / google-auth error into a message that says what to fix."""
    if isinstance(err, concurrent.futures.TimeoutError):
        return _timeout_error(timeout_seconds)
    if isinstance(err, GoogleAuthError):
        return WarehouseError(
            f"no usable Google credentials ({_first_line(str(err))}); set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run where "
            "Application Default Credentials are available"
        )
    if isinstance(err, api_exceptions.RetryError):
        cause = _first_line(str(err.cause)) if err.cause else _first_line(str(err))
        return WarehouseError(
            f"BigQuery did not answer within {timeout_seconds} s ({cause}); check the network "
            "and the API endpoint"
        )
    if not isinstance(err, api_exceptions.GoogleAPICallError):
        return WarehouseError(f"BigQuery failed: {_first_line(str(err))}")

    errors = err.errors or []
    reasons = {item.get("reason") for item in errors if isinstance(item, dict)}
    detail = _first_line(
        errors[0].get("message", "") if errors and isinstance(errors[0], dict) else ""
    ) or _first_line(err.message or "")
    if "bytesBilledLimitExceeded" in reasons:
        return WarehouseError(
            f"the query would bill more than the cap of {format_bytes(maximum_bytes_billed)} "
            f"({detail}); narrow the query or raise maximum_bytes_billed"
        )
    if "timeout" in reasons:
        return _timeout_error(timeout_seconds)
    if isinstance(err, api_exceptions.Forbidden):
        if reasons & QUOTA_REASONS:
            return WarehouseError(
                f"BigQuery quota or rate limit reached in project {project} ({detail}); "
                "retry later or raise the quota"
            )
        return WarehouseError(
            f"permission denied ({detail}); grant roles/bigquery.jobUser and "
            f"roles/bigquery.dataViewer to the service account on project {project}"
        )
    if isinstance(err, api_exceptions.Unauthorized):
        return WarehouseError(
            f"BigQuery rejected the credentials ({detail}); check GOOGLE_APPLICATION_CREDENTIALS"
        )
    if isinstance(err, api_exceptions.NotFound):
        where = (
            f"unqualified tables are looked up in dataset {dataset}"
            if dataset
            else "no default dataset is set, so write tables as dataset.table"
        )
        return WarehouseError(
            f"table or dataset not found ({detail}); check the name and dataset ({where})"
        )
    if isinstance(err, api_exceptions.BadRequest):
        return WarehouseError(
            f"BigQuery rejected the report query: {detail}; fix the SQL at the position shown "
            "([line:column])"
        )
    return WarehouseError(f"BigQuery error {err.code}: {detail}")


def _timeout_error(timeout_seconds: int) -> WarehouseError:
    return WarehouseError(
        f"query exceeded {timeout_seconds} s; narrow the query (a shorter window, fewer columns) "
        "or raise job_timeout_seconds"
    )


def _first_line(text: str) -> str:
    # The emulator's messages carry terminal colour codes and a second line with a SQL excerpt.
    lines = _ANSI_ESCAPE.sub("", text).strip().splitlines()
    return lines[0].strip() if lines else ""
