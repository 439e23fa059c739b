"""Submitting a report's windows as a Dagster backfill through the webserver, and following it."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg
import requests

from report_pipelines.names import CODE_LOCATION, TAG_FORCE, webserver_url
from report_pipelines.sensors import REPOSITORY_NAME

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
_TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


class BackfillError(RuntimeError):
    pass


def webserver_available() -> bool:
    try:
        return requests.get(f"{webserver_url()}/server_info", timeout=3).ok
    except requests.RequestException:
        return False


def launch_backfill(job_name: str, partition_keys: list[str], *, force: bool = False) -> str:
    tags = [{"key": TAG_FORCE, "value": "true"}] if force else []
    params = {
        "selector": {
            "partitionSetName": f"{job_name}_partition_set",
            "repositorySelector": {
                "repositoryLocationName": CODE_LOCATION,
                "repositoryName": REPOSITORY_NAME,
            },
        },
        "partitionNames": partition_keys,
        "fromFailure": False,
        "tags": tags,
    }
    response = requests.post(
        f"{webserver_url()}/graphql",
        json={"query": LAUNCH_BACKFILL, "variables": {"params": params}},
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise BackfillError(body["errors"][0].get("message"))
    answer = body["data"]["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise BackfillError(answer.get("message") or answer["__typename"])
    return answer["backfillId"]


def wait_for_backfill(
    instance: dg.DagsterInstance,
    backfill_id: str,
    expected: int,
    *,
    timeout: float,
    echo: Callable[[str], None],
    poll_seconds: float = 2.0,
) -> list[dg.DagsterRun]:
    """Follow the backfill's runs until every window's run has finished (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    shown = -1
    while True:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        done = [r for r in runs if r.status in _TERMINAL]
        if len(done) != shown:
            shown = len(done)
            width = 30
            filled = int(width * shown / max(expected, 1))
            echo(f"[{'#' * filled}{'.' * (width - filled)}] {shown}/{expected} windows finished")
        if len(done) >= expected or time.monotonic() > deadline:
            return done
        time.sleep(poll_seconds)
