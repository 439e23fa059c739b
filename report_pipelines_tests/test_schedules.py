"""Schedules evaluated the way the daemon does, across DST changes, and next-runs maths."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from report_pipelines.definitions import shared_resources
from report_pipelines.jobs import ReportShape, build_report_job, build_report_schedule
from report_pipelines.report_files import load_report_text
from report_pipelines.schedules import ticks_between, upcoming_runs

LONDON = ZoneInfo("Europe/London")


def shape(schedule: str, report_id: int = 1) -> ReportShape:
    spec = load_report_text(
        f"name: DST Report\nquery: SELECT 1\nuser_id: ops\nschedule: {schedule}\n"
    )
    return ReportShape(
        id=report_id, slug=spec.slug, name=spec.name, description="", schedule=spec.schedule,
        user_id=spec.user_id, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )


def requested_keys(report: ReportShape, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str]]:
    schedule = build_report_schedule(report)
    out = []
    for tick in ticks_between(schedule.cron_schedule, schedule.execution_timezone, start, end):
        with dg.instance_for_test() as instance:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
            result = schedule.evaluate_tick(context)
        for request in result.run_requests or []:
            out.append((tick.strftime("%Y-%m-%d %H:%M %Z"), request.partition_key))
    return out


@pytest.mark.parametrize(
    ("label", "start", "expected"),
    [
        (
            # 01:30 does not exist on 29 March: that day's run moves to 02:00 BST, none is lost.
            "spring forward",
            dt.datetime(2026, 3, 28, tzinfo=LONDON),
            [
                ("2026-03-28 01:30 GMT", "2026-03-27-01:30"),
                ("2026-03-29 02:00 BST", "2026-03-28-01:30"),
                ("2026-03-30 01:30 BST", "2026-03-29-02:00"),
            ],
        ),
        (
            # 01:30 happens twice on 25 October: the report still runs once.
            "fall back",
            dt.datetime(2026, 10, 24, tzinfo=LONDON),
            [
                ("2026-10-24 01:30 BST", "2026-10-23-01:30"),
                ("2026-10-25 01:30 GMT", "2026-10-24-01:30"),
                ("2026-10-26 01:30 GMT", "2026-10-25-01:30"),
            ],
        ),
    ],
)
def test_daily_schedule_across_dst(label, start, expected):
    report = shape('{frequency: daily, time: "01:30", timezone: Europe/London, start_date: "2026-01-01"}')
    assert requested_keys(report, start, start + dt.timedelta(days=3)) == expected


def test_window_across_spring_forward_is_shorter():
    report = shape('{frequency: daily, time: "01:30", timezone: Europe/London, start_date: "2026-01-01"}')
    partitions = build_report_job(report, shared_resources()).partitions_def
    window = partitions.time_window_for_partition_key("2026-03-28-01:30")
    # 01:30 GMT on the 28th to 02:00 BST on the 29th: 23.5 real hours, not 24.
    assert window.end.timestamp() - window.start.timestamp() == 23.5 * 3600


def test_first_window_has_no_run_before_it_completes():
    report = shape('{frequency: weekly, day_of_week: monday, time: "08:00", timezone: UTC, start_date: "2026-11-23"}')
    keys = requested_keys(report, dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc),
                          dt.datetime(2026, 12, 8, tzinfo=dt.timezone.utc))
    # The Monday 23 Nov tick would run the window before start_date: it does not exist.
    assert keys == [("2026-11-30 08:00 UTC", "2026-11-23-08:00"), ("2026-12-07 08:00 UTC", "2026-11-30-08:00")]


def test_upcoming_runs_in_report_time_and_utc(home):
    spec = load_report_text(
        "name: Weekly\nquery: SELECT 1\nuser_id: ops\n"
        'schedule: {frequency: weekly, day_of_week: monday, time: "08:30", timezone: America/New_York, start_date: "2026-01-01"}\n'
    )
    from report_pipelines.store import ReportStore

    report = ReportStore().add(spec)
    now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.timezone.utc)
    runs = upcoming_runs([report], now, now + dt.timedelta(days=14))
    assert [(r.utc_time.isoformat(), r.local_time.strftime("%a %H:%M"), r.partition_key) for r in runs] == [
        ("2026-11-30T13:30:00+00:00", "Mon 08:30", "2026-11-23-08:30"),
        ("2026-12-07T13:30:00+00:00", "Mon 08:30", "2026-11-30-08:30"),
    ]
