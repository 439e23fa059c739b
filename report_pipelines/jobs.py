"""One partitioned job and one schedule per report, built from the shared ops."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from report_pipelines.models import ScheduleSpec
from report_pipelines.names import job_name, run_tags, schedule_name
from report_pipelines.ops import analyze_results, format_slack_message, post_to_slack, query_warehouse
from report_pipelines.store.reports import schedule_from_row
from report_pipelines.resources import ReportResource
from report_pipelines.windows import partitions_for


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


def partitions_of(shape: ReportShape) -> dg.TimeWindowPartitionsDefinition:
    return partitions_for(shape.schedule, shape.created_at)


@dg.graph(description="query_warehouse -> analyze_results -> format_slack_message -> post_to_slack")
def report_graph() -> None:
    post_to_slack(format_slack_message(analyze_results(query_warehouse())))


def build_report_job(shape: ReportShape, shared_resources: dict) -> dg.JobDefinition:
    return report_graph.to_job(
        name=job_name(shape.slug),
        description=f"{shape.name}: {shape.description}".strip(": "),
        partitions_def=partitions_of(shape),
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
