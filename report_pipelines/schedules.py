"""Schedule maths: when reports run next and which window each run covers.

A schedule tick at time T runs the window that ends at T, so the window's key is the previous
tick. Dagster's own cron iterator is used so these answers match the daemon's, DST included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dagster._utils.schedules import cron_string_iterator

from report_pipelines.models import PARTITION_FORMAT, Report


@dataclass(frozen=True)
class UpcomingRun:
    slug: str
    name: str
    timezone: str
    utc_time: dt.datetime
    partition_key: str

    @property
    def local_time(self) -> dt.datetime:
        return self.utc_time.astimezone(ZoneInfo(self.timezone))

    def as_dict(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "timezone": self.timezone,
            "local_time": self.local_time.isoformat(),
            "utc_time": self.utc_time.isoformat(),
            "partition_key": self.partition_key,
        }


def ticks_between(cron: str, timezone: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Schedule ticks in ``[start, end)``, as timezone-aware datetimes in ``timezone``."""
    ticks = []
    for tick in cron_string_iterator(start.timestamp(), cron, timezone):
        if tick >= end:
            break
        ticks.append(tick)
    return ticks


def previous_tick(cron: str, timezone: str, before: dt.datetime) -> dt.datetime:
    iterator = cron_string_iterator(before.timestamp(), cron, timezone, ascending=False)
    for tick in iterator:
        if tick < before:
            return tick
    raise ValueError(f"cron {cron} has no tick before {before}")


def upcoming_runs(reports: list[Report], start: dt.datetime, end: dt.datetime) -> list[UpcomingRun]:
    runs = []
    for report in reports:
        cron = report.schedule.cron_schedule
        zone = report.schedule.timezone
        first_window = report.first_window_start
        for tick in ticks_between(cron, zone, start, end):
            window_start = previous_tick(cron, zone, tick)
            if window_start < first_window:
                continue  # no complete window yet: the schedule skips this tick
            runs.append(
                UpcomingRun(
                    slug=report.slug,
                    name=report.name,
                    timezone=zone,
                    utc_time=tick.astimezone(dt.timezone.utc),
                    partition_key=window_start.strftime(PARTITION_FORMAT),
                )
            )
    return sorted(runs, key=lambda r: (r.utc_time, r.slug))
