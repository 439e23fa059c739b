"""Bare Dagster counterparts of a report job: four no-op ops, the same partitions."""

from __future__ import annotations

import dagster as dg

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"


@dg.op
def extract() -> int:
    return 1


@dg.op
def transform(value: int) -> int:
    return value


@dg.op
def render(value: int) -> int:
    return value


@dg.op
def deliver(value: int) -> None:
    del value


@dg.graph
def bare_graph() -> None:
    deliver(render(transform(extract())))


@dg.op(pool="report_pipelines_warehouse")
def pooled_extract() -> int:
    return 1


@dg.op(pool="report_pipelines_analyst")
def pooled_transform(value: int) -> int:
    return value


@dg.op(pool="report_pipelines_slack")
def pooled_deliver(value: int) -> None:
    del value


@dg.graph
def pooled_graph() -> None:
    # The same op pools as the report ops, so Dagster's slot claims cost the same on both sides.
    pooled_deliver(render(pooled_transform(pooled_extract())))


def daily_partitions(cron: str, timezone: str, start: str) -> dg.TimeWindowPartitionsDefinition:
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=cron, timezone=timezone, start=start, fmt=PARTITION_FORMAT
    )


def bare_job(
    name: str, cron: str, timezone: str, start: str, *, pooled: bool = False
) -> dg.JobDefinition:
    graph = pooled_graph if pooled else bare_graph
    # In one process, as the report jobs execute: Dagster's default multiprocess executor cannot
    # start step processes inside a Celery worker's (daemonic) pool process.
    return graph.to_job(
        name=name, partitions_def=daily_partitions(cron, timezone, start), executor_def=dg.in_process_executor
    )


def bare_definitions(shapes: list[dict]) -> dg.Definitions:
    """N partitioned jobs and their schedules, as Dagster's docs build them."""
    jobs = []
    schedules = []
    for shape in shapes:
        job = bare_job(shape["name"], shape["cron"], shape["timezone"], shape["start"])
        jobs.append(job)
        # Running, as an enabled report's schedule is.
        schedules.append(dg.build_schedule_from_partitioned_job(
            job, name=f"{shape['name']}_schedule", default_status=dg.DefaultScheduleStatus.RUNNING,
        ))
    return dg.Definitions(jobs=jobs, schedules=schedules)
