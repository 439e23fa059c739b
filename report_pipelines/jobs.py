"""One partitioned job and one schedule per report, built from the shared ops."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from report_pipelines.models import PARTITION_FORMAT, Report, ScheduleSpec, first_window_start
from report_pipelines.names import job_name, run_tags, schedule_name
from report_pipelines.ops import analyze_results, format_slack_message, post_to_slack, query_warehouse
from report_pipelines.report_store import schedule_from_row
from report_pipelines.resources import ReportResource
from report_pipelines.schedules import ticks_from


@dataclass(frozen=True)
class ReportShape:
    """The fields of a stored report that shape its Dagster definitions (see JOB_SHAPING_FIELDS)."""

    id: int
    slug: str
    name: str
    description: str
    schedule: ScheduleSpec
    user_id: str
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict) -> ReportShape:
        schedule = ScheduleSpec.model_validate(schedule_from_row(row))
        created = dt.datetime.fromisoformat(row["created_at"])
        return cls(
            id=int(row["id"]),
            slug=row["slug"],
            name=row["name"],
            description=row.get("description") or "",
            schedule=schedule,
            user_id=row["user_id"],
            created_at=created,
        )

    @classmethod
    def from_report(cls, report: Report) -> ReportShape:
        return cls(
            id=report.id,
            slug=report.slug,
            name=report.name,
            description=report.description,
            schedule=report.schedule,
            user_id=report.user_id,
            created_at=report.created_at,
        )

    @property
    def first_window_start(self) -> dt.datetime:
        return first_window_start(self.schedule, self.created_at)


class InvalidWindow(ValueError):
    """A requested window key is malformed or not one of the report's windows."""


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


def partitions_for(shape: ReportShape) -> dg.TimeWindowPartitionsDefinition:
    """Windows follow the report's cron in its timezone, starting at its start date.

    The format keeps %H:%M so sub-daily cron reports never get colliding keys.
    """
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=shape.schedule.cron_schedule,
        timezone=shape.schedule.timezone,
        start=shape.first_window_start.strftime(PARTITION_FORMAT),
        fmt=PARTITION_FORMAT,
    )


@dg.graph(description="query_warehouse -> analyze_results -> format_slack_message -> post_to_slack")
def report_graph() -> None:
    post_to_slack(format_slack_message(analyze_results(query_warehouse())))


def build_report_job(shape: ReportShape, shared_resources: dict) -> dg.JobDefinition:
    return report_graph.to_job(
        name=job_name(shape.slug),
        description=f"{shape.name}: {shape.description}".strip(": "),
        partitions_def=partitions_for(shape),
        tags=run_tags(shape.id, shape.slug, shape.user_id),
        # One process per run: the four steps are short and sequential, and a subprocess per
        # step would cost more than the report itself.
        executor_def=dg.in_process_executor,
        resource_defs={
            **shared_resources,
            "report": ReportResource(report_id=shape.id, slug=shape.slug),
        },
    )


def build_report_schedule(shape: ReportShape, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        job,
        name=schedule_name(shape.slug),
        description=f"{shape.schedule.cron_schedule} ({shape.schedule.timezone})",
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if shape.schedule.enabled else dg.DefaultScheduleStatus.STOPPED
        ),
    )
