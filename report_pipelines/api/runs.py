"""A report's run history, read from Dagster's run storage (the runs are the history)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from report_pipelines.jobs import ReportShape, partitions_for
from report_pipelines.models import Report
from report_pipelines.names import (
    TAG_DELIVERY,
    TAG_OWNER,
    TAG_REPORT_ID,
    TAG_SLACK_CHANNEL,
    TAG_SLACK_TS,
    TAG_TRIGGER,
    webserver_url,
)
from report_pipelines.sensors import run_error_summary

PARTITION_TAG = "dagster/partition"


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


def report_runs(instance: dg.DagsterInstance, report: Report, limit: int) -> list[dict]:
    """The report's latest ``limit`` runs, newest first: status, window, error and Slack ts.

    Runs are matched on the report id and its owner, so a run of someone else's report can
    never show here, whatever happened to ids in between."""
    partitions_def = partitions_for(ReportShape.from_report(report))
    records = instance.get_run_records(
        dg.RunsFilter(tags={TAG_REPORT_ID: str(report.id), TAG_OWNER: report.user_id}), limit=limit
    )
    history = []
    for record in records:
        run = record.dagster_run
        key = run.tags.get(PARTITION_TAG)
        window = None
        if key and partitions_def.has_partition_key(key):
            window = partitions_def.time_window_for_partition_key(key)
        failed = run.status == dg.DagsterRunStatus.FAILURE
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
                "error": run_error_summary(instance, run.run_id) if failed else None,
                "delivery": run.tags.get(TAG_DELIVERY),
                "slack_channel": run.tags.get(TAG_SLACK_CHANNEL) or None,
                "slack_ts": run.tags.get(TAG_SLACK_TS) or None,
                "trigger": _trigger(run.tags),
                "run_url": f"{webserver_url()}/runs/{run.run_id}",
            }
        )
    return history
