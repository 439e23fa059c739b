"""A report's windows: its Dagster partitions, and which window a request means.

The partition key is the window start (``%Y-%m-%d-%H:%M``, so sub-daily cron reports never get
colliding keys); a schedule tick at T runs the window that ends at T.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from report_pipelines.models import PARTITION_FORMAT, Report, ReportWindow, ScheduleSpec, first_window_start
from report_pipelines.schedules import ticks_from


class InvalidWindow(ValueError):
    """A requested window key is malformed or not one of the report's windows."""


def partitions_for(schedule: ScheduleSpec, created_at: dt.datetime) -> dg.TimeWindowPartitionsDefinition:
    """Windows follow the report's cron in its timezone, starting at its first window."""
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=schedule.cron_schedule,
        timezone=schedule.timezone,
        start=first_window_start(schedule, created_at).strftime(PARTITION_FORMAT),
        fmt=PARTITION_FORMAT,
    )


def report_partitions(report: Report) -> dg.TimeWindowPartitionsDefinition:
    return partitions_for(report.schedule, report.created_at)


def resolve_partition_key(partitions_def: dg.TimeWindowPartitionsDefinition, key: str | None) -> str:
    """``key`` checked against the report's windows; by default the latest complete window."""
    if key:
        try:
            dt.datetime.strptime(key, PARTITION_FORMAT)
        except ValueError:
            raise InvalidWindow(f"{key!r} must look like 2026-11-26-09:00 (%Y-%m-%d-%H:%M)") from None
        if not partitions_def.has_partition_key(key):
            first = partitions_def.get_first_partition_key()
            last = partitions_def.get_last_partition_key()
            raise InvalidWindow(
                f"{key} is not a window of this report "
                f"(windows run from {first} to {last} on its schedule)"
            )
        return key
    last = partitions_def.get_last_partition_key()
    if last is None:
        first, end = ticks_from(partitions_def.cron_schedule, partitions_def.timezone, partitions_def.start, count=2)
        raise InvalidWindow(
            f"the report has no complete window yet: its first window, {first.strftime(PARTITION_FORMAT)}, "
            f"ends at {end:%Y-%m-%d %H:%M} {partitions_def.timezone}; set schedule.start_date earlier "
            "to run past windows now"
        )
    return last


def window_range(partitions_def: dg.TimeWindowPartitionsDefinition, first: str, last: str) -> list[str]:
    """The window keys from ``first`` to ``last`` inclusive (both already resolved)."""
    keys = partitions_def.get_partition_keys()
    start, end = keys.index(first), keys.index(last)
    if start > end:
        raise InvalidWindow(f"--from {first} is after --to {last}")
    return keys[start : end + 1]


def report_window(report: Report, key: str) -> ReportWindow:
    """The ``[start, end)`` of window ``key`` of ``report``, in its timezone."""
    window = report_partitions(report).time_window_for_partition_key(key)
    return ReportWindow(partition_key=key, start=window.start, end=window.end, timezone=report.schedule.timezone)
