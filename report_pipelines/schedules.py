"""Schedule maths: when reports run next and which window each run covers.

A schedule tick at time T runs the window that ends at T, so the window's key is the previous
tick. Dagster's own cron iterator is used so these answers match the daemon's, DST included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice
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

    @property
    def local_label(self) -> str:
        """``2026-11-28 09:00 GMT (Europe/London)``; the zone is named once where its
        abbreviation is its name (``2026-11-28 09:00 UTC``)."""
        local = self.local_time
        label = f"{local:%Y-%m-%d %H:%M %Z}"
        return label if local.tzname() == self.timezone else f"{label} ({self.timezone})"

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


def ticks_from(cron: str, timezone: str, start: dt.datetime, count: int) -> list[dt.datetime]:
    """The first ``count`` ticks at or after ``start``."""
    return list(islice(cron_string_iterator(start.timestamp(), cron, timezone), count))


def previous_tick(cron: str, timezone: str, before: dt.datetime) -> dt.datetime:
    iterator = cron_string_iterator(before.timestamp(), cron, timezone, ascending=False)
    for tick in iterator:
        if tick < before:
            return tick
    raise ValueError(f"cron {cron} has no tick before {before}")


def running_reports(reports: list[Report], instance) -> list[Report]:
    """Reports whose schedule runs: the state stored by a UI toggle wins over ``enabled``."""
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    from report_pipelines.names import is_report_location, schedule_name

    stored = {}
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        origin = state.origin.repository_origin.code_location_origin
        if is_report_location(origin.location_name):
            stored[state.origin.instigator_name] = state.status
    running = []
    for report in reports:
        status = stored.get(schedule_name(report.slug))
        if status == InstigatorStatus.RUNNING or (
            status in (None, InstigatorStatus.DECLARED_IN_CODE) and report.schedule.enabled
        ):
            running.append(report)
    return running


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
