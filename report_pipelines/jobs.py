"""One partitioned job and one schedule per report, built from the shared ops.

A schedule names its job (``job_name=``) rather than holding it, so schedules cost nothing to
build and a run worker never builds a job it does not run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from report_pipelines.models import ScheduleSpec
from dagster._core.definitions.partitions.context import partition_loading_context

from report_pipelines.names import job_name, partition_tags, run_tags, schedule_name
from report_pipelines.report_files import error_summary
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

    @cached_property
    def partitions_def(self) -> dg.TimeWindowPartitionsDefinition:
        """Built once, shared by the report's job and schedule."""
        return partitions_for(self.schedule, self.created_at)


def partitions_of(shape: ReportShape) -> dg.TimeWindowPartitionsDefinition:
    return shape.partitions_def


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


def build_report_schedule(shape: ReportShape) -> dg.ScheduleDefinition:
    """At each tick, a run of the window that ends then; no run before the first window ends."""
    partitions_def = partitions_of(shape)

    def latest_window(context: dg.ScheduleEvaluationContext):
        # The same rule as Dagster's build_schedule_from_partitioned_job, DST included: the last
        # window complete at the scheduled time.
        with partition_loading_context(effective_dt=context.scheduled_execution_time):
            key = partitions_def.get_last_partition_key()
        if key is None:
            return dg.SkipReason(f"the first window of {shape.slug} has not ended yet")
        return dg.RunRequest(run_key=key, partition_key=key, tags=partition_tags(shape.slug, key))

    return dg.ScheduleDefinition(
        name=schedule_name(shape.slug),
        job_name=job_name(shape.slug),
        cron_schedule=shape.schedule.cron_schedule,
        execution_timezone=shape.schedule.timezone,
        execution_fn=latest_window,
        description=f"{shape.schedule.cron_schedule} ({shape.schedule.timezone})",
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if shape.schedule.enabled else dg.DefaultScheduleStatus.STOPPED
        ),
    )


def build_reports(
    rows: list[dict], shared_resources: dict
) -> tuple[list[tuple[dg.JobDefinition, dg.ScheduleDefinition]], dict[str, str]]:
    """Each row's job and schedule; a row that cannot be built is left out, with its error by slug.

    One bad row (written by an older release, or by hand in SQL) must never stop the code
    location from loading every other report.
    """
    built = []
    broken = {}
    for row in rows:
        try:
            shape = ReportShape.from_row(row)
            built.append((build_report_job(shape, shared_resources), build_report_schedule(shape)))
        except Exception as err:  # noqa: BLE001 - any failure of one row is that row's alone
            broken[str(row.get("slug"))] = error_summary(err)
    return built, broken
