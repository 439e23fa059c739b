"""Keeping Dagster in step with the report table, and telling owners when a report fails.

The table sensor only compares fingerprints and requests a run of the small reload job: reloading
a code location from inside a sensor tick can fail that very tick, so the reload happens in a run.
"""

import hashlib
import json
import os
import time
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from report_pipelines.launches import LaunchError, Webserver
from report_pipelines.names import (
    TAG_OWNER,
    TAG_REPORT,
    TAG_REPORT_ID,
    current_location_name,
    current_shard,
    schedule_name,
    webserver_url,
)
from report_pipelines.resources import SlackResource
from report_pipelines.store import DeliveryKey, ReportNotFound, ReportStore, ReportStoreUnavailable

SENSOR_INTERVAL_SECONDS = 15
# A reload request that has not brought the location in step after this long is made again
# (the webserver may have been down when the reload job ran).
RE_REQUEST_AFTER_SECONDS = 300


def fingerprint_rows(rows: list[dict]) -> str:
    """A hash of the job-shaping rows: it changes exactly when definitions must be rebuilt."""
    payload = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def enabled_changes(loaded: list[dict], current: list[dict]) -> list[str]:
    """Slugs of reports present in both states whose ``enabled`` flag differs."""
    before = {row["slug"]: bool(row["enabled"]) for row in loaded}
    return sorted(
        row["slug"] for row in current
        if row["slug"] in before and before[row["slug"]] != bool(row["enabled"])
    )


class ReloadConfig(dg.Config):
    reset_schedules: list[str] = Field(
        default_factory=list,
        description="Slugs whose enabled flag changed: their schedules go back to the default status.",
    )


@contextmanager
def _webserver_failures():
    try:
        yield
    except LaunchError as err:
        raise dg.Failure(description=str(err)) from err


@dg.op(description="Ask the webserver to reload this code location, then reset toggled schedules.")
def reload_code_location(context: dg.OpExecutionContext, config: ReloadConfig) -> None:
    started = time.monotonic()
    webserver = Webserver()
    # The location this run came from: with shards, each reloads only its own.
    origin = context.dagster_run.remote_job_origin
    location = origin.location_name if origin else current_location_name()
    with _webserver_failures():
        webserver.reload_location(location)
        reset = [
            f"{schedule_name(slug)}: {webserver.reset_schedule(schedule_name(slug), location)}"
            for slug in config.reset_schedules
        ]
    context.add_output_metadata({
        "location": location,
        "reload_seconds": round(time.monotonic() - started, 2),
        "schedules_reset": "\n".join(reset) or "none",
    })  # fmt: skip


@dg.job(
    name="reload_report_definitions",
    description="Reload the report code location after the report table changed.",
    tags={"report_pipelines/maintenance": "reload"},
    # One short step: a step subprocess would add seconds to every live-sync reload.
    executor_def=dg.in_process_executor,
)
def reload_report_definitions() -> None:
    reload_code_location()


class BrokenReports(RuntimeError):
    """Stored reports the code location could not build (the others loaded)."""

    def __init__(self, broken: dict[str, str]):
        lines = "\n".join(f"- {slug}: {error}" for slug, error in sorted(broken.items()))
        super().__init__(
            f"{len(broken)} stored report(s) cannot be built and are not scheduled (every other "
            f"report is); repair each with `report-pipelines reports update SLUG FILE` or delete it:\n{lines}"
        )


def build_report_table_sensor(loaded_rows: list[dict], broken: dict[str, str] | None = None) -> dg.SensorDefinition:
    """``broken``: slug -> why the code location could not build that row; each tick reports them.

    The loaded rows' fingerprint is computed at the first tick, not here: a run worker loads this
    sensor with the location and never ticks it.
    """
    loaded: list[str] = []
    broken = dict(broken or {})

    @dg.sensor(
        name="report_table_sensor",
        job=reload_report_definitions,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reloads the code location when reports are added, deleted or rescheduled.",
    )
    def report_table_sensor(context: dg.SensorEvaluationContext):
        store = ReportStore()
        if not store.tables_exist():
            if loaded_rows:
                # Reloading now would drop every report's job and schedule: fail the tick loudly.
                raise ReportStoreUnavailable(
                    f"the report table is missing from {store.safe_url} although "
                    f"{len(loaded_rows)} reports are loaded; check REPORT_STORE_URL"
                )
            return dg.SkipReason("no report table yet (`report-pipelines init` creates it)")
        rows = store.job_shaping_rows(shard=current_shard())
        current = fingerprint_rows(rows)
        if not loaded:
            loaded.append(fingerprint_rows(loaded_rows))
        if current == loaded[0]:
            if broken:
                # Nothing to reload, and reports that cannot run: fail the tick so it shows.
                raise BrokenReports(broken)
            return dg.SkipReason("the loaded definitions match the report table")
        if broken:
            context.log.error(str(BrokenReports(broken)))
        # A cursor, not a run_key: retention deletes old runs, and with them the run keys Dagster
        # would use to dedupe, so a deleted run must not make the sensor fire again.
        previous = json.loads(context.cursor) if context.cursor else {}
        if previous.get("fingerprint") == current and time.time() - previous.get("at", 0) < RE_REQUEST_AFTER_SECONDS:
            return dg.SkipReason("a reload for this table state was already requested")
        context.update_cursor(json.dumps({"fingerprint": current, "at": time.time()}))
        changed = enabled_changes(loaded_rows, rows)
        return dg.RunRequest(
            run_config={"ops": {"reload_code_location": {"config": {"reset_schedules": changed}}}},
            tags={"report_pipelines/fingerprint": current[:16]},
        )

    return report_table_sensor


def failure_notice(run: dg.DagsterRun, error: str, run_url: str) -> tuple[list[dict], str]:
    """The Slack message telling a report's owner which window failed and why."""
    from report_pipelines.formatting import escape
    from report_pipelines.slack.blocks import MAX_SECTION_CHARS

    report = run.tags.get(TAG_REPORT, run.job_name)
    window = run.tags.get("dagster/partition", "no window")
    summary = escape(error.strip())[: MAX_SECTION_CHARS - 200]
    text = f"⚠️ Report {report} failed for window {window}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(text)}*\n{summary}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{run_url}|View run {run.run_id[:8]} in Dagster>"}]},
    ]
    return blocks, f"{escape(text)}: {escape(error.strip()[:500])}"


def failure_destination(owner: str, ops_channel: str | None) -> tuple[str, str] | None:
    """Owners named by Slack user ID or email get a DM; anyone else's failures go to the ops channel."""
    from report_pipelines.slack.delivery import USER_ID_PATTERN

    if USER_ID_PATTERN.fullmatch(owner) or "@" in owner:
        return "dm", owner
    if ops_channel:
        return "channel", ops_channel
    return None


def run_error_summary(instance: dg.DagsterInstance, run_id: str, run_failure: str | None = None) -> str:
    lines = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.step_failure_data if event else None
        if data is None:
            continue
        description = data.user_failure_data.description if data.user_failure_data else None
        lines.append(f"{event.step_key}: {description or data.error.message.strip()}")
    if lines:
        return "\n".join(lines)
    # No step failed: the worker died, or run monitoring gave up on it; the run event says which.
    return run_failure or "the run failed before any step reported an error"


@dg.run_failure_sensor(
    name="report_failure_notifier",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Tells a report's owner (or REPORT_PIPELINES_OPS_CHANNEL) which window failed and why.",
)
def report_failure_notifier(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    if TAG_REPORT_ID not in run.tags:
        return
    failure_event = context.failure_event
    error = run_error_summary(
        context.instance, run.run_id, failure_event.message if failure_event else None
    )
    blocks, text = failure_notice(run, error, f"{webserver_url()}/runs/{run.run_id}")
    store = ReportStore()
    try:
        report = store.get(int(run.tags[TAG_REPORT_ID]))
    except ReportNotFound:
        context.log.warning(f"report of failed run {run.run_id} no longer exists; no notice sent")
        return
    target = failure_destination(run.tags.get(TAG_OWNER, report.user_id), os.environ.get("REPORT_PIPELINES_OPS_CHANNEL"))
    # Once per failed run: a sensor tick evaluated again (its daemon restarted before the cursor
    # moved) finds the notice in the delivery ledger.
    once = DeliveryKey(report.id, run.tags.get("dagster/partition", "")[:32], f"notice/failure/{run.run_id}")
    detail = SlackResource().notify(report, target, blocks, text, key=f"failure-{run.run_id}", once=once,
                                  run_id=run.run_id)
    context.log.info(detail)
