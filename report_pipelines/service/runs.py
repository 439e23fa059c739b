"""Running report windows: the one place that decides what "run this window" means.

- A run is a report window (a partition of the report's job); by default the latest complete one.
- A window is *already delivered* when the delivery ledger holds its message for the report's
  current destination. It is not run again unless forced; a forced run edits the message in
  place. (Schedules and backfills launched from Dagster reach the same ledger in the post step.)
- A run is a run of the loaded code location, handed to Dagster's run coordinator: through the
  webserver when one answers at DAGSTER_WEBSERVER_URL, else through the instance with the code
  location loaded from its workspace (see :mod:`report_pipelines.launches`). Either way the
  UI's Partitions tab, the timeline and the queue's limits count it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from report_pipelines.launches import (
    LaunchError,
    Webserver,
    WebserverUnavailable,
    launch_in_instance,
    wait_for_run,
)
from report_pipelines.models import Report
from report_pipelines.names import (
    TAG_DELIVERY,
    TAG_FORCE,
    TAG_OWNER,
    TAG_REPORT_ID,
    TAG_SLACK_CHANNEL,
    TAG_SLACK_TS,
    TAG_TRIGGER,
    PARTITION_TAG,
    job_name,
    partition_tags,
    webserver_url,
)
from report_pipelines.resources import SlackResource
from report_pipelines.sensors import run_error_summary
from report_pipelines.slack.delivery import SlackDeliveryError
from report_pipelines.store import AuditLog, DeliveryLedger, LedgerEntry, SecretKeyError, cli_actor
from report_pipelines.windows import InvalidWindow, report_partitions, resolve_partition_key, window_range

__all__ = ["InvalidWindow", "LaunchError", "Launched", "RunOutcome", "WebserverUnavailable"]


@dataclass(frozen=True)
class Launched:
    """A window handed to Dagster (``run_id``), or found already delivered (``delivered``)."""

    report: Report
    partition_key: str
    run_id: str | None = None
    delivered: LedgerEntry | None = None
    queued: bool = True

    @property
    def run_url(self) -> str | None:
        return run_url(self.run_id) if self.run_id else None


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    partition_key: str | None
    status: dg.DagsterRunStatus
    error: str | None
    delivery: dict

    @property
    def succeeded(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS


def run_url(run_id: str) -> str:
    return f"{webserver_url()}/runs/{run_id}"


def resolve_window(report: Report, key: str | None) -> str:
    """``key`` checked against the report's windows, else its latest complete window."""
    return resolve_partition_key(report_partitions(report), key)


def windows_between(report: Report, first: str, last: str) -> list[str]:
    partitions = report_partitions(report)
    return window_range(partitions, resolve_partition_key(partitions, first), resolve_partition_key(partitions, last))


def delivered(report: Report, key: str) -> LedgerEntry | None:
    """The window's message in the ledger for the report's current destination, if posted."""
    try:
        destination = SlackResource().delivery_key(report, key)
    except (SlackDeliveryError, SecretKeyError):
        # The destination cannot be worked out (an ambiguous workspace, Slack unreachable, a
        # channel not found): the run will say why, and its post step consults the ledger.
        return None
    if destination is None:
        return None
    entry = DeliveryLedger().get(destination)
    return entry if entry is not None and entry.posted else None


def run_tags(report: Report, key: str, *, trigger: str, force: bool) -> dict[str, str]:
    tags = {**partition_tags(report.slug, key), TAG_TRIGGER: trigger}
    if force:
        tags[TAG_FORCE] = "true"
    return tags


def launch_window(
    report: Report,
    key: str,
    *,
    force: bool,
    trigger: str,
    instance: dg.DagsterInstance,
    without_webserver: bool,
    actor: str | None = None,
) -> Launched:
    """Hand one window to Dagster, unless it was delivered and ``force`` is off.

    ``without_webserver`` allows the instance-level launch when no webserver answers (the CLI);
    otherwise that case raises :class:`WebserverUnavailable` (the API).
    """
    if not force:
        entry = delivered(report, key)
        if entry is not None:
            return Launched(report, key, run_id=entry.run_id, delivered=entry)
    tags = run_tags(report, key, trigger=trigger, force=force)
    webserver = Webserver()
    if webserver.available() or not without_webserver:
        location = webserver.location_of(report.id)
        launched = Launched(report, key, run_id=webserver.launch_run(job_name(report.slug), tags, location))
    else:
        launch = launch_in_instance(instance, job_name(report.slug), report.slug, tags, report.id)
        launched = Launched(report, key, run_id=launch.run_id, queued=launch.queued)
    AuditLog().record(actor or cli_actor(), "report.run", report=report, window=key, run_id=launched.run_id,
                      force=force, trigger=trigger)
    return launched


def follow(
    instance: dg.DagsterInstance,
    run_id: str,
    *,
    timeout: float = 3600,
    on_status: Callable[[dg.DagsterRunStatus], None] | None = None,
) -> RunOutcome:
    """Wait for a run to end; its status, error and delivery as the post step recorded them.

    A run that failed and that Dagster will retry (its worker died, say) is followed into its
    retry, so the answer is the window's, not the lost attempt's."""
    run = wait_for_run(instance, run_id, timeout=timeout, on_status=on_status)
    retry = _retry_of(instance, run, timeout=RETRY_START_SECONDS)
    while retry is not None:
        run = wait_for_run(instance, retry.run_id, timeout=timeout, on_status=on_status)
        retry = _retry_of(instance, run, timeout=RETRY_START_SECONDS)
    failed = run.status == dg.DagsterRunStatus.FAILURE
    return RunOutcome(
        run_id=run.run_id,
        partition_key=run.tags.get(PARTITION_TAG),
        status=run.status,
        error=run_error_summary(instance, run.run_id) if failed else None,
        delivery=_delivery_metadata(instance, run.run_id),
    )


# The daemon launches a retry within seconds of the failure; give it a busy queue's worth.
RETRY_START_SECONDS = 120
# How long a failed run may go untagged: Dagster tags it in the same call that stores the failure.
WILL_RETRY_TAG_SECONDS = 5


def _retry_of(instance: dg.DagsterInstance, run: dg.DagsterRun, *, timeout: float) -> dg.DagsterRun | None:
    """The retry Dagster starts for ``run`` (tagged ``dagster/will_retry`` when it failed)."""
    if run.status != dg.DagsterRunStatus.FAILURE or not instance.run_retries_enabled:
        return None
    # Dagster stores the failure first and tags whether it will retry just after: a run read in
    # between has no tag yet.
    tag_deadline = time.monotonic() + WILL_RETRY_TAG_SECONDS
    while "dagster/will_retry" not in run.tags and time.monotonic() < tag_deadline:
        time.sleep(0.2)
        run = instance.get_run_by_id(run.run_id) or run
    if run.tags.get("dagster/will_retry") != "true":
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run.run_id}), limit=1)
        if children:
            return children[0]
        time.sleep(1)
    return None


def _delivery_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        event = record.dagster_event
        if event and event.step_key == "post_to_slack":
            return {key: getattr(value, "value", value) for key, value in event.step_output_data.metadata.items()}
    return {}


def launch_backfill(report: Report, keys: list[str], *, force: bool) -> str:
    """A Dagster backfill of ``keys`` through the webserver; its id."""
    tags = {TAG_FORCE: "true"} if force else {}
    webserver = Webserver()
    return webserver.launch_backfill(job_name(report.slug), keys, tags, webserver.location_of(report.id))


def _utc(timestamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc) if timestamp else None


def _trigger(tags: dict[str, str]) -> str | None:
    """Who started the run: our own launches tag it; Dagster tags schedules and backfills."""
    if TAG_TRIGGER in tags:
        return tags[TAG_TRIGGER]
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/backfill" in tags:
        return "backfill"
    return None


def run_history(instance: dg.DagsterInstance, report: Report, limit: int) -> list[dict]:
    """The report's latest ``limit`` runs, newest first: status, window, error and Slack ts.

    Runs are matched on the report id and its owner, so a run of someone else's report can
    never show here, whatever happened to ids in between."""
    partitions = report_partitions(report)
    records = instance.get_run_records(
        dg.RunsFilter(tags={TAG_REPORT_ID: str(report.id), TAG_OWNER: report.user_id}), limit=limit
    )
    history = []
    for record in records:
        run = record.dagster_run
        key = run.tags.get(PARTITION_TAG)
        window = partitions.time_window_for_partition_key(key) if key and partitions.has_partition_key(key) else None
        history.append(
            {
                "run_id": run.run_id,
                "status": run.status.value,
                "partition_key": key,
                "window_start": window.start if window else None,
                "window_end": window.end if window else None,
                "created_at": record.create_timestamp,
                "started_at": _utc(record.start_time),
                "ended_at": _utc(record.end_time),
                "error": run_error_summary(instance, run.run_id) if run.status == dg.DagsterRunStatus.FAILURE else None,
                "delivery": run.tags.get(TAG_DELIVERY),
                "slack_channel": run.tags.get(TAG_SLACK_CHANNEL) or None,
                "slack_ts": run.tags.get(TAG_SLACK_TS) or None,
                "trigger": _trigger(run.tags),
                "run_url": run_url(run.run_id),
            }
        )
    return history
