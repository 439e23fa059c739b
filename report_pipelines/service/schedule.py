"""Upcoming runs: when each report's schedule fires next, and which window it runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from report_pipelines.schedules import UpcomingRun, running_reports, upcoming_runs
from report_pipelines.store import ReportStore

# A month ahead covers a monthly report's next run. The question has to be bounded: a month of
# a per-minute cron is 44,640 runs for one report, so the answer is capped too.
MAX_HOURS = 24 * 31
MAX_UPCOMING = 5_000


def next_runs(instance: dg.DagsterInstance, hours: int, owner: str | None = None) -> list[tuple[int, UpcomingRun]]:
    """``(report id, run)`` for every run in the next ``hours`` of the reports whose schedules
    are running (a schedule stopped or started in the Dagster UI counts as the UI left it)."""
    reports = ReportStore().list(user_id=owner)
    ids = {report.slug: report.id for report in reports}
    now = dt.datetime.now(dt.timezone.utc)
    runs = upcoming_runs(running_reports(reports, instance), now, now + dt.timedelta(hours=hours))
    return [(ids[run.slug], run) for run in runs[:MAX_UPCOMING]]
