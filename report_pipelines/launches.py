"""Launching report runs and backfills through the Dagster webserver's GraphQL API.

Runs launched this way are queued like UI launches: the daemon dequeues them under the same
concurrency limits, and they show in the UI with the tags we give them."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg
import requests

from report_pipelines.names import CODE_LOCATION, REPOSITORY_NAME, TAG_FORCE, webserver_url

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

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PipelineNotFoundError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on PresetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""
# Run states after which a backfill's run will not change.
_TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


class LaunchError(RuntimeError):
    """The webserver refused a launch; the message is its reason."""


class WebserverUnavailable(LaunchError):
    """No Dagster webserver answers at DAGSTER_WEBSERVER_URL."""


class JobNotLoaded(LaunchError):
    """The report's job is not in the served code location yet (live sync has not reloaded)."""


def graphql(query: str, variables: dict, timeout: float = 60) -> dict:
    """POST a query to the webserver's GraphQL endpoint; its ``data``, or :class:`LaunchError`."""
    url = f"{webserver_url()}/graphql"
    try:
        response = requests.post(url, json={"query": query, "variables": variables}, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as err:
        raise WebserverUnavailable(
            f"the Dagster webserver at {webserver_url()} did not answer ({type(err).__name__}); start it "
            "(`report-pipelines demo` or `dagster dev`) or set DAGSTER_WEBSERVER_URL"
        ) from err
    body = response.json()
    if body.get("errors"):
        raise LaunchError(f"GraphQL error from {url}: {body['errors'][0].get('message')}")
    return body["data"]


def launch_run(job_name: str, partition_key: str, tags: dict[str, str]) -> str:
    """Queue one run of ``job_name`` for one window; returns its run id."""
    params = {
        "selector": {
            "repositoryLocationName": CODE_LOCATION,
            "repositoryName": REPOSITORY_NAME,
            "jobName": job_name,
        },
        "runConfigData": {},
        "executionMetadata": {
            "tags": [{"key": key, "value": value} for key, value in {**tags, "dagster/partition": partition_key}.items()]
        },
    }
    answer = graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    kind = answer["__typename"]
    if kind == "LaunchRunSuccess":
        return answer["run"]["runId"]
    if kind == "PipelineNotFoundError":
        raise JobNotLoaded(f"job {job_name} is not loaded in the webserver yet")
    detail = answer.get("message") or "; ".join(e["message"] for e in answer.get("errors") or []) or kind
    raise LaunchError(f"the webserver refused to launch {job_name}: {detail}")


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
    answer = graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise LaunchError(answer.get("message") or answer["__typename"])
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
