"""Launching runs of the code location the way Dagster launches them.

Two doors, both ending in the instance's run coordinator (the queue, with its limits):

- :class:`Webserver`: the Dagster webserver's GraphQL API through dagster-graphql's
  ``DagsterGraphQLClient`` (launches, location reloads). Backfills and schedule resets have no
  method on that client, so those two mutations go through its one query path (``_execute``).
- :func:`launch_in_instance`: no webserver answers, so the code location is loaded from the
  instance's ``workspace.yaml`` here, as ``dagster job launch`` does; the run is created from
  that location (same origin as the webserver's, so the UI counts it) and submitted to the
  queue when a daemon is there to dequeue it, else launched at once on the location's code
  server (the documented local path; one run per report is then checked here).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests

from report_pipelines.names import (
    CODE_LOCATION,
    REPOSITORY_NAME,
    TAG_REPORT,
    default_home,
    location_for_report,
    webserver_url,
)

# Run states after which a run will not change.
TERMINAL = frozenset({dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED})
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
GRAPHQL_TIMEOUT_SECONDS = 60

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
RESET_SCHEDULE = """
mutation ResetSchedule($selector: ScheduleSelector!) {
  resetSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


LOCATION_NAMES = """
{ workspaceOrError { ... on Workspace { locationEntries { name } } } }
"""


class LaunchError(RuntimeError):
    """Dagster refused a launch; the message is its reason."""


class WebserverUnavailable(LaunchError):
    """No Dagster webserver answers at DAGSTER_WEBSERVER_URL."""


class JobNotLoaded(LaunchError):
    """The report's job is not in the served code location yet (live sync has not reloaded)."""


class ReportBusy(LaunchError):
    """A run of the report is queued or running; one run per report at a time."""


class Webserver:
    """The webserver serving this code location, over its GraphQL API.

    Example::

        run_id = Webserver().launch_run("report_daily_sales", {"dagster/partition": "2026-11-26-09:00"})
    """

    def __init__(self, url: str | None = None, timeout: int = GRAPHQL_TIMEOUT_SECONDS):
        from dagster_graphql import DagsterGraphQLClient
        from gql.transport.requests import RequestsHTTPTransport

        self.url = (url or webserver_url()).rstrip("/")
        transport = RequestsHTTPTransport(url=f"{self.url}/graphql", use_json=True, timeout=timeout)
        self.client = DagsterGraphQLClient(self.url, transport=transport)

    def available(self) -> bool:
        try:
            return requests.get(f"{self.url}/server_info", timeout=3).ok
        except requests.RequestException:
            return False

    @contextmanager
    def _answering(self, what: str) -> Iterator[None]:
        """DagsterGraphQLClient's errors as ours: no answer, job not loaded, or a refusal."""
        from dagster_graphql import DagsterGraphQLClientError

        try:
            yield
        except DagsterGraphQLClientError as err:
            cause = err.__cause__
            while cause is not None and not isinstance(cause, requests.RequestException):
                cause = cause.__cause__
            if cause is not None:
                raise WebserverUnavailable(
                    f"the Dagster webserver at {self.url} did not answer ({type(cause).__name__}); start it "
                    "(`report-pipelines demo` or `dagster dev`) or set DAGSTER_WEBSERVER_URL"
                ) from err
            kind = err.args[0] if err.args else type(err).__name__
            if kind in ("JobNotFoundError", "PipelineNotFoundError"):
                raise JobNotLoaded(f"{what}: the job is not loaded in the webserver yet") from err
            detail = err.args[1] if len(err.args) > 1 else str(kind).strip().splitlines()[0]
            raise LaunchError(f"the webserver refused {what}: {detail}") from err

    def location_names(self) -> list[str]:
        """The code locations the webserver serves (one, or one per shard)."""
        with self._answering("to list the code locations"):
            answer = self.client._execute(LOCATION_NAMES)["workspaceOrError"]
        return [entry["name"] for entry in answer.get("locationEntries", [])]

    def location_of(self, report_id: int) -> str:
        return location_for_report(report_id, self.location_names())

    def launch_run(self, job_name: str, tags: dict[str, str], location: str = CODE_LOCATION) -> str:
        """Queue one run of ``job_name``; returns its run id."""
        with self._answering(f"to launch {job_name}"):
            return self.client.submit_job_execution(
                job_name, repository_location_name=location, repository_name=REPOSITORY_NAME, tags=tags
            )

    def launch_backfill(
        self, job_name: str, partition_keys: list[str], tags: dict[str, str], location: str = CODE_LOCATION
    ) -> str:
        params = {
            "selector": {
                "partitionSetName": f"{job_name}_partition_set",
                "repositorySelector": {"repositoryLocationName": location, "repositoryName": REPOSITORY_NAME},
            },
            "partitionNames": partition_keys,
            "fromFailure": False,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
        with self._answering(f"the backfill of {job_name}"):
            answer = self.client._execute(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise LaunchError(answer.get("message") or answer["__typename"])
        return answer["backfillId"]

    def reload_location(self, location: str = CODE_LOCATION) -> None:
        from dagster_graphql import ReloadRepositoryLocationStatus

        with self._answering(f"to reload {location}"):
            info = self.client.reload_repository_location(location)
        if info.status != ReloadRepositoryLocationStatus.SUCCESS:
            raise LaunchError(f"reloading {location} failed: {info.message or info.failure_type}")

    def reset_schedule(self, schedule_name: str, location: str = CODE_LOCATION) -> str:
        """Back to the schedule's default status (a stop or start made in the UI is forgotten)."""
        selector = {
            "repositoryLocationName": location,
            "repositoryName": REPOSITORY_NAME,
            "scheduleName": schedule_name,
        }
        with self._answering(f"to reset {schedule_name}"):
            answer = self.client._execute(RESET_SCHEDULE, {"selector": selector})["resetSchedule"]
        if answer["__typename"] != "ScheduleStateResult":
            raise LaunchError(f"resetting {schedule_name} failed: {answer.get('message')}")
        return answer["scheduleState"]["status"]


def workspace_file() -> Path:
    """The workspace the webserver and daemon load: ``$DAGSTER_HOME/workspace.yaml``."""
    return default_home() / "workspace.yaml"


def daemon_running(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon is heartbeating to dequeue queued runs."""
    try:
        statuses = instance.get_daemon_statuses(daemon_types=["QUEUED_RUN_COORDINATOR"])
    except Exception:  # noqa: BLE001 - no daemon table yet means no daemon
        return False
    return any(status.healthy for status in statuses.values())


def report_runs_in_progress(instance: dg.DagsterInstance, slug: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={TAG_REPORT: slug}, statuses=IN_PROGRESS), limit=5))


@dataclass(frozen=True)
class InstanceLaunch:
    run_id: str
    queued: bool


def launch_in_instance(
    instance: dg.DagsterInstance, job_name: str, slug: str, tags: dict[str, str], report_id: int
) -> InstanceLaunch:
    """Create a run of ``job_name`` from the code location in the instance's workspace and hand it
    to Dagster: queued when a daemon runs, else launched now on the location's code server."""
    from dagster._cli.job import _create_run
    from dagster._core.errors import DagsterError
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    queued = daemon_running(instance)
    if not queued:
        busy = report_runs_in_progress(instance, slug)
        if busy:
            raise ReportBusy(
                f"run {busy[0].run_id} of {slug} is {busy[0].status.value.lower()}; one run per report "
                "at a time: wait for it, or start the daemon (`dagster dev`) to queue this one"
            )
    target = WorkspaceFileTarget(paths=[str(workspace_file())])
    with ExitStack() as stack:
        with _children_write_to(default_home() / "logs" / "launch.log"):
            process = stack.enter_context(WorkspaceProcessContext(instance, target))
        workspace = process.create_request_context()
        name = location_for_report(report_id, list(workspace.get_code_location_entries()))
        try:
            location = workspace.get_code_location(name)
        except DagsterError as err:
            raise LaunchError(f"the code location {name} did not load: {err}") from err
        repository = location.get_repository(REPOSITORY_NAME)
        if not repository.has_job(job_name):
            raise JobNotLoaded(f"job {job_name} is not in the code location")
        remote_job = repository.get_full_job(job_name)
        run = _create_run(
            instance=instance, code_location=location, remote_repo=repository, remote_job=remote_job,
            run_config={}, tags=tags, op_selection=None, run_id=None,
        )  # fmt: skip
        if queued:
            instance.submit_run(run.run_id, workspace)
        else:
            instance.launch_run(run.run_id, workspace)
            # The code server runs the run in a process of its own; it stops with this context,
            # so the run is followed to its end before the context closes.
            wait_for_run(instance, run.run_id)
        return InstanceLaunch(run_id=run.run_id, queued=queued)


@contextmanager
def _children_write_to(path: Path) -> Iterator[None]:
    """Processes started inside (the code server, and the run worker it starts) write their
    output to ``path`` instead of this terminal: the run's events are in Dagster, and the
    command prints the outcome. Our own output is back in place as soon as they have started."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as log:
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def wait_for_run(
    instance: dg.DagsterInstance,
    run_id: str,
    *,
    timeout: float = 3600,
    poll_seconds: float = 0.5,
    on_status: Callable[[dg.DagsterRunStatus], None] | None = None,
) -> dg.DagsterRun:
    """Follow a run until it ends (or ``timeout``); ``on_status`` hears each new status."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise LaunchError(f"run {run_id} is not in the instance's run storage")
        if run.status != seen:
            seen = run.status
            if on_status:
                on_status(run.status)
        if run.status in TERMINAL or time.monotonic() > deadline:
            return run
        time.sleep(poll_seconds)


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
        done = [r for r in runs if r.status in TERMINAL]
        if len(done) != shown:
            shown = len(done)
            width = 30
            filled = int(width * shown / max(expected, 1))
            echo(f"[{'#' * filled}{'.' * (width - filled)}] {shown}/{expected} windows finished")
        if len(done) >= expected or time.monotonic() > deadline:
            return done
        time.sleep(poll_seconds)
